"""Weekly FCR per topic against its own recent past (SPEC §3 `fcrlab gaps`, decisions G5, G9):
which topics suddenly got worse, and which dated change probably explains it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from fcrlab.errors import ParamsError
from fcrlab.params import Params
from fcrlab.read.web import topic_of_page
from fcrlab.stats import binomial_lower_limit, binomial_p_at_most

__all__ = ["WEEKLY_COLUMNS", "change_labels", "weekly", "worst_weeks"]

WEEKLY_COLUMNS = (
    "topic",
    "week",
    "week_start",
    "episodes",
    "fixes",
    "fcr",
    "baseline_fcr",
    "lower_limit",
    "spike",
    "change",
    "change_date",
)
_SPIKE_P = 0.001  # G5: the lower 99.8 % p-chart limit
_BASELINE_WEEKS, _MIN_BASELINE_WEEKS, _CHANGE_WEEKS = 8, 4, 8  # G5


def weekly(grid: pl.DataFrame, params: Params, changes: tuple[pl.Expr, pl.Expr]) -> pl.DataFrame:
    """G5: FCR per topic and ISO week against the pooled FCR of the 8 weeks before it, over
    every settled episode; G9: only the weeks whose Monday is in the period are reported."""
    weeks = grid.group_by("topic", "monday").agg(pl.col("episodes").sum(), pl.col("fixes").sum())
    # A dense calendar per topic, so that "the 8 weeks before" is a fixed number of rows.
    first, last = weeks["monday"].min() or 0, weeks["monday"].max() or -1
    calendar = pl.int_range(first, last + 1, 7, eager=True, dtype=pl.Int32).alias("monday")  # type: ignore[operator]
    dense = (
        weeks.select("topic")
        .unique()
        .join(calendar.to_frame(), how="cross")
        .join(weeks, on=["topic", "monday"], how="left", nulls_equal=True)
        .with_columns(pl.col("episodes", "fixes").fill_null(0))
        .sort("topic", "monday", nulls_last=True)
        .with_columns(active=(pl.col("episodes") > 0).cast(pl.Int64))
    )
    trailing = {
        f"base_{c}": (
            pl.col(c).cum_sum().shift(1)
            - pl.col(c).cum_sum().shift(_BASELINE_WEEKS + 1).fill_null(0)
        ).over("topic")
        for c in ("episodes", "fixes", "active")
    }
    enough = (pl.col("base_active") >= _MIN_BASELINE_WEEKS) & (
        pl.col("base_episodes") >= params.min_episodes
    )
    weekly = (
        dense.with_columns(**trailing)
        .filter(pl.col("episodes") > 0)
        .with_columns(
            fcr=pl.col("fixes") / pl.col("episodes"),
            baseline_fcr=pl.when(enough).then(pl.col("base_fixes") / pl.col("base_episodes")),
            week_start=pl.col("monday").cast(pl.Date),
        )
    )
    n = weekly["episodes"].to_numpy()
    baseline = weekly["baseline_fcr"].fill_null(np.nan).to_numpy()
    spike = (binomial_p_at_most(weekly["fixes"], n, baseline) < _SPIKE_P) & (
        n >= params.min_episodes
    )
    monday = pl.col("week_start")
    weekly = weekly.with_columns(
        week=pl.format(
            "{}-W{}", monday.dt.iso_year(), monday.dt.week().cast(pl.String).str.zfill(2)
        ),
        lower_limit=pl.Series(binomial_lower_limit(n, baseline, _SPIKE_P)).fill_nan(None),
        spike=pl.Series(spike, dtype=pl.Boolean),
    )
    change, change_date = changes
    if params.period is not None:
        weekly = weekly.filter(
            monday.is_between(params.period.start, params.period.end, closed="left")
        )
    return (
        weekly.with_columns(change=change, change_date=change_date)
        .select(WEEKLY_COLUMNS)
        .sort("topic", "week_start", nulls_last=True)
    )


def change_labels(params: Params, page_topics: pl.DataFrame | None) -> tuple[pl.Expr, pl.Expr]:
    """G5: a change labels the spikes of its topic and sub-topics in the weeks from its own
    week's Monday to 8 weeks later; the latest change wins (the later one listed on a tie)."""
    note, date = pl.lit(None, dtype=pl.String), pl.lit(None, dtype=pl.Date)
    ordered = sorted(enumerate(params.changes), key=lambda item: (item[1].date, item[0]))
    for index, change in ordered:
        topic = change.topic or _page_topic(change.page or "", page_topics, index)
        monday = change.date - dt.timedelta(days=change.date.weekday())
        hit = (
            pl.col("spike")
            & ((pl.col("topic") == topic) | pl.col("topic").str.starts_with(topic + "/"))
            & pl.col("week_start").is_between(monday, monday + dt.timedelta(weeks=_CHANGE_WEEKS))
        ).fill_null(False)
        note = pl.when(hit).then(pl.lit(change.note)).otherwise(note)
        date = pl.when(hit).then(pl.lit(change.date)).otherwise(date)
    return note, date


def _page_topic(page: str, page_topics: pl.DataFrame | None, index: int) -> str:
    """The topic a change's page answers, by `page_topics` (decisions W3)."""
    if page_topics is None:
        raise ParamsError("a change names a page, so page_topics must be set", key="page_topics")
    topic = topic_of_page(page, page_topics)
    if topic is None:
        raise ParamsError(f"page {page!r} is not in page_topics", key=f"changes[{index}].page")
    return topic


def worst_weeks(weekly: pl.DataFrame, topics: int = 4) -> pl.DataFrame:
    """The weekly rows of the topics with the most spikes, then the deepest drop below their
    baseline: what the weekly control chart shows."""
    worst = (
        weekly.group_by("topic")
        .agg(spikes=pl.col("spike").sum(), drop=(pl.col("fcr") - pl.col("baseline_fcr")).min())
        .sort("spikes", "drop", "topic", descending=[True, False, False], nulls_last=True)
        .head(topics)
    )
    rank = worst.select("topic").with_row_index("rank")
    chosen = weekly.join(rank, on="topic", nulls_equal=True, maintain_order="left")
    return chosen.sort("rank", "week_start").drop("rank")
