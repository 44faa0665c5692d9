"""Follow-up questions (SPEC §3 `fcrlab gaps`, decisions G6): for each counted contact of the
period whose window is fully observed, the same customer's next counted contact, any topic.

Each customer's counted contacts in rule-6 order come from the engine's one grouping sort; a
contact's follow-up is then the next row of the same customer, and the period, the censoring and
the window are the engine's own rule expressions.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from fcrlab.engine.grouping import Keys, sort_by_group
from fcrlab.engine.repeats import Labels, in_period, is_pending, within_window
from fcrlab.params import Params

__all__ = ["follow_ups"]


def follow_ups(labels: Labels, params: Params, until: dt.datetime | None) -> pl.DataFrame:
    """G6: `topic → next_topic` with `count`, the topic's eligible `contacts` and `share`,
    most frequent first. A contact is eligible when it started in the period and its window is
    fully observed; its follow-up is the same customer's next counted contact in rule-6 order
    (any topic) when it started at most `window` later."""
    counted = labels.lazy().filter(pl.col("counted").fill_null(False))
    frame = counted.select(
        "customer_id", "contact_id", "topic", t=pl.col("started_at").dt.epoch("us")
    ).collect()
    names = frame["topic"].unique().drop_nulls().sort()
    # Topic codes 0 … len(names) − 1 in name order; the empty topic is a topic of its own (D6).
    codes = frame["topic"].cast(pl.Enum(names)).to_physical().cast(pl.Int64)
    empty = names.len()
    ids = frame["contact_id"]
    order = sort_by_group(Keys(frame["customer_id"]), frame["t"], tie=lambda at: ids.gather(at))
    t, following = pl.col("by"), pl.col("by").shift(-1)
    steps = (
        order.lazy()
        .select(
            code=pl.lit(codes.fill_null(empty)).gather(pl.col("row")),
            eligible=in_period(t, params) & ~is_pending(t, until, params),
            followed=pl.col("same").shift(-1).fill_null(False)
            & within_window(t, following, params),
        )
        .with_columns(next_code=pl.col("code").shift(-1))
    )
    eligible = steps.filter("eligible")
    contacts = eligible.group_by("code").agg(contacts=pl.len().cast(pl.Int64))
    pairs = (
        eligible.filter("followed")
        .group_by("code", "next_code")
        .agg(count=pl.len().cast(pl.Int64))
        .join(contacts, on="code", how="left")
        .collect()
    )
    topic = pl.Series([*names.to_list(), None], dtype=pl.String)
    table = pairs.select(
        topic=pl.lit(topic).gather(pl.col("code")),
        next_topic=pl.lit(topic).gather(pl.col("next_code")),
        count="count",
        contacts="contacts",
    )
    return table.with_columns(share=pl.col("count") / pl.col("contacts")).sort(
        "count", "topic", "next_topic", descending=[True, False, False], nulls_last=True
    )
