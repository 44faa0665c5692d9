"""FCR summaries over labelled contacts: SPEC §2 "Summary" and the breakdowns per value.

Every analysis here takes contacts (labelled on the way) or labels already made, and calls the
engine's rules; nothing here re-derives a rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import polars as pl

from fcrlab.engine.repeats import REASONS, Labels, is_episode, is_reported, labels_of
from fcrlab.params import Params
from fcrlab.read.contacts import Contacts
from fcrlab.stats import rate_summary, wilson_exprs
from fcrlab.version import version

__all__ = [
    "SUMMARY_COLUMNS",
    "Summary",
    "episodes_table",
    "fcr_breakdown",
    "fcr_summary",
    "fcr_variants",
    "ledger",
    "ledger_table",
    "pending_table",
]

# The label columns a summary reads.
SUMMARY_COLUMNS = (
    "contact_id",
    "channel",
    "counted",
    "excluded_reason",
    "episode_seq",
    "is_repeat",
    "repeat_of",
    "first_contact_fix",
    "pending",
    "in_period",
    "resolved",
    "survey_resolved",
)


def ledger(labels: pl.DataFrame) -> dict[str, int]:
    """Rows left out per reason, in SPEC §2 rule 1's order (zeros included)."""
    counts = dict(
        labels.group_by("excluded_reason")
        .len()
        .drop_nulls("excluded_reason")
        .sort("excluded_reason")
        .iter_rows()
    )
    return {reason: int(counts.get(reason, 0)) for reason in REASONS}


@dataclasses.dataclass(frozen=True)
class Summary(Mapping[str, Any]):
    """SPEC §2's summary: read like the `--json` object (`summary["fcr"]`), or as it is
    printed (`summary.to_json()`)."""

    numbers: Mapping[str, Any]
    params: Params

    def __getitem__(self, key: str) -> Any:
        return self.numbers[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.numbers)

    def __len__(self) -> int:
        return len(self.numbers)

    def to_json(self) -> dict[str, Any]:
        """SPEC §3's `repeats --json` object, every effective parameter and the version."""
        return {**self.numbers, "params": self.params.to_dict(), "fcrlab_version": version()}


def fcr_summary(data: Contacts | Labels, params: Params | None = None) -> Summary:
    """SPEC §2's summary over the reported episodes: every rate with `_n` and a Wilson interval.

    `data` is contacts (labelled here) or their labels (`label_repeats(..., contact_fields=
    True)`, or a scan of them as `fcrlab repeats` wrote them)."""
    params = params or Params()
    labels = labels_of(data, params, SUMMARY_COLUMNS).lazy().select(SUMMARY_COLUMNS).collect()
    reported = labels.filter(is_reported())
    settled = reported.filter(~pl.col("pending"))
    firsts = settled.filter(~pl.col("is_repeat"))
    counts = firsts.select(
        episodes=pl.len(),
        fixes=pl.col("first_contact_fix").sum(),
        flag_n=pl.col("resolved").is_not_null().sum(),
        flag=pl.col("resolved").fill_null(False).sum(),
        strict=(pl.col("resolved").fill_null(False) & pl.col("first_contact_fix")).sum(),
        survey_n=pl.col("survey_resolved").is_not_null().sum(),
        survey=pl.col("survey_resolved").fill_null(False).sum(),
    ).row(0, named=True)
    repeats = settled.filter(pl.col("is_repeat"))
    previous = labels.filter(pl.col("counted")).select(
        repeat_of="contact_id", previous_channel="channel"
    )
    crossing = repeats.join(previous, on="repeat_of", how="left").select(
        (pl.col("channel") != pl.col("previous_channel")).sum()
    )
    rows_ledger = ledger(labels)
    values: dict[str, Any] = {
        "rows_read": labels.height,
        "rows_used": labels.height - sum(rows_ledger.values()),
        "contacts_counted": reported.height,
        "episodes": counts["episodes"],
        "pending_episodes": reported.filter(pl.col("pending") & ~pl.col("is_repeat")).height,
        "first_contact_fixes": counts["fixes"],
    }
    values.update(rate_summary("fcr", counts["fixes"], counts["episodes"]))
    values.update(rate_summary("fcr_flag", counts["flag"], counts["flag_n"]))
    values.update(rate_summary("fcr_strict", counts["strict"], counts["flag_n"]))
    values.update(rate_summary("fcr_survey", counts["survey"], counts["survey_n"]))
    values.update(rate_summary("repeat_rate", repeats.height, settled.height))
    values.update(
        rate_summary("cross_channel_repeat_share", int(crossing.item() or 0), repeats.height)
    )
    values["ledger"] = rows_ledger
    return Summary(MappingProxyType(values), params)


def episodes_table(labels: pl.DataFrame) -> pl.DataFrame:
    """One row per reported episode (its first contact), with the episode's label columns."""
    return labels.filter(is_episode()).sort("source_row")


def fcr_breakdown(labels: pl.DataFrame, by: str | Sequence[str]) -> pl.DataFrame:
    """FCR per value of `by` (channel, topic, team, …) of the episode's first contact.

    Columns: episodes, fixes, fcr with its Wilson interval, pending episodes; worst FCR first
    (ties by the key), so the table reads as a to-do list. `labels` with `contact_fields=True`
    when breaking down by team or agent.
    """
    keys = [by] if isinstance(by, str) else list(by)
    table = (
        labels.filter(is_episode())
        .group_by(keys)
        .agg(
            episodes=(~pl.col("pending")).sum(),
            fixes=pl.col("first_contact_fix").fill_null(False).sum(),
            pending_episodes=pl.col("pending").sum(),
        )
    )
    low, high = wilson_exprs(pl.col("fixes"), pl.col("episodes"))
    return table.with_columns(
        fcr=pl.when(pl.col("episodes") > 0).then(pl.col("fixes") / pl.col("episodes")),
        fcr_ci_low=low,
        fcr_ci_high=high,
    ).sort(["fcr", *keys], nulls_last=True)


_VARIANTS = (
    ("fcr", "Customers did not come back (behaviour)"),
    ("fcr_flag", "Agent ticked 'resolved'"),
    ("fcr_strict", "Ticked resolved and did not come back"),
    ("fcr_survey", "Customer said resolved (survey)"),
)


def fcr_variants(summary: Mapping[str, Any]) -> pl.DataFrame:
    """The four FCR readings of one summary as a long table, for a chart or a glance."""
    return pl.DataFrame(
        [
            {
                "measure": name,
                "label": label,
                "rate": summary[name],
                "ci_low": summary[f"{name}_ci_low"],
                "ci_high": summary[f"{name}_ci_high"],
                "n": summary[f"{name}_n"],
            }
            for name, label in _VARIANTS
        ],
        schema={
            "measure": pl.String,
            "label": pl.String,
            "rate": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "n": pl.Int64,
        },
    )


def ledger_table(summary: Mapping[str, Any]) -> pl.DataFrame:
    """Rows read, used and left out per reason: the accounting every report shows."""
    rows = [("rows read", summary["rows_read"]), ("rows used", summary["rows_used"])]
    rows += [(f"left out: {reason}", n) for reason, n in summary["ledger"].items()]
    return pl.DataFrame(rows, schema={"rows": pl.String, "count": pl.Int64}, orient="row")


def pending_table(labels: pl.DataFrame) -> pl.DataFrame:
    """Reported episodes still pending, per local start date: what the next run will settle."""
    return (
        labels.filter(is_episode() & pl.col("pending"))
        .group_by(day=pl.col("started_at").dt.date())
        .agg(pending_episodes=pl.len(), repeats_so_far=(pl.col("episode_size") - 1).sum())
        .sort("day")
    )
