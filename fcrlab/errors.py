"""The small family of errors fcrlab raises on bad input; the CLI prints them in one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = ["FcrlabError", "InputError", "ParamsError", "did_you_mean", "names", "path", "quote"]

_LIMIT = 80  # characters of any value or name an error line quotes (decisions I4)
_NAMES = 12  # names in a list, at most


def _cut(text: str) -> str:
    return text if len(text) <= _LIMIT else text[: _LIMIT - 1] + "…"


def quote(value: object) -> str:
    """A value or name as an error line shows it: quoted, at most 80 characters of it, control
    characters escaped (decisions I4)."""
    return repr(_cut(str(value)))


def names(values: Iterable[object]) -> str:
    """A list of names (columns, sheets), each quoted, at most 12 of them."""
    values = list(values)
    shown = ", ".join(quote(v) for v in values[:_NAMES])
    return shown + (f" and {len(values) - _NAMES} more" if len(values) > _NAMES else "")


def path(value: object) -> str:
    """A file name as an error line shows it: its last 80 characters (the file's own name is at
    the end), control characters escaped, unquoted."""
    text = str(value)
    if len(text) > _LIMIT:
        text = "…" + text[-(_LIMIT - 1) :]
    return repr(text)[1:-1]


def did_you_mean(value: object, choices: Iterable[str], cutoff: float = 0.5, how: str = "") -> str:
    """`; did you mean 'x'?` (with `how`, e.g. ` (map it with columns:)`), naming the nearest of
    `choices`, or nothing when none is near."""
    near = difflib.get_close_matches(str(value)[:200], list(choices), n=1, cutoff=cutoff)
    return f"; did you mean {quote(near[0])}{how}?" if near else ""


class FcrlabError(Exception):
    """Any error caused by the user's input or parameters (never by a bug): one line, exit 2."""


class InputError(FcrlabError):
    """A problem in an input file: names the file, the column, the rows and a few example values."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rows: Sequence[int] = (),
        examples: Sequence[object] = (),
        n_rows: int | None = None,
    ) -> None:
        self.file = file
        self.column = column
        self.rows = list(rows)
        self.examples = list(examples)
        where = []
        if file:
            where.append(path(file))
        if column:
            where.append(f"column {quote(column)}")
        text = ": ".join([*where, message])
        if self.rows:
            total = n_rows if n_rows is not None else len(self.rows)
            shown = ", ".join(str(r) for r in self.rows[:3])
            more = f" and {total - 3} more" if total > 3 else ""
            label = "row" if total == 1 else "rows"
            text += f" ({label} {shown}{more}"
            if self.examples:
                text += "; e.g. " + ", ".join(quote(v) for v in self.examples[:3])
            text += ")"
        elif self.examples:
            text += " (e.g. " + ", ".join(quote(v) for v in self.examples[:3]) + ")"
        super().__init__(text)


class ParamsError(FcrlabError):
    """A problem in the parameters: names the key, and suggests the nearest valid one."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        self.key = key
        self.message = message
        prefix = f"{path(source)}: " if source else ""
        where = f"parameter {quote(key)}: " if key else ""
        super().__init__(f"{prefix}{where}{message}")

    def with_source(self, source: str | None) -> ParamsError:
        """The same error, naming the parameters file it came from."""
        return ParamsError(self.message, key=self.key, source=source) if source else self
