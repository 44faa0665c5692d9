"""Calls and page views matched in time without a cross join: sorted merge sweeps.

Page views are 6–10× the contacts, so the time questions of SPEC §3 `fcrlab deflection` are
answered by one sort: the calls and the views of the same *group* (a customer, or a customer and
a topic key) put together by `grouping.sort_by_group`, ordered by `2 × instant (µs) + side`, so
that at the same instant a call sorts before a view. A `forward_fill` of the views' positions
then gives each call its latest view before it, and a `backward_fill` of the calls' positions
each view its first call after it: one sort answers both questions, and both are strict (a view
at the call's second is neither before nor after).

- Online before (decisions W2): each call takes the customer's latest view strictly before it;
  of several views at that instant the greatest page (`last_page`).
- Same question (W2): "some view in the window maps to the call's topic or a level above" is
  the same sweep with the group = (customer, topic key). A view is keyed by its page's topic, a
  call once per level of its topic (`tv/no-signal` → `tv/no-signal` and `tv`). The latest
  same-key view before the call lies in the window exactly when *any* same-key view does, so
  the question about every view in the window needs no list of views per call. `same_family`
  keys both sides by the first level.
- Followed by a call (W5): each view takes the customer's first call strictly after it; of
  several calls at that instant the smallest `contact_id` (rule-6 order, W9).

Inputs over `CHUNK_ROWS` events are swept in chunks by the group's hash (a group never
straddles two chunks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import polars as pl

from fcrlab.engine.grouping import Keys, sort_by_group
from fcrlab.read.web import page_topic_expr
from fcrlab.speed import take

__all__ = ["CHUNK_ROWS", "calls_and_views"]

_US_PER_MINUTE = 60_000_000
# Calls + views swept at once; larger inputs go in chunks by customer. Smaller sorts are faster
# per row here (they stay in cache): at 10M calls and 20M views, 5M-event chunks swept in 7.0–7.3 s
# against 8.6–9.2 s in one piece, with a lower peak (benchmarks/README.md).
CHUNK_ROWS = 5_000_000
_CALL, _VIEW = 0, 1  # at the same instant calls sort before views: both questions are strict

Tie = Callable[[pl.Series], pl.Series]


def _us(value: dt.timedelta) -> int:
    return value // dt.timedelta(microseconds=1)


def _epoch(column: pl.Series) -> pl.Series:
    return column.dt.epoch("us")


# ---------------------------------------------------------------------------- the sweep
def _partners(
    keys: Keys,
    by: pl.Series,
    window_us: int,
    tie: Tie | None,
    *,
    before: bool,
    after: bool,
) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """One sort of the events, both directions. `before`: each call event with its group's
    latest view strictly before it, at most `window_us` earlier; `after`: each view event with
    its group's first call strictly after it, at most `window_us` later. Found pairs only, as
    (`row`, `match`) positions among the events given."""
    # `by` is 2t + side: its parity tells a view from a call.
    order = sort_by_group(keys, by, tie).with_columns(is_view=(pl.col("by") % 2).cast(pl.Boolean))
    found = []
    for wanted, partners_are_views in ((before, True), (after, False)):
        found.append(_nearest(order, partners_are_views, window_us) if wanted else None)
    return found[0], found[1]


def _nearest(order: pl.DataFrame, partners_are_views: bool, window_us: int) -> pl.DataFrame:
    position = pl.int_range(pl.len(), dtype=pl.UInt32)
    partner = pl.col("is_view") if partners_are_views else ~pl.col("is_view")
    marked = pl.when(partner).then(position)
    near = marked.forward_fill() if partners_are_views else marked.backward_fill()
    rows = order.with_columns(near=near).filter(~partner & pl.col("near").is_not_null())
    index = rows["near"]
    found = order.select(
        pgroup=pl.col("group").gather(index),
        pby=pl.col("by").gather(index),
        match=pl.col("row").gather(index),
    )
    # `by` is 2t + side and partners are on opposite sides: |Δby| = 2|Δt| − 1.
    gap = ((pl.col("by") - pl.col("pby")).abs() + 1) // 2
    same = (pl.col("pgroup") == pl.col("group")) & (gap <= window_us)
    return rows.with_columns(found).filter(same).select("row", "match")


def _partition(hashes: pl.Series, chunks: int) -> list[pl.Series]:
    """The positions of each chunk. A hash's chunk is its top 32 bits scaled to
    0 … chunks − 1 (multiply and shift, in place: no division, one temporary); one radix sort
    of that small integer instead of a scan of every row per chunk."""
    dtype = np.uint8 if chunks <= 256 else np.uint16 if chunks <= 65_536 else np.uint32
    top = hashes.to_numpy() >> np.uint64(32)
    top *= np.uint64(chunks)
    top >>= np.uint64(32)
    chunk = top.astype(dtype)
    del top
    order = pl.Series("row", np.argsort(chunk, kind="stable").astype(np.uint32))  # a radix sort
    ends = np.cumsum(np.bincount(chunk, minlength=chunks)).tolist()
    return [order.slice(start, end - start) for start, end in zip([0, *ends], ends, strict=False)]


def _match(
    call_keys: Keys,
    view_keys: Keys,
    call_t: pl.Series,
    view_t: pl.Series,
    window_us: int,
    *,
    before: bool = True,
    after: bool = False,
    call_tie: Tie | None = None,
    view_tie: Tie | None = None,
) -> tuple[pl.Series | None, pl.Series | None]:
    """Per call the position in the views of its latest view before it (`before`), per view
    the position in the calls of its first call after it (`after`), in the window.

    Calls and views are one list of events, calls first. Large inputs are swept in chunks of
    groups whose hashes fall in the same range, so the sort never holds more than about
    `CHUNK_ROWS` events (polars' streaming as-of join ran out of memory at 100M rows).
    """
    n_calls, n_views = len(call_keys), len(view_keys)
    keys = Keys.concat(call_keys, view_keys)
    by = pl.concat([call_t * 2 + _CALL, view_t * 2 + _VIEW], rechunk=True)
    del call_keys, view_keys, call_t, view_t  # the sides' own hashes and times: memory
    tie = _events_tie(n_calls, call_tie, view_tie)
    chunks = -(-len(keys) // CHUNK_ROWS)
    parts = [pl.int_range(len(keys), eager=True, dtype=pl.UInt32)] if chunks <= 1 else None
    found: list[list[pl.DataFrame]] = [[], []]
    for rows in parts or _partition(keys.first, chunks):
        whole = parts is not None
        part_tie = None if tie is None or whole else (lambda at, r=rows: tie(r.gather(at)))
        pairs = _partners(
            keys if whole else keys.gather(rows),
            by if whole else by.gather(rows),
            window_us,
            tie if whole else part_tie,
            before=before,
            after=after,
        )
        for side, pair in enumerate(pairs):
            if pair is not None:  # positions within the chunk back to those among all events
                found[side].append(pair if whole else pair.select(_global(rows, "row", "match")))
    # Events are calls, then views: an event's position is a call's, or n_calls + a view's.
    found_views = found_calls = None
    if before:
        pairs = pl.concat(found[0]) if found[0] else pl.DataFrame(schema=_PAIRS)
        found_views = _nothing(n_calls).scatter(pairs["row"], pairs["match"] - n_calls)
    if after:
        pairs = pl.concat(found[1]) if found[1] else pl.DataFrame(schema=_PAIRS)
        found_calls = _nothing(n_views).scatter(pairs["row"] - n_calls, pairs["match"])
    return found_views, found_calls


def _global(rows: pl.Series, *columns: str) -> list[pl.Expr]:
    """Positions within a chunk (the chunk's `rows`) as positions among all events."""
    return [pl.lit(rows).gather(pl.col(c)).alias(c) for c in columns]


def _nothing(n: int) -> pl.Series:
    return pl.repeat(None, n, dtype=pl.UInt32, eager=True).rename("match")


_PAIRS = {"row": pl.UInt32, "match": pl.UInt32}


def _events_tie(n_calls: int, call_tie: Tie | None, view_tie: Tie | None) -> Tie | None:
    """The strings that order events at one instant: `call_tie` for calls, `view_tie` for
    views (events at one instant are all calls or all views: the side is in `by`)."""
    if call_tie is None and view_tie is None:
        return None

    def tie(at: pl.Series) -> pl.Series:
        is_call = at < n_calls
        values = pl.repeat(None, at.len(), dtype=pl.String, eager=True)
        for side, chosen, offset in ((call_tie, is_call, 0), (view_tie, ~is_call, n_calls)):
            if side is not None and chosen.any():
                values = values.scatter(chosen.arg_true(), side(at.filter(chosen) - offset))
        return values

    return tie


# ---------------------------------------------------------------------------- topic keys
def _topic_levels(topics: pl.Series) -> pl.DataFrame:
    """Each distinct topic with every level of it: `tv/no-signal` → tv/no-signal, tv."""
    distinct = topics.drop_nulls().unique().sort()
    parts = distinct.str.split("/")
    rows = []
    for topic, levels in zip(distinct.to_list(), parts.to_list(), strict=True):
        for depth in range(1, len(levels) + 1):
            rows.append((topic, "/".join(levels[:depth])))
    return pl.DataFrame(rows, schema={"topic": pl.String, "key": pl.String}, orient="row")


def _keyed_sweep(
    calls: pl.DataFrame,
    views: pl.DataFrame,
    window_us: int,
    call_key: str,
    view_key: str,
    *,
    after: bool = False,
) -> tuple[pl.Series, pl.Series | None]:
    """Per call: some view of the same customer and key in [t − window, t) (W2); with `after`,
    per view: some call of the same customer and key in (v, v + window]."""
    found_views, found_calls = _match(
        Keys(calls["customer_id"], calls[call_key]),
        Keys(views["customer_id"], views[view_key]),
        _epoch(calls["started_at"]),
        _epoch(views["visited_at"]),
        window_us,
        before=True,
        after=after,
    )
    assert found_views is not None
    return found_views.is_not_null(), None if found_calls is None else found_calls.is_not_null()


# ---------------------------------------------------------------------------- public
def calls_and_views(
    calls: pl.DataFrame,
    views: pl.DataFrame,
    web_window: dt.timedelta,
    page_topics: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both time questions in one sort: per call (in `calls` order) `online_before`,
    `last_page`, `minutes_since_web` and, with `page_topics`, `same_question` and `same_family`
    (decisions W2, W3, W13); per view (in `views` order) `followed_by_call`, `call_row` (the
    first call's position in `calls`, rule-6 order on ties: W9) and `minutes_to_call` (W5).

    `calls` has `customer_id`, `started_at` (UTC instants), `contact_id` and `topic`; `views`
    has `customer_id`, `visited_at` and `page`. Every call is looked up among every view and
    the other way round: pass the calls and views that may count (decisions W1, W8).
    """
    window_us = _us(web_window)
    found_views, found_calls = _match(
        Keys(calls["customer_id"]),
        Keys(views["customer_id"]),
        _epoch(calls["started_at"]),
        _epoch(views["visited_at"]),
        window_us,
        before=True,
        after=True,
        view_tie=lambda at: views["page"].gather(at),
        call_tie=lambda at: calls["contact_id"].gather(at),
    )
    assert found_views is not None and found_calls is not None
    seen_at = take(views["visited_at"], found_views)
    per_call = pl.DataFrame(
        {
            "online_before": found_views.is_not_null(),
            "last_page": take(views["page"], found_views),
            "minutes_since_web": (_epoch(calls["started_at"]) - _epoch(seen_at)) / _US_PER_MINUTE,
        }
    )
    if page_topics is not None:
        per_call = per_call.with_columns(_same_question(calls, views, window_us, page_topics))
    called_at = take(calls["started_at"], found_calls)
    per_view = pl.DataFrame(
        {
            "followed_by_call": found_calls.is_not_null(),
            "call_row": found_calls,
            "minutes_to_call": (_epoch(called_at) - _epoch(views["visited_at"])) / _US_PER_MINUTE,
        }
    )
    return per_call, per_view


def _same_question(
    calls: pl.DataFrame, views: pl.DataFrame, window_us: int, page_topics: pl.DataFrame
) -> list[pl.Series]:
    """`same_question` and `same_family` per call (decisions W2, W13).

    Family first: a page that answers a topic is of the topic's family, so only calls with a
    same-family view in the window can be `same_question`, and only views followed by a
    same-family call in the window can make one so. The second, per-level sweep runs on those.
    """
    n = calls.height
    nothing = pl.repeat(False, n, dtype=pl.Boolean, eager=True)
    # The page → topic map is worked out once per distinct page.
    pages = (
        views.select(pl.col("page").unique())
        .with_columns(topic=page_topic_expr(pl.col("page"), page_topics))
        .drop_nulls("topic")
        .with_columns(family=pl.col("topic").str.split("/").list.first())
    )
    mapped = (
        views.select("customer_id", "visited_at", "page")
        .filter(pl.col("page").is_in(pages["page"].implode()))
        .join(pages, on="page", how="left", maintain_order="left")
    )
    asked = (
        calls.select("customer_id", "started_at", "topic")
        .with_row_index("pos")
        .filter(pl.col("topic").is_not_null())
        .with_columns(family=pl.col("topic").str.split("/").list.first())
    )
    if mapped.height == 0 or asked.height == 0:
        return [nothing.alias("same_question"), nothing.alias("same_family")]
    family_hit, useful = _keyed_sweep(asked, mapped, window_us, "family", "family", after=True)
    assert useful is not None
    # Each remaining call once per level of its topic (W2: a page for `tv` answers `tv/no-signal`).
    candidates = asked.filter(family_hit)
    levels = candidates.join(_topic_levels(candidates["topic"]), on="topic", how="inner")
    hit, _ = _keyed_sweep(levels, mapped.filter(useful), window_us, "key", "topic")
    position = pl.int_range(n, eager=True, dtype=pl.UInt32)
    same_question = position.is_in(levels["pos"].filter(hit).implode())
    in_family = position.is_in(asked["pos"].filter(family_hit).implode())
    return [same_question.alias("same_question"), (in_family & ~same_question).alias("same_family")]
