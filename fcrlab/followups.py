"""Follow-up questions (SPEC §3 `fcrlab gaps`, decisions G6): for each counted contact of the
period whose window is fully observed, the same customer's next counted contact, any topic.

Fast on tens of millions of contacts: one value sort of a packed 64-bit number per contact
(customer hash, second, topic code) puts each customer's contacts in order, and a contact's
follow-up is the next value; the few customers the packing cannot tell apart take an exact
string sort.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from fcrlab.params import Params
from fcrlab.read.clock import to_utc_instant

__all__ = ["follow_ups"]

_US_SECOND = 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


Bounds = tuple[int | None, int | None, int]  # period start, period end, latest start (µs)


def follow_ups(labels: pl.DataFrame, params: Params, until: dt.datetime | None) -> pl.DataFrame:
    """G6: for each counted contact of the period whose window is observed, the same customer's
    next counted contact (rule-6 order, any topic) when it started at most `window` later."""
    counted = pl.col("counted").fill_null(False)
    start = pl.col("started_at").dt.epoch("us")
    frame = labels.lazy().filter(counted).select("customer_id", "topic", t=start).collect()
    names = frame["topic"].unique().drop_nulls().sort().to_list()
    if frame.height == 0 or until is None:
        return _pairs_table(names, np.zeros(0, np.int64), np.zeros(len(names) + 1, np.int64))
    us = lambda moment: (moment - _EPOCH) // dt.timedelta(microseconds=1)  # noqa: E731
    period = params.period
    bounds = (
        us(to_utc_instant(period.start, params.timezone)) if period else None,
        us(to_utc_instant(period.end, params.timezone)) if period else None,
        us(until) - us(_EPOCH + params.window),  # start + window ≤ observed_until
    )
    window = params.window // dt.timedelta(microseconds=1)
    codes = _codes(frame["topic"], names)
    contacts = np.bincount(
        codes[_eligible(frame["t"].to_numpy(), bounds)], minlength=len(names) + 1
    )
    fast = _next_fast(frame, codes, len(names), window, bounds)
    pairs, again = (np.zeros(0, np.int64), counted) if fast is None else fast
    if again is not None:  # the rows the fast path could not order exactly
        rows = labels.lazy().filter(counted & again)
        rows = rows.select("customer_id", "contact_id", "topic", t=start).collect()
        pairs = np.concatenate([pairs, _next_exact(rows, names, window, bounds)])
    return _pairs_table(names, pairs, contacts)


def _pairs_table(names: list[str], pairs: np.ndarray, contacts: np.ndarray) -> pl.DataFrame:
    width = len(names) + 1
    codes, counts = np.unique(pairs, return_counts=True)
    topic = [*names, None]
    table = pl.DataFrame(
        {
            "topic": pl.Series([topic[i] for i in codes // width], dtype=pl.String),
            "next_topic": pl.Series([topic[i] for i in codes % width], dtype=pl.String),
            "count": pl.Series(counts, dtype=pl.Int64),
            "contacts": pl.Series(contacts[codes // width], dtype=pl.Int64),
        }
    )
    return table.with_columns(share=pl.col("count") / pl.col("contacts")).sort(
        "count", "topic", "next_topic", descending=[True, False, False], nulls_last=True
    )


def _codes(topics: pl.Series, names: list[str]) -> np.ndarray:
    """Topic codes 0 … len(names) − 1 in name order; len(names) for the empty topic, which is
    a topic of its own (D6)."""
    physical = topics.cast(pl.Enum(names)).to_physical()
    return physical.fill_null(len(names)).cast(pl.Int64).to_numpy()


def _eligible(t: np.ndarray, bounds: Bounds) -> np.ndarray:
    """G6: the contact started in the period and its window is fully observed."""
    start, end, latest = bounds
    ok = t <= latest
    if start is not None:
        ok &= t >= start
    if end is not None:
        ok &= t < end
    return ok


def _next_fast(
    frame: pl.DataFrame,
    codes: np.ndarray,
    null_code: int,
    window: int,
    bounds: Bounds,
    hash_bits: int | None = None,
) -> tuple[np.ndarray, pl.Expr | None] | None:
    """Pair codes (topic × next topic) of the eligible contacts with a follow-up, and which
    rows the exact path must still do (an expression, or None when it has nothing to do).

    One 64-bit value per contact packs the top bits of a hash of its customer, the second it
    started (with a spare bit, so another customer's contact is never within the window) and
    its topic code; a value sort puts each customer's contacts in time order and a contact's
    follow-up is the next value: no permutation, no gathers. A customer whose hash bits another
    customer shares, or with two contacts in one second (rule 6 then needs `contact_id`), is
    left to the exact path; everything is (None) when times are not whole seconds or too few
    hash bits remain.
    """
    t = frame["t"].to_numpy()
    if window % _US_SECOND or (t % _US_SECOND).any():
        return None
    seconds = t // _US_SECOND
    s0, w = int(seconds.min()), window // _US_SECOND
    seconds -= s0
    k_bits = null_code.bit_length()
    low = (int(seconds.max()) + w).bit_length() + k_bits  # bits below the customer's
    h_bits = hash_bits or 64 - low  # tests force few bits (many shared buckets)
    if h_bits > 64 - low or (hash_bits is None and h_bits < 24):
        return None
    shift = 64 - h_bits
    hashed = frame["customer_id"].hash(seed=7).to_numpy()
    keys = hashed >> shift
    keys <<= low
    seconds <<= k_bits
    seconds |= codes
    keys |= seconds.view(np.uint64)
    keys.sort()
    # A bucket shared by two customers: a second, independent hash differs inside it.
    check = frame["customer_id"].hash(seed=11).to_numpy() >> h_bits
    check |= hashed >> shift << shift
    check.sort()
    shared = ((check[1:] ^ check[:-1]) >> shift == 0) & (check[1:] != check[:-1])
    stamp = keys >> k_bits  # bucket and second
    step = np.diff(stamp)
    dirty = np.unique(
        np.concatenate([check[1:][shared] >> shift, stamp[1:][step == 0] >> low - k_bits])
    )
    stamp &= (1 << low - k_bits) - 1  # the second alone
    eligible = _eligible(
        stamp.view(np.int64),
        (
            None if bounds[0] is None else -(-bounds[0] // _US_SECOND) - s0,
            None if bounds[1] is None else -(-bounds[1] // _US_SECOND) - s0,
            bounds[2] // _US_SECOND - s0,
        ),
    )
    if dirty.size:  # drop those buckets' contacts (a contiguous run of keys each)
        marks = np.zeros(keys.size + 1, dtype=np.int32)
        np.add.at(marks, np.searchsorted(keys, dirty << low), 1)
        np.add.at(marks, np.searchsorted(keys, dirty << low | (1 << low) - 1, side="right"), -1)
        eligible &= np.cumsum(marks[:-1], dtype=np.int32) == 0
    followed = np.flatnonzero(eligible[:-1] & (step <= w))
    code = lambda rows: (keys[rows] & (1 << k_bits) - 1).astype(np.int64)  # noqa: E731
    pairs = code(followed) * (null_code + 1) + code(followed + 1)
    if dirty.size == 0:
        return pairs, None
    bucket = pl.col("customer_id").hash(seed=7) // (1 << shift)
    return pairs, bucket.is_in(pl.Series(dirty.astype(np.uint64)).implode())


def _next_exact(frame: pl.DataFrame, names: list[str], window: int, bounds: Bounds) -> np.ndarray:
    """The same on the strings: rule-6 order (customer, start, contact_id), then the next row."""
    order = frame.sort("customer_id", "t", "contact_id")
    t, code = order["t"].to_numpy(), _codes(order["topic"], names)
    customer = order["customer_id"]
    same = (customer.slice(1) == customer.slice(0, max(order.height - 1, 0))).to_numpy()
    followed = np.flatnonzero(_eligible(t, bounds)[:-1] & same & (np.diff(t) <= window))
    return code[followed] * (len(names) + 1) + code[followed + 1]
