"""Calls and page views matched in time without a cross join: sorted merge sweeps.

Page views are 6–10× the contacts, so the time questions of SPEC §3 `fcrlab deflection` are
answered by sorting a small numeric frame: the calls and the views of the same *group* (a
customer, or a customer and a topic key) put together, sorted by a 64-bit hash of the group and
`2 × instant (µs) + side`, so that at the same instant a call sorts before a view. A
`forward_fill` of the views' row numbers then gives each call its latest view before it, and a
`backward_fill` of the calls' row numbers each view its first call after it: one sort answers
both questions, and both are strict (a view at the call's second is neither before nor after).

- Online before (decisions W2): each call takes the customer's latest view strictly before it.
- Same question (W2): "some view in the window maps to the call's topic or a level above" is
  the same sweep with the group = (customer, topic key). A view is keyed by its page's topic, a
  call once per level of its topic (`tv/no-signal` → `tv/no-signal` and `tv`). The latest
  same-key view before the call lies in the window exactly when *any* same-key view does, so
  the question about every view in the window needs no list of views per call. `same_family`
  keys both sides by the first level.
- Followed by a call (W5): each view takes the customer's first call strictly after it.

A second, independent hash of every group guards the first: if two groups ever share the first
hash, the second changes inside a run, the sweep notices and runs again on exact codes. Inputs
over `CHUNK_ROWS` events are swept in chunks by the group's hash (a group never straddles two).
Ties in time on the side being found are settled by a string only where they occur: the
greatest page (W2 `last_page`) or the smallest `contact_id` (rule-6 order, W9).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from fcrlab.read.web import page_topic_expr
from fcrlab.speed import take, take_expr

__all__ = ["calls_and_views", "followed_by_call", "online_before"]

_SEEDS = (101, 211)  # two independent hashes of every group
_KEY_SEEDS = (307, 401)
_US_PER_MINUTE = 60_000_000
_FORCE_EXACT = False  # tests switch this on to run the collision fallback everywhere
# Calls + views swept at once; larger inputs go in chunks by customer. Smaller sorts are faster
# per row here (they stay in cache): at 10M calls and 20M views, 5M-event chunks swept in 7.0–7.3 s
# against 8.6–9.2 s in one piece, with a lower peak (benchmarks/README.md).
CHUNK_ROWS = 5_000_000


def _us(value: dt.timedelta) -> int:
    return value // dt.timedelta(microseconds=1)


def _epoch(column: pl.Series) -> pl.Series:
    return column.dt.epoch("us")


# ---------------------------------------------------------------------------- the sweep
_CALL, _VIEW = 0, 1  # at the same instant calls sort before views: both questions are strict


def _sweep(
    calls: pl.DataFrame,
    views: pl.DataFrame,
    window_us: int,
    *,
    before: bool = True,
    after: bool = False,
    view_tie: Callable[[pl.Series], pl.Series] | None = None,
    call_tie: Callable[[pl.Series], pl.Series] | None = None,
    check: bool = True,
) -> tuple[pl.Series | None, pl.Series | None] | None:
    """One sort, both directions. `before`: per call, the position in `views` of the group's
    latest view strictly before it, at most `window_us` earlier. `after`: per view, the position
    in `calls` of the group's first call strictly after it, at most `window_us` later.

    Both frames have `g1`, `g2` (two hashes of the group) and `t` (µs). Views at the same
    instant are ranked by `view_tie(positions)` (the greatest wins), calls by `call_tie` (the
    smallest wins). Returns None when two groups share `g1` (run again on exact codes).
    """
    n_calls, n_views = calls.height, views.height
    no_views = pl.repeat(None, n_calls, dtype=pl.UInt32, eager=True).rename("match")
    no_calls = pl.repeat(None, n_views, dtype=pl.UInt32, eager=True).rename("match")
    if n_calls == 0 or n_views == 0:
        return (no_views if before else None), (no_calls if after else None)
    # `t` doubled plus the side: one sort key puts calls before views at the same instant.
    events = pl.concat(
        [
            calls.select("g1", "g2", tk=pl.col("t") * 2 + _CALL).with_row_index("pos"),
            views.select("g1", "g2", tk=pl.col("t") * 2 + _VIEW).with_row_index("pos"),
        ],
        rechunk=True,
    ).sort("g1", "tk")
    g1, g2, tk = pl.col("g1"), pl.col("g2"), pl.col("tk")
    if check and events.select(((g1 == g1.shift()) & (g2 != g2.shift())).any()).item():
        return None
    events = events.select("g1", "tk", "pos", is_view=(tk % 2).cast(pl.Boolean))
    row = pl.int_range(pl.len(), dtype=pl.UInt32)
    found_views = found_calls = None
    if before:
        near = pl.when("is_view").then(row).forward_fill()
        rows = events.with_columns(near=near).filter(~pl.col("is_view"))
        if view_tie is not None:
            rows = _settle_ties(events, rows, True, view_tie)
        found_views = _partners(events, rows, window_us, no_views)
    if after:
        near = pl.when(~pl.col("is_view")).then(row).backward_fill()
        rows = events.with_columns(near=near).filter("is_view")
        if call_tie is not None:
            rows = _settle_ties(events, rows, False, call_tie)
        found_calls = _partners(events, rows, window_us, no_calls)
    return found_views, found_calls


def _partners(
    events: pl.DataFrame, rows: pl.DataFrame, window_us: int, nothing: pl.Series
) -> pl.Series:
    """The partner each row's `near` points at, when of the same group and within the window,
    as a position on the other side; in the order of the row's own side."""
    index = rows["near"]
    partner = events.select(
        pg1=take_expr(pl.col("g1"), index),
        ptk=take_expr(pl.col("tk"), index),
        ppos=take_expr(pl.col("pos"), index),
    )
    # tk is 2t + side and partners are on opposite sides: |Δtk| = 2|Δt| − 1.
    gap = ((pl.col("tk") - pl.col("ptk")).abs() + 1) // 2
    found = rows.with_columns(partner).select(
        "pos", match=pl.when((pl.col("pg1") == pl.col("g1")) & (gap <= window_us)).then("ppos")
    )
    return nothing.clone().scatter(found["pos"], found["match"])


def _settle_ties(
    events: pl.DataFrame,
    rows: pl.DataFrame,
    views_tied: bool,
    tie_of: Callable[[pl.Series], pl.Series],
) -> pl.DataFrame:
    """Where partners of one group share an instant, point at the one `tie_of` ranks first:
    the greatest page among views (W2), the smallest contact_id among calls (rule 6, W9)."""
    g1, tk = pl.col("g1"), pl.col("tk")
    side = pl.col("is_view") if views_tied else ~pl.col("is_view")
    # Equal tk means the same instant and the same side.
    same_as_previous = (side & (g1 == g1.shift()) & (tk == tk.shift())).fill_null(False)
    marks = events.select(
        run=(~same_as_previous).cum_sum(),
        tied=same_as_previous | same_as_previous.shift(-1).fill_null(False),
        row=pl.int_range(pl.len(), dtype=pl.UInt32),
        pos="pos",
    )
    tied = marks.filter("tied")
    if tied.height == 0:
        return rows
    tied = tied.with_columns(tie=tie_of(tied["pos"]))
    best = (
        tied.sort("run", "tie", descending=[False, views_tied])
        .group_by("run", maintain_order=True)
        .agg(best=pl.col("row").first())
    )
    near_run = take(marks["run"], rows["near"])
    return (
        rows.with_columns(run=near_run)
        .join(best, on="run", how="left", maintain_order="left")
        .with_columns(near=pl.coalesce("best", "near"))
        .drop("run", "best")
    )


def _exact_codes(left: pl.DataFrame, right: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Dense codes of the group's strings over both sides: the slow, exact fallback."""
    both = pl.concat([left, right], how="vertical_relaxed")
    codes = both.unique(maintain_order=True).with_row_index("code")
    coded = both.join(codes, on=both.columns, how="left", maintain_order="left", nulls_equal=True)
    code = coded["code"].cast(pl.UInt64)
    return code.head(left.height), code.tail(right.height)


def _match(
    calls: pl.DataFrame,
    views: pl.DataFrame,
    keys: Callable[[], tuple[pl.DataFrame, pl.DataFrame]],
    window_us: int,
    **how: Any,
) -> tuple[pl.Series | None, pl.Series | None]:
    """`_sweep` on the hashes, in chunks when the input is large.

    A chunk is the groups whose hash falls in the same range, so a group never straddles two
    chunks and each is swept on its own: the sort never holds more than about `CHUNK_ROWS`
    events (polars' streaming as-of join ran out of memory at 100M rows where this does not).
    """
    chunks = -(-(calls.height + views.height) // CHUNK_ROWS)
    if chunks <= 1:
        return _match_one(calls, views, keys, window_us, **how)
    found_views = pl.repeat(None, calls.height, dtype=pl.UInt32, eager=True).rename("match")
    found_calls = pl.repeat(None, views.height, dtype=pl.UInt32, eager=True).rename("match")
    call_parts = _partition(calls["g1"], chunks)
    view_parts = _partition(views["g1"], chunks)
    for call_rows, view_rows in zip(call_parts, view_parts, strict=True):
        part = dict(how)
        # Ties and the exact fallback see positions within the chunk: map them back.
        if how.get("view_tie") is not None:
            part["view_tie"] = lambda p, f=how["view_tie"], v=view_rows: f(v.gather(p))
        if how.get("call_tie") is not None:
            part["call_tie"] = lambda p, f=how["call_tie"], c=call_rows: f(c.gather(p))

        def chunk_keys(
            c: pl.Series = call_rows, v: pl.Series = view_rows
        ) -> tuple[pl.DataFrame, pl.DataFrame]:
            call_keys, view_keys = keys()
            return call_keys[c], view_keys[v]

        on_views, on_calls = _match_one(
            calls[call_rows], views[view_rows], chunk_keys, window_us, **part
        )
        if on_views is not None:
            found_views = found_views.scatter(call_rows, take(view_rows, on_views))
        if on_calls is not None:
            found_calls = found_calls.scatter(view_rows, take(call_rows, on_calls))
    return (
        found_views if how.get("before", True) else None,
        found_calls if how.get("after", False) else None,
    )


def _partition(hashes: pl.Series, chunks: int) -> list[pl.Series]:
    """The positions of each chunk, in order. A hash's chunk is its top 32 bits scaled to
    0 … chunks − 1 (multiply and shift, no division); one radix sort of that small integer
    instead of a scan of every row per chunk."""
    dtype = np.uint8 if chunks <= 256 else np.uint16 if chunks <= 65_536 else np.uint32
    top = hashes.to_numpy() >> np.uint64(32)
    chunk = ((top * np.uint64(chunks)) >> np.uint64(32)).astype(dtype)
    order = np.argsort(chunk, kind="stable").astype(np.uint32)
    ends = np.cumsum(np.bincount(chunk, minlength=chunks))
    return [pl.Series("row", part) for part in np.split(order, ends[:-1])]


def _match_one(
    calls: pl.DataFrame,
    views: pl.DataFrame,
    keys: Callable[[], tuple[pl.DataFrame, pl.DataFrame]],
    window_us: int,
    **how: Any,
) -> tuple[pl.Series | None, pl.Series | None]:
    """`_sweep` on the hashes; on a hash collision (or when forced) again on exact codes made
    from the group's strings, which `keys()` returns for both sides."""
    found = None
    if not _FORCE_EXACT:
        found = _sweep(calls, views, window_us, **how)
    if found is None:
        call_code, view_code = _exact_codes(*keys())
        found = _sweep(
            calls.with_columns(g1=call_code, g2=call_code),
            views.with_columns(g1=view_code, g2=view_code),
            window_us,
            check=False,
            **how,
        )
    assert found is not None
    return found


def _groups(customer: pl.Series, t: pl.Series) -> pl.DataFrame:
    return pl.DataFrame(
        {"g1": customer.hash(seed=_SEEDS[0]), "g2": customer.hash(seed=_SEEDS[1]), "t": _epoch(t)}
    )


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


def _keyed_hashes(customer: pl.Series, key: pl.Series) -> tuple[pl.Series, pl.Series]:
    return (
        customer.hash(seed=_SEEDS[0]) ^ key.hash(seed=_KEY_SEEDS[0]),
        customer.hash(seed=_SEEDS[1]) ^ key.hash(seed=_KEY_SEEDS[1]),
    )


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
    g1, g2 = _keyed_hashes(calls["customer_id"], calls[call_key])
    left = pl.DataFrame({"g1": g1, "g2": g2, "t": _epoch(calls["started_at"])})
    g1, g2 = _keyed_hashes(views["customer_id"], views[view_key])
    right = pl.DataFrame({"g1": g1, "g2": g2, "t": _epoch(views["visited_at"])})

    def keys() -> tuple[pl.DataFrame, pl.DataFrame]:
        return (
            calls.select("customer_id", key=call_key),
            views.select("customer_id", key=view_key),
        )

    found_views, found_calls = _match(left, right, keys, window_us, before=True, after=after)
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
        _groups(calls["customer_id"], calls["started_at"]),
        _groups(views["customer_id"], views["visited_at"]),
        lambda: (calls.select("customer_id"), views.select("customer_id")),
        window_us,
        before=True,
        after=True,
        view_tie=lambda positions: views["page"].gather(positions),
        call_tie=lambda positions: calls["contact_id"].gather(positions),
    )
    assert found_views is not None and found_calls is not None
    per_call = _per_call(calls, views, found_views)
    if page_topics is not None:
        per_call = per_call.with_columns(_same_question(calls, views, window_us, page_topics))
    return per_call, _per_view(views, calls, found_calls)


def _per_call(calls: pl.DataFrame, views: pl.DataFrame, found: pl.Series) -> pl.DataFrame:
    seen_at = take(views["visited_at"], found)
    return pl.DataFrame(
        {
            "online_before": found.is_not_null(),
            "last_page": take(views["page"], found),
            "minutes_since_web": (_epoch(calls["started_at"]) - _epoch(seen_at)) / _US_PER_MINUTE,
        }
    )


def _per_view(views: pl.DataFrame, calls: pl.DataFrame, found: pl.Series) -> pl.DataFrame:
    called_at = take(calls["started_at"], found)
    return pl.DataFrame(
        {
            "followed_by_call": found.is_not_null(),
            "call_row": found,
            "minutes_to_call": (_epoch(called_at) - _epoch(views["visited_at"])) / _US_PER_MINUTE,
        }
    )


def online_before(
    calls: pl.DataFrame,
    views: pl.DataFrame,
    web_window: dt.timedelta,
    page_topics: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The per-call half of `calls_and_views` (`calls` need no `contact_id` here)."""
    window_us = _us(web_window)
    found, _ = _match(
        _groups(calls["customer_id"], calls["started_at"]),
        _groups(views["customer_id"], views["visited_at"]),
        lambda: (calls.select("customer_id"), views.select("customer_id")),
        window_us,
        before=True,
        view_tie=lambda positions: views["page"].gather(positions),
    )
    assert found is not None
    per_call = _per_call(calls, views, found)
    if page_topics is None:
        return per_call
    return per_call.with_columns(_same_question(calls, views, window_us, page_topics))


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


def followed_by_call(
    views: pl.DataFrame, calls: pl.DataFrame, web_window: dt.timedelta
) -> pl.DataFrame:
    """The per-view half of `calls_and_views`: was each view followed by a call (W5)."""
    _, found = _match(
        _groups(calls["customer_id"], calls["started_at"]),
        _groups(views["customer_id"], views["visited_at"]),
        lambda: (calls.select("customer_id"), views.select("customer_id")),
        _us(web_window),
        before=False,
        after=True,
        call_tie=lambda positions: calls["contact_id"].gather(positions),
    )
    assert found is not None
    return _per_view(views, calls, found)
