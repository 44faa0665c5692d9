"""Per topic and team or agent (SPEC §3 `fcrlab gaps`, decisions G1–G4, G8): the settled
episodes aggregated once, the cells against their peers, the mix-adjusted ratio per unit and
the training needs.

Fast on tens of millions of contacts: one lazy query aggregates the episodes ONCE at (topic,
team, agent, week) and every table is rolled up from that small frame.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fcrlab.engine.repeats import Labels
from fcrlab.params import Params
from fcrlab.read.clock import local_day_numbers
from fcrlab.stats import (
    benjamini_hochberg,
    beta_binomial_strength,
    fisher_p_worse,
    poisson_limits,
    shrink_rates,
)

__all__ = [
    "CELL_COLUMNS",
    "MIX_COLUMNS",
    "aggregate",
    "cells",
    "funnel_curve",
    "mix_adjusted",
    "settled",
    "training_needs",
]

CELL_COLUMNS = (
    "level",
    "unit",
    "topic",
    "episodes",
    "fixes",
    "fcr",
    "peer_fcr",
    "expected_repeats",
    "observed_repeats",
    "shrunk_fcr",
    "p_value",
    "flagged",
)
MIX_COLUMNS = (
    "level",
    "unit",
    "episodes",
    "observed_repeats",
    "expected_repeats",
    "ratio",
    "low95",
    "high95",
    "low998",
    "high998",
    "flagged",
)


def settled(labels: Labels) -> pl.LazyFrame:
    """G1: the episodes, by their first contact, whose window is fully observed."""
    settled = pl.col("counted") & ~pl.col("is_repeat") & ~pl.col("pending")
    return labels.lazy().filter(settled.fill_null(False))


def aggregate(labels: Labels, params: Params) -> pl.DataFrame:
    """The settled episodes aggregated ONCE per (topic, team, agent, ISO week, in the period)
    with the sums every table needs (G1; G9: the weekly baselines also use the weeks before
    the period)."""
    day = local_day_numbers(labels, "started_at", params.timezone)
    return (
        settled(labels)
        .group_by(
            "topic",
            "team",
            "agent_id",
            "in_period",
            monday=day - (day + 3) % 7,  # 1970-01-01: Thu
        )
        .agg(
            episodes=pl.len().cast(pl.Int64),
            fixes=pl.col("first_contact_fix").sum().cast(pl.Int64),
            flag_n=pl.col("resolved").count().cast(pl.Int64),
            flag=pl.col("resolved").sum().cast(pl.Int64),
            survey_n=pl.col("survey_resolved").count().cast(pl.Int64),
            survey=pl.col("survey_resolved").sum().cast(pl.Int64),
            ces_n=pl.col("ces").count().cast(pl.Int64),
            ces_sum=pl.col("ces").cast(pl.Int64).sum(),
        )
        .collect()
    )


def _topics(grid: pl.DataFrame) -> pl.DataFrame:
    return grid.group_by("topic").agg(
        topic_episodes=pl.col("episodes").sum(), topic_fixes=pl.col("fixes").sum()
    )


def _unit_cells(grid: pl.DataFrame) -> pl.DataFrame:
    """Per (topic, team) and (topic, agent): episodes, fixes and the topic's totals. G1: an
    episode without a team (agent) is in its topic's totals but in no cell of that level."""
    parts = [
        grid.filter(pl.col(column).is_not_null())
        .group_by("topic", column)
        .agg(pl.col("episodes").sum(), pl.col("fixes").sum())
        .select(
            pl.lit(level).alias("level"), pl.col(column).alias("unit"), "topic", "episodes", "fixes"
        )
        for level, column in (("team", "team"), ("agent", "agent_id"))
    ]
    topics = _topics(grid).with_columns(topic_fcr=pl.col("topic_fixes") / pl.col("topic_episodes"))
    cells = pl.concat(parts).join(topics, on="topic", nulls_equal=True, maintain_order="left")
    # A fixed order, so that float sums over cells (G3, G4) come out the same to the last bit.
    return cells.sort(pl.col("level") == "agent", "topic", "unit", nulls_last=True)


def cells(grid: pl.DataFrame, params: Params) -> pl.DataFrame:
    cells = _unit_cells(grid)
    groups = cells.select("level", "topic").unique(maintain_order=True).with_row_index("group")
    cells = cells.join(groups, on=["level", "topic"], nulls_equal=True, maintain_order="left")
    peer_episodes = pl.col("topic_episodes") - pl.col("episodes")
    cells = cells.with_columns(
        fcr=pl.col("fixes") / pl.col("episodes"),
        # G2: the peers are all other units of the level, episodes without a unit included.
        peer_fcr=pl.when(peer_episodes > 0).then(
            (pl.col("topic_fixes") - pl.col("fixes")) / peer_episodes
        ),
        observed_repeats=pl.col("episodes") - pl.col("fixes"),
        tested=(pl.col("episodes") >= params.min_episodes) & (peer_episodes > 0),
    ).with_columns(expected_repeats=pl.col("episodes") * (1 - pl.col("peer_fcr")))
    # G2: Fisher's exact test of the unit against its peers (their rate is not exact either).
    peer_n = (cells["topic_episodes"] - cells["episodes"]).to_numpy()
    peer_bad = peer_n - (cells["topic_fixes"] - cells["fixes"]).to_numpy()
    with np.errstate(invalid="ignore"):
        p_value = np.where(
            cells["tested"].to_numpy(),
            fisher_p_worse(cells["observed_repeats"], cells["episodes"], peer_bad, peer_n),
            np.nan,
        )
    # G2: one Benjamini–Hochberg over the tested cells of both levels; only worse is flagged.
    rejected = pl.Series(benjamini_hochberg(p_value, params.fdr))
    # G3: a Beta prior per (level, topic) with the topic's FCR over all its episodes as mean.
    x, n, mean = cells["fixes"], cells["episodes"], cells["topic_fcr"]
    strength = beta_binomial_strength(x, n, mean, cells["group"].to_numpy())
    return (
        cells.with_columns(
            p_value=pl.Series(p_value).fill_nan(None),
            flagged=rejected & (pl.col("fcr") < pl.col("peer_fcr")).fill_null(False),
            shrunk_fcr=pl.Series(shrink_rates(x, n, mean, strength)),
        )
        .select(CELL_COLUMNS)
        .sort(pl.col("level") == "agent", "topic", "unit", nulls_last=True)
    )


def mix_adjusted(grid: pl.DataFrame, params: Params) -> pl.DataFrame:
    """G4: observed against expected repeats given the unit's own topics (indirect
    standardisation) with exact-Poisson funnel limits; only worse than 99.8 % is flagged."""
    units = (
        _unit_cells(grid)
        .group_by("level", "unit", maintain_order=True)
        .agg(
            episodes=pl.col("episodes").sum(),
            observed_repeats=(pl.col("episodes") - pl.col("fixes")).sum(),
            expected_repeats=(pl.col("episodes") * (1 - pl.col("topic_fcr"))).sum(),
        )
    )
    expected = units["expected_repeats"].to_numpy()
    limits = _funnel(expected)
    high = np.nan_to_num(poisson_limits(expected, 0.998)[1], nan=np.inf)
    above = pl.Series(units["observed_repeats"].to_numpy() > high)
    return (
        units.with_columns(
            ratio=pl.when(pl.col("expected_repeats") > 0).then(
                pl.col("observed_repeats") / pl.col("expected_repeats")
            ),
            flagged=above & (pl.col("episodes") >= params.min_episodes),
            **{k: pl.Series(v).fill_nan(None) for k, v in limits.items()},
        )
        .select(MIX_COLUMNS)
        .sort(pl.col("level") == "agent", "unit", nulls_last=True)
    )


def _funnel(expected: np.ndarray) -> dict[str, np.ndarray]:
    """G4: the exact-Poisson limits on the observed count, as ratios to the expected."""
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, coverage in (("95", 0.95), ("998", 0.998)):
            low, high = poisson_limits(expected, coverage)
            out[f"low{name}"], out[f"high{name}"] = low / expected, high / expected
    return out


def funnel_curve(mix_adjusted: pl.DataFrame, level: str = "team", points: int = 80) -> pl.DataFrame:
    """The funnel plot's limit lines over the range of one level's expected repeats (G4)."""
    units = mix_adjusted.filter((pl.col("level") == level) & (pl.col("expected_repeats") > 0))
    expected = units["expected_repeats"]
    grid = np.array([], dtype=float)
    if expected.len():
        low = max(0.5, 0.8 * float(expected.min()))  # type: ignore[arg-type]
        high = max(1.1 * float(expected.max()), 1.5 * low)  # type: ignore[arg-type]
        grid = np.unique(np.geomspace(low, high, points).round(3))
    return pl.DataFrame({"expected_repeats": grid, **_funnel(grid)}).cast(pl.Float64)


def training_needs(cells: pl.DataFrame, grid: pl.DataFrame, params: Params) -> pl.DataFrame:
    """G8: agent × topic cells with enough episodes and more repeats than their peers' rate
    predicts, largest excess first; `team` is the team of most of the agent's episodes."""
    teams = (
        grid.filter(pl.col("agent_id").is_not_null())
        .group_by("agent_id", "team")
        .agg(pl.col("episodes").sum())
        .sort("agent_id", "episodes", "team", descending=[False, True, False], nulls_last=True)
        .unique("agent_id", keep="first", maintain_order=True)
        .select(unit="agent_id", team="team")
    )
    excess = pl.col("observed_repeats") - pl.col("expected_repeats")
    return (
        cells.filter(
            (pl.col("level") == "agent")
            & (pl.col("episodes") >= params.min_episodes)
            & (excess > 0)
        )
        .join(teams, on="unit", how="left", maintain_order="left")
        .select(
            pl.col("unit").alias("agent_id"),
            "team",
            "topic",
            "episodes",
            "fcr",
            "peer_fcr",
            "observed_repeats",
            "expected_repeats",
            excess.alias("excess_repeats"),
            "p_value",
            "flagged",
        )
        .sort(
            "excess_repeats", "agent_id", "topic", descending=[True, False, False], nulls_last=True
        )
    )
