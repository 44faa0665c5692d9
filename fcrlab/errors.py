"""The small family of errors fcrlab raises on bad input; the CLI prints them in one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = ["FcrlabError", "InputError", "ParamsError", "did_you_mean"]


def did_you_mean(value: object, choices: Iterable[str], cutoff: float = 0.5, how: str = "") -> str:
    """`; did you mean 'x'?` (with `how`, e.g. ` (map it with columns:)`), naming the nearest of
    `choices`, or nothing when none is near."""
    near = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=cutoff)
    return f"; did you mean '{near[0]}'{how}?" if near else ""


class FcrlabError(Exception):
    """Any error caused by the user's input or parameters (never by a bug): one line, exit 2."""


def _quote(value: object) -> str:
    text = str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text)


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
            where.append(str(file))
        if column:
            where.append(f"column '{column}'")
        text = ": ".join([*where, message])
        if self.rows:
            total = n_rows if n_rows is not None else len(self.rows)
            shown = ", ".join(str(r) for r in self.rows[:3])
            more = f" and {total - 3} more" if total > 3 else ""
            label = "row" if total == 1 else "rows"
            text += f" ({label} {shown}{more}"
            if self.examples:
                text += "; e.g. " + ", ".join(_quote(v) for v in self.examples[:3])
            text += ")"
        elif self.examples:
            text += " (e.g. " + ", ".join(_quote(v) for v in self.examples[:3]) + ")"
        super().__init__(text)


class ParamsError(FcrlabError):
    """A problem in the parameters: names the key, and suggests the nearest valid one."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        self.key = key
        self.message = message
        prefix = f"{source}: " if source else ""
        where = f"parameter '{key}': " if key else ""
        super().__init__(f"{prefix}{where}{message}")

    def with_source(self, source: str | None) -> ParamsError:
        """The same error, naming the parameters file it came from."""
        return ParamsError(self.message, key=self.key, source=source) if source else self
