"""Local time → UTC by an offset table must equal zoneinfo value by value (SPEC §1 rules)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from fcrlab.read.clock import _local_to_utc_by_join, local_to_utc


def reference(values: list[dt.datetime | None], zone: str) -> list[dt.datetime | None]:
    # fold=0: the spring gap moves forward by the gap, the autumn repeat takes summer time.
    tz = ZoneInfo(zone)
    return [None if v is None else v.replace(tzinfo=tz, fold=0).astimezone(dt.UTC) for v in values]


@pytest.mark.parametrize(
    "zone",
    ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"],
)
def test_offset_table_equals_zoneinfo(zone):
    rng = np.random.default_rng(7)
    start = np.datetime64("2025-12-01T00:00:00", "us")
    micros = rng.integers(0, 500 * 24 * 3600 * 10**6, 20_000).astype("timedelta64[us]")
    values = pl.Series(start + micros).cast(pl.Datetime("us")).to_list()
    # Every minute of both clock-change nights in Europe and Lord Howe, and a null.
    for day in (dt.date(2026, 3, 29), dt.date(2026, 10, 25), dt.date(2026, 4, 5)):
        values += [
            dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=m) for m in range(300)
        ]
    values.append(None)
    naive = pl.Series("t", values, dtype=pl.Datetime("us"))
    expected = reference(values, zone)
    assert local_to_utc(naive, zone).to_list() == expected
    assert _local_to_utc_by_join(naive, ZoneInfo(zone)).to_list() == expected


def test_a_span_of_centuries_takes_the_join_path():
    naive = pl.Series([dt.datetime(1900, 1, 1, 12), dt.datetime(2026, 3, 29, 2, 30)])
    assert local_to_utc(naive, "Europe/Amsterdam").to_list() == reference(
        naive.to_list(), "Europe/Amsterdam"
    )


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "Asia/Kolkata", "UTC"])
def test_a_span_without_a_clock_change_takes_one_offset(zone):
    # One summer week in Amsterdam (+02:00 throughout), Kolkata (+05:30) and UTC: the
    # one-offset shortcut must agree with zoneinfo too.
    start = dt.datetime(2026, 6, 1)
    values = [start + dt.timedelta(minutes=37 * i) for i in range(250)] + [None]
    naive = pl.Series("t", values, dtype=pl.Datetime("us"))
    assert local_to_utc(naive, zone).to_list() == reference(values, zone)
