"""Which signal tells a repeat in advance (SPEC §3 `fcrlab gaps`, decisions G7): per topic what
customers did, what agents ticked, what surveys said and the effort, and how well each recorded
signal predicts an actual repeat.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fcrlab.engine.repeats import Labels
from fcrlab.gaps.cells import settled
from fcrlab.stats import auc_from_counts, auc_interval

__all__ = ["signal_auc", "signal_counts", "signals"]


def signal_counts(labels: Labels) -> pl.DataFrame:
    """Reported episodes counted per value of each signal and the actual fix (G7)."""
    return (
        settled(labels)
        .filter("in_period")
        .group_by("first_contact_fix", "resolved", "survey_resolved", "ces")
        .len()
        .collect()
    )


def signals(grid: pl.DataFrame) -> pl.DataFrame:
    """G7: per topic what customers did, what agents ticked, what surveys said, mean CES."""
    sums = ("episodes", "fixes", "flag_n", "flag", "survey_n", "survey", "ces_n", "ces_sum")
    topics = grid.group_by("topic").agg(pl.col(c).sum() for c in sums)
    rate = lambda k, n: pl.when(pl.col(n) > 0).then(pl.col(k) / pl.col(n))  # noqa: E731
    return topics.select(
        "topic",
        "episodes",
        fcr=rate("fixes", "episodes"),
        fcr_flag=rate("flag", "flag_n"),
        fcr_survey=rate("survey", "survey_n"),
        mean_ces=rate("ces_sum", "ces_n"),
    ).sort("topic", nulls_last=True)


# Each signal's values in increasing order of suspicion: a higher score predicts a repeat.
_SIGNALS = {
    "resolved": [True, False],  # the agent did not tick resolved
    "survey_resolved": [True, False],  # the customer said it was not resolved
    "ces": list(range(1, 8)),  # more effort
}


def signal_auc(counts: pl.DataFrame) -> pl.DataFrame:
    """G7: how well each signal tells a repeat (an episode that was not a fix) from a fix, as
    the AUC over the episodes where it is present, with a Hanley–McNeil 95 % interval."""
    rows = []
    for signal, values in _SIGNALS.items():
        table = (
            counts.filter(pl.col(signal).is_not_null())
            .group_by(signal, "first_contact_fix")
            .agg(pl.col("len").sum())
        )
        n = {(v, fix): k for v, fix, k in table.iter_rows()}
        repeats = np.array([n.get((v, False), 0) for v in values])
        fixes = np.array([n.get((v, True), 0) for v in values])
        auc = auc_from_counts(repeats, fixes)
        low, high = (None, None) if auc is None else auc_interval(auc, repeats.sum(), fixes.sum())
        rows.append((signal, int(repeats.sum() + fixes.sum()), int(repeats.sum()), auc, low, high))
    schema = ["signal", "n", "repeats", "auc", "ci_low", "ci_high"]
    return pl.DataFrame(rows, schema=schema, orient="row").cast(
        {
            "n": pl.Int64,
            "repeats": pl.Int64,
            "auc": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
        }
    )
