"""Files in and out: CSV, Parquet and Excel, a glob of them read as one, and result tables written.

Reading gives the raw table (columns and cells as in the files, names trimmed); turning it into
canonical contacts or page views is `contacts` and `web`. Every problem is an `InputError`
naming the file.
"""

from __future__ import annotations

import dataclasses
import glob
import io
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from fcrlab.errors import InputError, did_you_mean
from fcrlab.params import Params

__all__ = ["Loaded", "Locator", "Table", "expand", "read_table", "write_frame"]


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
        self.starts = []
        start = 0
        for n in rows_per_file or [0]:
            self.starts.append(start)
            start += n

    def raise_for(
        self, message: str, column: str, rows: Sequence[int], examples: Sequence[object]
    ) -> None:
        index = self._file_of(rows[0])
        offset = self.starts[index]
        in_file = [r - offset for r in rows if self._file_of(r) == index]
        raise InputError(
            message,
            file=self.files[index],
            column=column,
            rows=in_file,
            examples=examples,
            n_rows=len(in_file),
        )

    def raise_conflicting_id(self, contact_id: str, rows: Sequence[int], how: str) -> None:
        """SPEC §1 / D5: a `contact_id` on rows that are not exact copies of each other."""
        self.raise_for(
            f"contact_id {contact_id!r} appears {how} (contact_id must be unique; exact copies "
            "are allowed)",
            "contact_id",
            rows,
            [contact_id],
        )

    def _file_of(self, row: int) -> int:
        return max(i for i, s in enumerate(self.starts) if s < row)


def expand(path: str | Path) -> list[str]:
    """The files a path names: itself, or every match of a glob in sorted order (D7)."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = sorted(glob.glob(text))
        if not files:
            raise InputError("no file matches this pattern", file=text)
        return files
    if not Path(text).exists():
        raise InputError("file not found", file=text)
    if Path(text).is_dir():
        raise InputError("is a folder, not a file (use a pattern such as folder/*.csv)", file=text)
    return [text]


def _decode(data: bytes) -> bytes:
    """UTF-8 (with or without BOM) as is; Windows-1252 / Latin-1 re-encoded to UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
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


def _read_csv(path: str) -> pl.DataFrame:
    data = Path(path).read_bytes()
    if not data.strip():
        raise InputError("the file is empty", file=path)
    data = _decode(data)
    header = data.split(b"\n", 1)[0].decode("utf-8")
    separator = _sniff_separator(header)
    try:
        return pl.read_csv(
            io.BytesIO(data),
            separator=separator,
            infer_schema=False,
            quote_char='"',
            raise_if_empty=True,
        )
    except pl.exceptions.PolarsError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"cannot be read as CSV: {first}", file=path) from None


def _read_excel(path: str, sheet: str | int | None) -> pl.DataFrame:
    import fastexcel

    try:
        book = fastexcel.read_excel(path)
    except Exception as err:  # fastexcel raises its own exception family for a broken file
        raise InputError(
            f"cannot be read as an .xlsx workbook ({type(err).__name__})", file=path
        ) from None
    names = list(book.sheet_names)
    if isinstance(sheet, str) and sheet not in names:
        hint = did_you_mean(sheet, names, cutoff=0.6)
        raise InputError(f"has no sheet {sheet!r}{hint} (sheets: {', '.join(names)})", file=path)
    if isinstance(sheet, int) and not 1 <= sheet <= len(names):
        raise InputError(f"has no sheet number {sheet} (it has {len(names)})", file=path)
    name = sheet if isinstance(sheet, str) else names[(sheet or 1) - 1]
    try:
        return pl.read_excel(path, sheet_name=name, engine="calamine")
    except pl.exceptions.NoDataError:
        raise InputError(f"sheet {name!r} is empty", file=path) from None


def _read_one(path: str, params: Params) -> pl.DataFrame:
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        frame = _read_csv(path)
    elif suffix in (".parquet", ".pq"):
        try:
            frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError):
            raise InputError("cannot be read as Parquet", file=path) from None
    elif suffix in (".xlsx", ".xlsm"):
        frame = _read_excel(path, params.sheet)
    else:
        raise InputError(
            f"unsupported file type {suffix or '(none)'!r}; use .csv, .parquet or .xlsx", file=path
        )
    frame = frame.rename({c: c.strip() for c in frame.columns})
    if frame.height == 0:
        raise InputError("has a header but no data rows", file=path)
    return frame


def read_table(path: str | Path, params: Params) -> Table:
    """Read a file or a glob of files as one raw frame (columns as in the files)."""
    files = expand(path)
    frames = [_read_one(f, params) for f in files]
    if len(frames) == 1:
        frame = frames[0]
    else:
        # Weekly exports read as one: columns are matched by name, types widened where needed.
        try:
            frame = pl.concat(frames, how="diagonal_relaxed")
        except pl.exceptions.PolarsError:
            frame = pl.concat(
                [f.select(pl.all().cast(pl.String)) for f in frames], how="diagonal_relaxed"
            )
    return Table(frame, tuple(files), tuple(f.height for f in frames), str(path))


def write_frame(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write a result table to `.parquet`, `.csv` or `.xlsx` (by the file's extension)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".xlsx"):
        raise InputError(
            f"unsupported output type {suffix or '(none)'!r}; use .parquet, .csv or .xlsx",
            file=str(path),
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        # Uncompressed, no statistics: written 0.5 s faster than lz4 at 5M rows, for a file
        # ~1.7x larger (benchmarks/README.md); `fcrlab repeats --chunks` still uses lz4.
        frame.write_parquet(path, compression="uncompressed", statistics=False)
    elif suffix == ".csv":
        frame.write_csv(path)
    else:
        # Excel has no time zones: show local wall-clock times, which is what the zone column was.
        local = frame.with_columns(
            pl.col(c).dt.replace_time_zone(None)
            for c, t in frame.schema.items()
            if isinstance(t, pl.Datetime) and t.time_zone is not None
        )
        local.write_excel(path, autofit=True)
    return path
