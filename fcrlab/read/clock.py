"""Time: reading export timestamps, local time ↔ UTC without failing on clock changes, office hours.

Everything inside fcrlab runs on UTC instants (`Datetime("us", "UTC")`), so a window is an
absolute duration across a daylight-saving change (SPEC §2: `7d` is 168 hours). Local time only
matters at the edges: reading naive timestamps, office hours, period dates and showing results.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl

from fcrlab.params import OfficeHours

__all__ = [
    "UTC_TYPE",
    "is_open",
    "local_date",
    "local_day_numbers",
    "local_to_utc",
    "parse_timestamps",
    "to_utc_instant",
]

UTC_TYPE = pl.Datetime("us", "UTC")

# SPEC §1 timestamp forms, normalised to `YYYY-MM-DD HH:MM:SS[.f]` before one strict parse.
_ZONE_SUFFIX = r"(Z|z|[+-]\d{2}(?::?\d{2})?)$"
_SLASHED = r"^(\d{4})/(\d{1,2})/(\d{1,2})"  # 2021/03/01 08:15[:00]
_DUTCH = r"^(\d{1,2})-(\d{1,2})-(\d{4})"  # 01-03-2021 08:15[:00]
_NORMAL_FORMAT = "%Y-%m-%d %H:%M:%S%.f"


def parse_timestamps(text: pl.Expr, datetime_format: str | None = None) -> tuple[pl.Expr, pl.Expr]:
    """Parse export text into (naive wall-clock datetime, UTC offset in minutes or null).

    Forms: ISO 8601 (`T` or space, optional seconds, fraction and zone), `YYYY/MM/DD HH:MM[:SS]`,
    `DD-MM-YYYY HH:MM[:SS]`, a date alone (midnight), or `datetime_format` when given.
    Unparsable values become null; the caller reports them.
    """
    text = text.str.strip_chars()
    if datetime_format:
        if "%z" in datetime_format or "%Z" in datetime_format:
            aware = text.str.to_datetime(datetime_format, strict=False, time_zone="UTC")
            return aware.dt.replace_time_zone(None), pl.lit(0, dtype=pl.Int32)
        return text.str.to_datetime(datetime_format, strict=False), pl.lit(None, dtype=pl.Int32)
    zone = text.str.extract(_ZONE_SUFFIX, 1)
    # A date such as 2026-03-01 ends in "-01", which is not a zone: only time-bearing text has one.
    has_time = text.str.contains(r"\d:\d{2}")
    zone = pl.when(has_time).then(zone)
    body = (
        pl.when(zone.is_not_null())
        .then(text.str.slice(0, text.str.len_chars() - zone.str.len_chars()))
        .otherwise(text)
    )
    body = (
        body.str.strip_chars()
        .str.replace(r"^(\d{4}-\d{1,2}-\d{1,2})[Tt]", "$1 ")
        .str.replace(_SLASHED, "$1-$2-$3")
        .str.replace(_DUTCH, "$3-$2-$1")
    )
    # Pad to seconds: `HH:MM` → `HH:MM:00`; a date alone → midnight.
    body = (
        pl.when(body.str.contains(r"^\d{4}-\d{1,2}-\d{1,2}$"))
        .then(body + " 00:00:00")
        .when(body.str.contains(r" \d{1,2}:\d{2}$"))
        .then(body + ":00")
        .otherwise(body)
    )
    naive = body.str.to_datetime(_NORMAL_FORMAT, strict=False, time_unit="us")
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    digits = zone.str.replace_all(r"[^0-9]", "")
    hours = digits.str.slice(0, 2).cast(pl.Int32, strict=False)
    minutes = digits.str.slice(2, 2).cast(pl.Int32, strict=False).fill_null(0)
    # Decisions I5: a real offset is at most ±18:00 with minutes below 60; anything else makes
    # the whole value unreadable (the caller reports it).
    real = (minutes < 60) & (hours * 60 + minutes <= 18 * 60)
    naive = pl.when(zone.is_null() | (zone.str.to_lowercase() == "z") | real).then(naive)
    offset = (
        pl.when(zone.is_null())
        .then(pl.lit(None, dtype=pl.Int32))
        .when(zone.str.to_lowercase() == "z")
        .then(pl.lit(0, dtype=pl.Int32))
        .otherwise(sign * (hours * 60 + minutes))
    )
    return naive, offset


def _offset_seconds(zone: ZoneInfo, local: dt.datetime) -> int:
    # fold=0 is exactly SPEC §1: in the spring gap it uses the offset from before the change, so
    # 02:30 → 01:30 UTC = 03:30 summer time; an ambiguous autumn time gets the earlier (summer) one.
    offset = local.replace(tzinfo=zone, fold=0).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())  # seconds: historical offsets such as +00:19:32


_US_PER_HOUR = 3_600_000_000
_MAX_TABLE_HOURS = 500_000  # ~57 years of hours; a wider span (bad data) takes the slow path


def local_to_utc(naive: pl.Series, timezone: str) -> pl.Series:
    """Naive local wall-clock times → UTC instants, never failing on clock changes (SPEC §1).

    One UTC offset per local hour of the data's span, looked up by the hour's index (much
    faster than `replace_time_zone` per row, or a join, on millions of rows); an hour in which
    the offset itself changes (a zone whose clocks move at a half hour) is done row by row.
    """
    zone = ZoneInfo(timezone)
    naive = naive.cast(pl.Datetime("us"))
    micros = naive.cast(pl.Int64)
    low, high = micros.min(), micros.max()
    if low is None:
        return naive.dt.replace_time_zone("UTC")
    first = int(low) // _US_PER_HOUR * _US_PER_HOUR  # type: ignore[arg-type]
    count = (int(high) - first) // _US_PER_HOUR + 1  # type: ignore[arg-type]
    if count > _MAX_TABLE_HOURS:
        return _local_to_utc_by_join(naive, zone)
    base = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=first)
    at_start = [_offset_seconds(zone, base + dt.timedelta(hours=i)) for i in range(count + 1)]
    offsets: int | pl.Series = at_start[0]
    if len(set(at_start)) > 1:  # else one offset over the whole span (UTC, or no clock change)
        last_micro = dt.timedelta(minutes=59, seconds=59, microseconds=999999)
        mixed = [
            i
            for i in range(count)
            if at_start[i] != at_start[i + 1]
            and _offset_seconds(zone, base + dt.timedelta(hours=i) + last_micro) != at_start[i]
        ]
        hour = (micros - first) // _US_PER_HOUR
        offsets = pl.Series(at_start[:count], dtype=pl.Int64).gather(hour.fill_null(0))
        if mixed:  # only the rows in those hours, one by one
            rows = hour.is_in(pl.Series(mixed, dtype=pl.Int64).implode()).fill_null(False)
            where = rows.arg_true()
            exact = [_offset_seconds(zone, value) for value in naive.gather(where).to_list()]
            offsets = offsets.scatter(where, pl.Series(exact, dtype=pl.Int64))
    instants = (micros - offsets * 1_000_000).cast(pl.Datetime("us"))
    return instants.dt.replace_time_zone("UTC").rename(naive.name)


def _local_to_utc_by_join(naive: pl.Series, zone: ZoneInfo) -> pl.Series:
    """The same, one offset per *distinct* local hour joined back: for data spanning decades."""
    hours = naive.dt.truncate("1h")
    distinct = hours.drop_nulls().unique()
    table_hours, table_offsets, mixed = [], [], []
    for hour in distinct.to_list():
        start = _offset_seconds(zone, hour)
        end = _offset_seconds(
            zone, hour + dt.timedelta(minutes=59, seconds=59, microseconds=999999)
        )
        if start == end:
            table_hours.append(hour)
            table_offsets.append(start)
        else:
            mixed.append(hour)
    table = pl.DataFrame(
        {"hour": pl.Series(table_hours, dtype=pl.Datetime("us")), "offset": table_offsets},
        schema={"hour": pl.Datetime("us"), "offset": pl.Int64},
    )
    frame = pl.DataFrame({"naive": naive, "hour": hours}).join(
        table, on="hour", how="left", maintain_order="left"
    )
    offsets = frame["offset"]
    if mixed:
        rows = hours.is_in(pl.Series(mixed, dtype=pl.Datetime("us")).implode())
        exact = [
            _offset_seconds(zone, value) if flag and value is not None else None
            for value, flag in zip(naive.to_list(), rows.to_list(), strict=True)
        ]
        offsets = offsets.zip_with(~rows, pl.Series(exact, dtype=pl.Int64))
    instants = (naive.cast(pl.Int64) - offsets * 1_000_000).cast(pl.Datetime("us"))
    return instants.dt.replace_time_zone("UTC").rename(naive.name)


def to_utc_instant(value: dt.datetime | dt.date, timezone: str) -> dt.datetime:
    """A parameter moment (naive = local in `timezone`, a date = local midnight) as UTC."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    zone = ZoneInfo(timezone)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone, fold=0)
    return value.astimezone(dt.UTC)


def local_date(instants: pl.Expr, timezone: str) -> pl.Expr:
    """The calendar date in `timezone` of UTC instants."""
    return instants.dt.convert_time_zone(timezone).dt.date()


_US_DAY = 86_400_000_000


def local_day_numbers(frame: pl.DataFrame | pl.LazyFrame, column: str, timezone: str) -> pl.Expr:
    """The local calendar day (days since 1970-01-01) of the UTC instants in `column`, without a
    time-zone conversion per row (fast on millions): the UTC offsets over the column's span,
    sampled every 15 minutes (every offset in use is a multiple of that), their change points,
    and a binary search per row."""
    us = pl.col(column).dt.epoch("us")
    low, high = frame.lazy().select(us.min(), us.max().alias("high")).collect().row(0)
    if low is None:
        return us.cast(pl.Int32)
    step = 15 * 60 * 1_000_000
    grid = pl.int_range(low // step * step, high + step, step, eager=True)
    zoned = pl.from_epoch(grid, time_unit="us").dt.replace_time_zone("UTC")
    offset = zoned.dt.convert_time_zone(timezone).dt.replace_time_zone(None).dt.epoch("us") - grid
    change = (offset != offset.shift()).fill_null(True)
    starts, offsets = grid.filter(change), offset.filter(change)
    if offsets.len() == 1:  # one offset over the whole span: no search per row
        return ((us + offsets[0]) // _US_DAY).cast(pl.Int32)
    local = us + pl.lit(offsets).gather(pl.lit(starts).search_sorted(us, side="right") - 1)
    return (local // _US_DAY).cast(pl.Int32)


def is_open(instants: pl.Expr, hours: OfficeHours, timezone: str) -> pl.Expr:
    """True when a UTC instant falls inside office hours in `timezone` (SPEC §2 rule 5).

    Start inclusive, end exclusive; a closed weekday and a holiday are closed all day.
    """
    local = instants.dt.convert_time_zone(timezone)
    weekday = local.dt.weekday() - 1  # polars: Monday = 1
    minute = local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)
    # Seconds matter at the end boundary: 19:59:59 is open, 20:00:00 is not.
    minute_exact = minute.cast(pl.Float64) + local.dt.second().cast(pl.Float64) / 60
    open_expr = pl.lit(False)
    for day, span in enumerate(hours.days):
        if span is None:
            continue
        start, end = span
        open_expr = open_expr | ((weekday == day) & (minute_exact >= start) & (minute_exact < end))
    if hours.holidays:
        open_expr = open_expr & ~local.dt.date().is_in(pl.Series(hours.holidays).implode())
    return open_expr
