"""Files in and out: CSV, Parquet and Excel, a glob of them read as one, and result tables written.

Reading gives the raw table (columns and cells as in the files, names trimmed); turning it into
canonical contacts or page views is `contacts` and `web`. Every problem is an `InputError`
naming the file.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import glob
import io
import itertools
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from fcrlab.errors import InputError, did_you_mean, names, quote
from fcrlab.errors import path as path_of
from fcrlab.params import Params

__all__ = [
    "EXCEL_ROWS",
    "Loaded",
    "Locator",
    "Table",
    "as_text",
    "check_columns",
    "check_out",
    "defused",
    "expand",
    "expected",
    "header_names",
    "missing_required",
    "read_table",
    "text_of",
    "unknown_source",
    "write_frame",
]


@dataclasses.dataclass(frozen=True)
class Table:
    """A file or a glob of files read as one raw frame (columns as in the files)."""

    frame: pl.DataFrame
    files: tuple[str, ...]
    rows_per_file: tuple[int, ...]
    source: str

    @property
    def label(self) -> str:
        """The name an error gives: the file itself, or the pattern of several."""
        return self.files[0] if len(self.files) == 1 else self.source

    def locator(self) -> Locator:
        return Locator(self.files, self.rows_per_file, self.source)


@dataclasses.dataclass(frozen=True)
class Loaded:
    """A canonical frame as a loader made it, and where its rows came from."""

    frame: pl.DataFrame
    source: str
    files: tuple[str, ...] = ()
    rows_per_file: tuple[int, ...] = ()

    @property
    def rows_read(self) -> int:
        return self.frame.height


class Locator:
    """Turns global data-row numbers into (file, row within that file) for error messages."""

    def __init__(self, files: Sequence[str], rows_per_file: Sequence[int], source: str) -> None:
        self.files = list(files) or [source]
        self.ends = list(itertools.accumulate(rows_per_file or [0]))  # last global row per file

    def _file_of(self, row: int) -> int:
        return min(bisect.bisect_left(self.ends, row), len(self.files) - 1)

    def raise_for(
        self, message: str, column: str, rows: Sequence[int], examples: Sequence[object]
    ) -> None:
        """Raise naming the file of the first row and its rows there; rows that lie in other
        files of a glob are named after them (decisions I4)."""
        by_file: dict[int, list[int]] = {}
        for row in rows:
            index = self._file_of(row)
            start = self.ends[index - 1] if index else 0
            by_file.setdefault(index, []).append(row - start)
        first, *others = by_file
        for index in others[:2]:
            shown = ", ".join(str(r) for r in by_file[index][:3])
            label = "row" if len(by_file[index]) == 1 else "rows"
            message += f"; also in {path_of(self.files[index])} ({label} {shown})"
        raise InputError(
            message,
            file=self.files[first],
            column=column,
            rows=by_file[first],
            examples=examples,
            n_rows=len(by_file[first]),
        )

    def raise_conflicting_id(self, contact_id: str, rows: Sequence[int], how: str) -> None:
        """SPEC §1 / D5: a `contact_id` on rows that are not exact copies of each other."""
        self.raise_for(
            f"contact_id {quote(contact_id)} appears {how} (contact_id must be unique; exact "
            "copies are allowed)",
            "contact_id",
            rows,
            [contact_id],
        )


def missing_required(column: str, found: Sequence[str], file: str) -> InputError:
    """SPEC §1: a missing required column, with the nearest one the file has."""
    hint = did_you_mean(column, found, how=" (map it with columns:)")
    return InputError(
        f"required column {quote(column)} is missing{hint} (columns: {names(found)})", file=file
    )


def unknown_source(theirs: str, columns: Sequence[str], file: str) -> InputError:
    """A `columns:` entry naming a column the file does not have, with the nearest one."""
    return InputError(
        f"the columns: mapping names {quote(theirs)}, which is not in the file"
        f"{did_you_mean(theirs, columns)} (columns: {names(columns)})",
        file=file,
    )


def expected(params: Params, own: Sequence[str], required: Sequence[str]) -> list[tuple[str, ...]]:
    """What every file of this kind must have, as alternatives (names as in a file): for each
    column that `columns:` maps onto one of this kind's own columns, the mapped name or the
    fcrlab name; for each required column not mapped, its fcrlab name (SPEC §6.2)."""
    mapping = [(theirs, ours) for theirs, ours in params.columns if ours in own]
    mapped_onto = {ours for _, ours in mapping}
    return [
        *((theirs, ours) for theirs, ours in mapping),
        *((c,) for c in required if c not in mapped_onto),
    ]


def check_columns(columns: Sequence[str], required: Sequence[Sequence[str]], file: str) -> None:
    """Each of the `required` alternatives (from `expected`) is in `columns`, else an error
    naming the file (SPEC §6.2: every file of a glob is checked)."""
    for choices in required:
        if not any(c in columns for c in choices):
            if len(choices) == 1:
                raise missing_required(choices[0], columns, file)
            raise unknown_source(choices[0], columns, file)


def expand(path: str | Path) -> list[str]:
    """The files a path names: itself when it is a file (even with `[`, `*` or `?` in its
    name), else every match of it as a glob, in sorted order (decisions D7, I6)."""
    text = str(path)
    if Path(text).is_dir():
        raise InputError("is a folder, not a file (use a pattern such as folder/*.csv)", file=text)
    if Path(text).exists():
        return [text]
    if any(ch in text for ch in "*?["):
        files = sorted(f for f in glob.glob(text) if not Path(f).is_dir())
        if not files:
            raise InputError("no file matches this pattern", file=text)
        return files
    raise InputError("file not found", file=text)


def _decode(data: bytes) -> bytes:
    """UTF-8 (with or without BOM) as is; UTF-16 with its BOM (Excel's "Unicode text"), and
    Windows-1252 / Latin-1, re-encoded to UTF-8 (decisions I3)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            pass
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252").encode("utf-8")
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined (0x81, 0x8d, …): plain Latin-1
        return data.decode("latin-1").encode("utf-8")


def _sniff_separator(header: str) -> str:
    counts = {sep: 0 for sep in (";", ",", "\t", "|")}
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def header_names(raw: Sequence[str]) -> list[str]:
    """Header names as fcrlab reads them (decisions I1): trimmed, and a name seen before taken
    as `NAME_2`, `NAME_3`, … in order."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for name in raw:
        name = str(name).strip()
        count = seen.get(name, 0) + 1
        seen[name] = count
        candidate = name if count == 1 else f"{name}_{count}"
        while candidate in names:  # a file that also has a real column called NAME_2
            count += 1
            seen[name] = count
            candidate = f"{name}_{count}"
        names.append(candidate)
    return names


def _split_header(line: str, separator: str) -> list[str]:
    """A CSV header line split into names (quoted names may hold the separator; `""` is a
    quote). The csv module is not used: its field size limit is a process-wide setting."""
    names, current, quoted, i = [], [], False, 0
    while i < len(line):
        ch = line[i]
        if ch == '"':
            if quoted and line[i + 1 : i + 2] == '"':
                current.append('"')
                i += 1
            else:
                quoted = not quoted
        elif ch == separator and not quoted:
            names.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    names.append("".join(current))
    return names


def _read_csv(path: str) -> pl.DataFrame:
    data = Path(path).read_bytes()
    if not data.strip():
        raise InputError("the file is empty", file=path)
    data = _decode(data)
    first_line = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    separator = _sniff_separator(first_line)
    header = _split_header(first_line, separator)
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            separator=separator,
            infer_schema=False,
            quote_char='"',
            raise_if_empty=True,
            new_columns=header_names(header),
        )
    except pl.exceptions.PolarsError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"cannot be read as CSV: {quote(first)}", file=path) from None
    return _without_trailing_blank_rows(frame)


def _without_trailing_blank_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Decisions I3: rows at the end whose every cell is empty are not rows (blank lines, or
    only separators). Looked at from the end, a block at a time: nothing else is read."""
    blank = pl.all_horizontal(pl.all().str.strip_chars().fill_null("") == "")
    end = frame.height
    while end > 0:
        start = max(0, end - 1024)
        filled = (~frame.slice(start, end - start).select(blank).to_series()).arg_true()
        if filled.len():
            return frame.head(start + filled[-1] + 1)
        end = start
    return frame.head(0)


def _read_excel(path: str, sheet: str | int | None) -> pl.DataFrame:
    import fastexcel

    try:
        book = fastexcel.read_excel(path)
    except Exception as err:  # fastexcel raises its own exception family for a broken file
        raise InputError(
            f"cannot be read as an .xlsx workbook ({type(err).__name__})", file=path
        ) from None
    sheets = list(book.sheet_names)
    if isinstance(sheet, str) and sheet not in sheets:
        hint = did_you_mean(sheet, sheets, cutoff=0.6)
        raise InputError(f"has no sheet {quote(sheet)}{hint} (sheets: {names(sheets)})", file=path)
    if isinstance(sheet, int) and not 1 <= sheet <= len(sheets):
        raise InputError(f"has no sheet number {sheet} (it has {len(sheets)})", file=path)
    name = sheet if isinstance(sheet, str) else sheets[(sheet or 1) - 1]
    try:
        # Types from every row (decisions I2): a column with text anywhere is text throughout.
        with _quiet("fastexcel"):  # it logs each all-empty column it reads as text
            frame = pl.read_excel(
                path, sheet_name=name, engine="calamine", infer_schema_length=None
            )
            header = book.load_sheet(name, header_row=None, n_rows=1).to_polars().row(0)
    except pl.exceptions.NoDataError:
        raise InputError(f"sheet {quote(name)} is empty", file=path) from None
    except Exception as err:  # a broken sheet: fastexcel's own exception family
        message = f"sheet {quote(name)} cannot be read ({type(err).__name__})"
        raise InputError(message, file=path) from None
    raw = [("" if v is None else str(v)) for v in header][: frame.width]
    return frame.rename(dict(zip(frame.columns, header_names(raw), strict=True)))


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """A library's warnings left unsaid while it reads for us; its logger as it was after."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _read_one(path: str, params: Params) -> pl.DataFrame:
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(path)
    if suffix in (".parquet", ".pq"):
        try:
            frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError):
            raise InputError("cannot be read as Parquet", file=path) from None
        return frame.rename(dict(zip(frame.columns, header_names(frame.columns), strict=True)))
    if suffix in (".xlsx", ".xlsm"):
        return _read_excel(path, params.sheet)
    raise InputError(
        f"unsupported file type {quote(suffix or '(none)')}; use .csv, .parquet or .xlsx",
        file=path,
    )


def text_of(column: str, dtype: pl.DataType) -> pl.Expr:
    """One column as text by the one rule every file of a glob follows (decisions I2), which
    ids follow too (SPEC §1): whole numbers without `.0` (also beyond the 64-bit range),
    date-times as ISO text with their offset when zoned, yes/no as true/false."""
    value = pl.col(column)
    if dtype == pl.String:
        return value
    if dtype.is_float():
        whole = (value.round(0) == value) & (value.abs() < 1e38)
        digits = value.cast(pl.Decimal(38, 0), strict=False).cast(pl.String)
        return pl.when(whole).then(digits).otherwise(value.cast(pl.String)).alias(column)
    if isinstance(dtype, pl.Datetime):
        form = "%Y-%m-%dT%H:%M:%S%.f%:z" if dtype.time_zone else "%Y-%m-%d %H:%M:%S%.f"
        return value.dt.to_string(form)
    if dtype == pl.Date:
        return value.dt.to_string("%Y-%m-%d")
    if dtype == pl.Boolean:
        return value.replace_strict({True: "true", False: "false"}, return_dtype=pl.String)
    return value.cast(pl.String)


def as_text(values: pl.Series) -> pl.Series:
    """`text_of` on a Series."""
    return values.to_frame().select(text_of(values.name, values.dtype)).to_series()


def _one_rule_for_all(frames: list[pl.DataFrame]) -> list[pl.DataFrame]:
    """Decisions I2: a column typed differently in different files becomes text in all of them
    by `as_text`, before the files are joined (an all-empty column takes no part in that)."""
    types: dict[str, set[pl.DataType]] = {}
    for frame in frames:
        for name, dtype in frame.schema.items():
            if dtype != pl.Null:
                types.setdefault(name, set()).add(dtype)
    mixed = {name for name, found in types.items() if len(found) > 1}
    if not mixed:
        return frames
    return [
        frame.with_columns(text_of(c, t) for c, t in frame.schema.items() if c in mixed)
        for frame in frames
    ]


def read_table(path: str | Path, params: Params, required: Sequence[Sequence[str]] = ()) -> Table:
    """Read a file or a glob of files as one raw frame (columns as in the files, names trimmed
    and made unique: decisions I1). Every file must have one of each of the `required`
    alternatives (names as in the files); in a glob a file with a header and no rows is a quiet
    week (decisions I2)."""
    files = expand(path)
    frames = []
    for file in files:
        frame = _read_one(file, params)
        check_columns(frame.columns, required, file)
        frames.append(frame)
    if len(frames) == 1:
        frame = frames[0]
        if frame.height == 0:
            raise InputError("has a header but no data rows", file=files[0])
    else:
        if not any(f.height for f in frames):
            raise InputError("no file has data rows (only headers)", file=str(path))
        frame = pl.concat(_one_rule_for_all(frames), how="diagonal_relaxed")
    return Table(frame, tuple(files), tuple(f.height for f in frames), str(path))


EXCEL_ROWS = 1_048_575  # data rows an .xlsx sheet holds below its header
_OUTPUTS = (".parquet", ".csv", ".xlsx")


def check_out(path: str | Path, rows: int | None = None) -> Path:
    """An output path that can be written, checked before any work (decisions I6, I8): a known
    type, not an existing folder, not below a file; with `rows`, not more than a sheet holds."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise InputError("is a folder; give a file name to write to", file=str(path))
    if suffix not in _OUTPUTS:
        raise InputError(
            f"unsupported output type {quote(suffix or '(none)')}; use .parquet, .csv or .xlsx",
            file=str(path),
        )
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"cannot be written: {path_of(parent)} is a file", file=str(path))
    if suffix == ".xlsx" and rows is not None and rows > EXCEL_ROWS:
        raise InputError(
            f"{rows:,} rows do not fit in an .xlsx sheet ({EXCEL_ROWS:,} at most); write .parquet "
            "or .csv",
            file=str(path),
        )
    return path


def write_frame(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write a result table to `.parquet`, `.csv` or `.xlsx` (by the file's extension)."""
    path = check_out(path, frame.height)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        # Uncompressed, no statistics: written 0.5 s faster than lz4 at 5M rows, for a file
        # ~1.7x larger (benchmarks/README.md); `fcrlab repeats --chunks` still uses lz4.
        frame.write_parquet(path, compression="uncompressed", statistics=False)
    elif suffix == ".csv":
        defused(frame).write_csv(path)
    else:
        # Excel has no time zones: show local wall-clock times, which is what the zone column was.
        local = frame.with_columns(
            pl.col(c).dt.replace_time_zone(None)
            for c, t in frame.schema.items()
            if isinstance(t, pl.Datetime) and t.time_zone is not None
        )
        local.write_excel(path, autofit=True)
    return path


_FORMULA_START = r"^[=+\-@\t\r]"


def defused(frame: pl.DataFrame) -> pl.DataFrame:
    """SPEC §6.6: a text cell that a spreadsheet would run as a formula (starting with `=`,
    `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`; text columns only, ids
    included (decisions I8)."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )
