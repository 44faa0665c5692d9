"""Repeat contacts and episodes: SPEC §2's ten rules, in order, on the canonical contacts frame.

How it stays fast on tens of millions of contacts: one global sort on a 64-bit hash of
(customer, match key) and then only `shift`/`forward_fill`/gathers inside the sorted frame with
a same-group mask; no `group_by` or `over` on the hot path. `abandoned: include` breaks the
per-key grouping (an abandoned attempt matches every topic), so it takes a general path: each
contact's previous matching contact by position, then episode roots by pointer jumping.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from fcrlab.clock import is_open, local_date, to_utc_instant
from fcrlab.errors import InputError
from fcrlab.io import Contacts
from fcrlab.params import Params

__all__ = [
    "CONTACT_FIELDS",
    "LABEL_COLUMNS",
    "REASONS",
    "label_repeats",
    "match_key",
    "observed_until",
]

# SPEC §2 rule 1: a row left out gets the first of these that applies, in this order.
REASONS = (
    "duplicate",
    "anonymous",
    "merged_leg",
    "outbound",
    "channel",
    "abandoned",
    "after_hours",
    "outside_period",
)

# SPEC §3: the per-row output of `fcrlab repeats`, in this order.
LABEL_COLUMNS = (
    "source_row",
    "contact_id",
    "customer_id",
    "started_at",
    "channel",
    "topic",
    "counted",
    "excluded_reason",
    "episode_id",
    "episode_seq",
    "is_repeat",
    "repeat_of",
    "gap_hours",
    "episode_size",
    "first_contact_fix",
    "pending",
    "in_period",
)
_LABELS = LABEL_COLUMNS[LABEL_COLUMNS.index("episode_id") :]
_LABEL_TYPES: dict[str, pl.DataType] = {
    "counted": pl.Boolean(),
    "excluded_reason": pl.String(),
    "episode_id": pl.String(),
    "episode_seq": pl.Int32(),
    "is_repeat": pl.Boolean(),
    "repeat_of": pl.String(),
    "gap_hours": pl.Float64(),
    "episode_size": pl.Int32(),
    "first_contact_fix": pl.Boolean(),
    "pending": pl.Boolean(),
    "in_period": pl.Boolean(),
}

# The merged contact's other fields (SPEC §2 rule 2), for summaries and the gaps analysis.
CONTACT_FIELDS = (
    "agent_id",
    "team",
    "resolved",
    "survey_resolved",
    "ces",
    "csat",
    "direction",
    "outcome",
    "legs",
    "online_first",
    "handle_seconds",
)
_LAST_NON_EMPTY = ("topic", "team", "agent_id", "resolved", "survey_resolved", "ces", "csat")


def match_key(match: str) -> pl.Expr:
    """SPEC §2 rule 4: what "the same question" means; null (empty topic) is a key of its own."""
    if match == "topic":
        return pl.col("topic")
    if match == "family":
        return pl.col("topic").str.split("/").list.first()
    return pl.lit("", dtype=pl.String)


def observed_until(contacts: Contacts, params: Params) -> dt.datetime | None:
    """SPEC §2 rule 9 / decisions D8: explicit (local unless zoned) or the latest row read."""
    if params.observed_until is not None:
        return to_utc_instant(params.observed_until, params.timezone)
    return contacts.latest_started_at()


def _check_topic(contacts: Contacts, params: Params) -> None:
    if params.match != "any" and not contacts.has("topic"):
        raise InputError(
            f"match: {params.match} needs a 'topic' column, and this input has none "
            "(use match: any, or map a column onto topic with columns:)",
            file=contacts.source,
            column="topic",
        )


# ------------------------------------------------------------------ rules 1–3: what takes part
def _first_reasons(contacts: Contacts, params: Params, until: dt.datetime | None) -> pl.DataFrame:
    frame = contacts.frame.with_columns(
        excluded_reason=pl.when(pl.col("duplicate"))
        .then(pl.lit("duplicate"))
        .when(pl.col("customer_id").is_null())
        .then(pl.lit("anonymous")),
        legs=pl.lit(1, dtype=pl.Int32),
    )
    if contacts.has("conversation_id"):
        frame = _merge_legs(frame)
    reason = pl.col("excluded_reason")
    reason = reason.fill_null(pl.when(pl.col("direction") == "outbound").then(pl.lit("outbound")))
    if params.channels is not None:
        outside = ~pl.col("channel").is_in(list(params.channels))
        reason = reason.fill_null(pl.when(outside).then(pl.lit("channel")))
    if params.abandoned == "exclude":
        reason = reason.fill_null(
            pl.when(pl.col("outcome") == "abandoned").then(pl.lit("abandoned"))
        )
    if params.observed_until is not None and until is not None:
        # SPEC §2 rule 9: rows after an explicit observed_until take no part in rules 5–9.
        reason = reason.fill_null(
            pl.when(pl.col("started_at") > until).then(pl.lit("outside_period"))
        )
    return frame.with_columns(excluded_reason=reason)


def _merge_legs(frame: pl.DataFrame) -> pl.DataFrame:
    """SPEC §2 rule 2: legs sharing a customer and a conversation_id are one contact."""
    leg_key = pl.struct("customer_id", "conversation_id")
    eligible = pl.col("excluded_reason").is_null() & pl.col("conversation_id").is_not_null()
    candidates = frame.filter(eligible)
    legs = candidates.filter(leg_key.is_duplicated())
    if legs.height == 0:
        return frame
    legs = legs.sort("customer_id", "conversation_id", "started_at", "contact_id")
    merged = legs.group_by("customer_id", "conversation_id", maintain_order=True).agg(
        pl.col("source_row").first(),
        pl.col("source_row").alias("__leg_rows"),
        pl.len().cast(pl.Int32).alias("legs"),
        *[pl.col(c).drop_nulls().last().alias(c) for c in _LAST_NON_EMPTY],
        # Inbound if any leg is inbound; handled if any leg is handled, else the first leg's.
        pl.when((pl.col("direction") == "inbound").any())
        .then(pl.lit("inbound"))
        .otherwise(pl.col("direction").first())
        .alias("direction"),
        pl.when((pl.col("outcome") == "handled").any())
        .then(pl.lit("handled"))
        .otherwise(pl.col("outcome").first())
        .alias("outcome"),
    )
    other_legs = merged.select(pl.col("__leg_rows").list.slice(1)).explode("__leg_rows")[
        "__leg_rows"
    ]
    carriers = merged.drop("customer_id", "conversation_id", "__leg_rows")
    merged_columns = [c for c in carriers.columns if c != "source_row"]
    frame = frame.with_columns(
        excluded_reason=pl.when(pl.col("source_row").is_in(other_legs.implode()))
        .then(pl.lit("merged_leg"))
        .otherwise(pl.col("excluded_reason"))
    )
    updated = frame.join(carriers, on="source_row", how="left", suffix="__merged")
    return updated.with_columns(
        pl.coalesce(pl.col(f"{c}__merged"), pl.col(c)).alias(c)
        if c in ("legs", "direction", "outcome")
        else pl.when(pl.col("legs__merged").is_not_null())
        .then(pl.col(f"{c}__merged"))
        .otherwise(pl.col(c))
        .alias(c)
        for c in merged_columns
    ).drop(f"{c}__merged" for c in merged_columns)


# ------------------------------------------------------------------ ordering helpers
def _sorted_by_key(frame: pl.DataFrame, key: pl.Expr) -> tuple[pl.DataFrame, pl.Expr]:
    """Sort so that each (customer, key) group is contiguous and in rule-6 order.

    Sorting on one 64-bit hash is much faster than on the strings. Hashes can collide: if two
    groups share a hash their rows could interleave, so we count group boundaries both ways and
    fall back to sorting on the strings when they differ.
    """
    frame = frame.with_columns(__key=key)
    group_hash = pl.struct("customer_id", "__key").hash(seed=7)
    ordered = frame.sort(group_hash, "started_at", "contact_id")
    same = pl.col("customer_id").eq_missing(pl.col("customer_id").shift()) & pl.col(
        "__key"
    ).eq_missing(pl.col("__key").shift())
    check = ordered.select(
        hash_runs=(group_hash != group_hash.shift()).fill_null(True).sum(),
        key_runs=(~same).sum(),
    )
    if check["hash_runs"][0] != check["key_runs"][0]:
        ordered = frame.sort("customer_id", "__key", "started_at", "contact_id", nulls_last=True)
    return ordered, same


def _sorted_by_customer(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.Expr]:
    """Rule-6 order per customer (customers contiguous, hash-sorted as above)."""
    customer_hash = pl.col("customer_id").hash(seed=11)
    ordered = frame.sort(customer_hash, "started_at", "contact_id")
    same = pl.col("customer_id") == pl.col("customer_id").shift()
    check = ordered.select(
        hash_runs=(customer_hash != customer_hash.shift()).fill_null(True).sum(),
        key_runs=(~same.fill_null(False)).sum(),
    )
    if check["hash_runs"][0] != check["key_runs"][0]:
        ordered = frame.sort("customer_id", "started_at", "contact_id")
    return ordered, same.fill_null(False)


def _matching_neighbours(frame: pl.DataFrame, key: pl.Expr) -> pl.DataFrame:
    """General path (`abandoned: include`): positions of each contact's previous and next
    matching contact, in a frame sorted by customer in rule-6 order (column `__pos`).

    A contact matches an earlier one with the same key, or any abandoned one; an abandoned
    contact matches every contact (SPEC §2 rule 4).
    """
    ordered, same_customer = _sorted_by_customer(frame)
    n = ordered.height
    ordered = ordered.with_columns(
        __pos=pl.int_range(n, dtype=pl.Int64),
        __abandoned=pl.col("outcome") == "abandoned",
        __same_customer=same_customer,
    )
    # First position of each customer, to keep forward/backward fills inside the customer.
    ordered = ordered.with_columns(
        __cust_start=pl.when(~pl.col("__same_customer")).then(pl.col("__pos")).forward_fill(),
    ).with_columns(
        __cust_end=pl.when(~pl.col("__same_customer").shift(-1).fill_null(False))
        .then(pl.col("__pos"))
        .backward_fill(),
    )
    by_key, same_key = _sorted_by_key(ordered, key)
    by_key = by_key.select(
        "__pos",
        __prev_key=pl.when(same_key).then(pl.col("__pos").shift()),
        __next_key=pl.when(same_key.shift(-1).fill_null(False)).then(pl.col("__pos").shift(-1)),
    ).sort("__pos")
    abandoned_pos = pl.when(pl.col("__abandoned")).then(pl.col("__pos"))
    ordered = ordered.with_columns(
        by_key["__prev_key"],
        by_key["__next_key"],
        __prev_ab=abandoned_pos.shift().forward_fill(),
        __next_ab=abandoned_pos.shift(-1).backward_fill(),
    )
    in_customer_prev = pl.col("__prev_ab") >= pl.col("__cust_start")
    in_customer_next = pl.col("__next_ab") <= pl.col("__cust_end")
    prev_any = pl.when(pl.col("__same_customer")).then(pl.col("__pos") - 1)
    next_any = pl.when(pl.col("__pos") < pl.col("__cust_end")).then(pl.col("__pos") + 1)
    return ordered.with_columns(
        __prev=pl.when(pl.col("__abandoned"))
        .then(prev_any)
        .otherwise(pl.max_horizontal("__prev_key", pl.when(in_customer_prev).then("__prev_ab"))),
        __next=pl.when(pl.col("__abandoned"))
        .then(next_any)
        .otherwise(pl.min_horizontal("__next_key", pl.when(in_customer_next).then("__next_ab"))),
    )


# ------------------------------------------------------------------ rule 5: after hours
def _after_hours(active: pl.DataFrame, params: Params, general: bool) -> pl.Series:
    """Source rows left out by SPEC §2 rule 5 (decided once on the counted contacts, D3)."""
    assert params.office_hours is not None
    closed = ~is_open(pl.col("started_at"), params.office_hours, params.timezone)
    key = match_key(params.match)
    if general:
        ordered = _matching_neighbours(active, key)
        ordered = ordered.with_columns(
            __next_start=pl.when(pl.col("__next").is_not_null()).then(
                pl.col("started_at").gather(pl.col("__next").fill_null(0))
            )
        )
    else:
        ordered, same = _sorted_by_key(active, key)
        ordered = ordered.with_columns(
            __next_start=pl.when(same.shift(-1).fill_null(False)).then(
                pl.col("started_at").shift(-1)
            )
        )
    followed = (pl.col("__next_start") - pl.col("started_at")) <= params.window
    return ordered.filter(closed & followed.fill_null(False))["source_row"]


# ------------------------------------------------------------------ rules 6–9: episodes
def _episodes_by_key(active: pl.DataFrame, params: Params) -> pl.DataFrame:
    """Rules 6–7 when episodes never cross keys: contiguous runs inside each sorted group."""
    ordered, same = _sorted_by_key(active, match_key(params.match))
    gap = pl.col("started_at") - pl.col("started_at").shift()
    is_repeat = (same & (gap <= params.window)).fill_null(False)
    position = pl.int_range(pl.len(), dtype=pl.Int64)
    ordered = ordered.with_columns(
        is_repeat=is_repeat,
        repeat_of=pl.when(is_repeat).then(pl.col("contact_id").shift()),
        gap_hours=pl.when(is_repeat).then(gap.dt.total_microseconds() / 3_600_000_000),
        __pos=position,
    ).with_columns(__root=pl.when(~pl.col("is_repeat")).then(pl.col("__pos")).forward_fill())
    return ordered


def _episodes_general(active: pl.DataFrame, params: Params) -> pl.DataFrame:
    """Rules 6–7 under `abandoned: include`: previous matching contact, then roots by jumping."""
    ordered = _matching_neighbours(active, match_key(params.match))
    prev_start = pl.col("started_at").gather(pl.col("__prev").fill_null(0))
    gap = pl.col("started_at") - prev_start
    is_repeat = (pl.col("__prev").is_not_null() & (gap <= params.window)).fill_null(False)
    ordered = ordered.with_columns(
        is_repeat=is_repeat,
        repeat_of=pl.when(is_repeat).then(
            pl.col("contact_id").gather(pl.col("__prev").fill_null(0))
        ),
        gap_hours=pl.when(is_repeat).then(gap.dt.total_microseconds() / 3_600_000_000),
    )
    parent = ordered.select(
        pl.when(pl.col("is_repeat")).then(pl.col("__prev")).otherwise(pl.col("__pos"))
    ).to_series()
    # Pointer jumping: every step halves the remaining distance to the episode's first contact.
    while True:
        grand = parent.gather(parent)
        if grand.equals(parent):
            break
        parent = grand
    # Episodes become contiguous when sorted by (root, position).
    ordered = ordered.with_columns(__root=parent).sort("__root", "__pos")
    return ordered.with_columns(__pos=pl.int_range(pl.len(), dtype=pl.Int64)).with_columns(
        __root=pl.when(~pl.col("is_repeat")).then(pl.col("__pos")).forward_fill()
    )


def _finish_episodes(
    ordered: pl.DataFrame, params: Params, until: dt.datetime | None
) -> pl.DataFrame:
    """Rules 7–10 on a frame whose episodes are contiguous runs (`__root` = first position)."""
    root = pl.col("__root")
    first_start = pl.col("started_at").gather(root)
    ordered = ordered.with_columns(
        episode_id=pl.col("contact_id").gather(root),
        episode_seq=(pl.col("__pos") - root + 1).cast(pl.Int32),
        __first_start=first_start,
    )
    # Episodes are contiguous runs in order, so their sizes line up with a running count.
    sizes = ordered["__root"].unique_counts()
    episode_number = (~pl.col("is_repeat")).cast(pl.Int64).cum_sum() - 1
    ordered = ordered.with_columns(episode_size=pl.lit(sizes).gather(episode_number).cast(pl.Int32))
    # SPEC §2 rule 9: pending when the first contact's window is not fully observed.
    pending = pl.lit(False) if until is None else (pl.col("__first_start") + params.window) > until
    fix = (pl.col("episode_size") == 1) & (pl.col("outcome") != "abandoned")
    if params.transfers == "breaks_fcr":
        fix = fix & (pl.col("legs") == 1)
    if params.period is None:
        in_period = pl.lit(True)
    else:
        first_day = local_date(pl.col("__first_start"), params.timezone)
        in_period = (first_day >= params.period.start) & (first_day < params.period.end)
    return ordered.with_columns(
        pending=pending,
        first_contact_fix=pl.when((pl.col("episode_seq") == 1) & ~pending).then(fix),
        in_period=in_period,
        counted=pl.lit(True),
    ).with_columns(
        # SPEC §2 rule 10 / decisions D1: rows of episodes outside the period keep their labels.
        excluded_reason=pl.when(~pl.col("in_period")).then(pl.lit("outside_period"))
    )


# ------------------------------------------------------------------ public
def label_repeats(
    contacts: Contacts, params: Params | None = None, *, contact_fields: bool = False
) -> pl.DataFrame:
    """Label every input row with SPEC §3's columns (one row per row read).

    With `contact_fields=True` the merged contact's other fields (team, agent, resolved, survey,
    CES, CSAT, direction, outcome, number of legs, …) follow, for summaries and gap analyses.
    """
    params = params or Params()
    _check_topic(contacts, params)
    until = observed_until(contacts, params)
    frame = _first_reasons(contacts, params, until)
    active = frame.filter(pl.col("excluded_reason").is_null())
    general = params.abandoned == "include" and bool((active["outcome"] == "abandoned").any())
    if params.after_hours == "follow_up_is_first" and active.height:
        late = _after_hours(active, params, general)
        if late.len():
            is_late = pl.col("source_row").is_in(late.implode())
            frame = frame.with_columns(
                excluded_reason=pl.when(is_late)
                .then(pl.lit("after_hours"))
                .otherwise(pl.col("excluded_reason"))
            )
            active = active.filter(~is_late)
    if active.height:
        episodes = (
            _episodes_general(active, params) if general else _episodes_by_key(active, params)
        )
        labelled = _finish_episodes(episodes, params, until)
    else:
        labelled = active.with_columns(
            counted=pl.lit(True),
            **{c: pl.lit(None) for c in _LABELS if c != "counted"},
        )
    left_out = frame.filter(pl.col("excluded_reason").is_not_null()).with_columns(
        counted=pl.lit(False)
    )
    columns = [*LABEL_COLUMNS, *(CONTACT_FIELDS if contact_fields else ())]
    typed = [pl.col(c).cast(t) for c, t in _LABEL_TYPES.items()]
    out = pl.concat(
        [
            labelled.with_columns(typed).select(columns),
            left_out.with_columns(
                pl.lit(None, dtype=t).alias(c)
                for c, t in _LABEL_TYPES.items()
                if c not in ("counted", "excluded_reason")
            )
            .with_columns(typed)
            .select(columns),
        ]
    )
    return out.with_columns(pl.col("started_at").dt.convert_time_zone(params.timezone))
