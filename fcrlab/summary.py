"""FCR summaries over the labelled contacts: SPEC §2 "Summary", breakdowns, window sensitivity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from fcrlab import __version__
from fcrlab.io import Contacts
from fcrlab.params import Params, parse_duration
from fcrlab.repeats import REASONS, label_repeats
from fcrlab.stats import wilson_exprs, wilson_interval

__all__ = [
    "SENSITIVITY_WINDOWS",
    "episodes_table",
    "fcr_breakdown",
    "fcr_summary",
    "ledger",
    "window_sensitivity",
]

SENSITIVITY_WINDOWS = ("24h", "48h", "72h", "7d", "14d", "30d")


def _rate(name: str, successes: int, n: int) -> dict[str, Any]:
    """A rate as SPEC §2 wants it: fraction (null when n = 0), its n and 95 % Wilson interval."""
    low, high = wilson_interval(successes, n)
    return {
        name: successes / n if n else None,
        f"{name}_n": n,
        f"{name}_ci_low": low,
        f"{name}_ci_high": high,
    }


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


def episodes_table(labels: pl.DataFrame) -> pl.DataFrame:
    """One row per reported episode (its first contact), with the episode's label columns.

    `labels` must come from `label_repeats(..., contact_fields=True)`.
    """
    return labels.filter(
        pl.col("counted") & pl.col("in_period") & (pl.col("episode_seq") == 1)
    ).sort("source_row")


def fcr_summary(
    contacts: Contacts, params: Params | None = None, labels: pl.DataFrame | None = None
) -> dict[str, Any]:
    """SPEC §2's summary and §3's `--json` object: every rate with `_n` and a Wilson interval."""
    params = params or Params()
    if labels is None:
        labels = label_repeats(contacts, params, contact_fields=True)
    reported = labels.filter(pl.col("counted") & pl.col("in_period"))
    settled = reported.filter(~pl.col("pending"))
    firsts = settled.filter(pl.col("episode_seq") == 1)
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
    summary: dict[str, Any] = {
        "rows_read": labels.height,
        "rows_used": labels.height - sum(rows_ledger.values()),
        "contacts_counted": reported.height,
        "episodes": counts["episodes"],
        "pending_episodes": reported.filter(
            pl.col("pending") & (pl.col("episode_seq") == 1)
        ).height,
        "first_contact_fixes": counts["fixes"],
    }
    summary.update(_rate("fcr", counts["fixes"], counts["episodes"]))
    summary.update(_rate("fcr_flag", counts["flag"], counts["flag_n"]))
    summary.update(_rate("fcr_strict", counts["strict"], counts["flag_n"]))
    summary.update(_rate("fcr_survey", counts["survey"], counts["survey_n"]))
    summary.update(_rate("repeat_rate", repeats.height, settled.height))
    summary.update(_rate("cross_channel_repeat_share", int(crossing.item() or 0), repeats.height))
    summary["ledger"] = rows_ledger
    summary["params"] = params.to_dict()
    summary["fcrlab_version"] = __version__
    return summary


def fcr_breakdown(labels: pl.DataFrame, by: str | Sequence[str]) -> pl.DataFrame:
    """FCR per value of `by` (channel, topic, team, …) of the episode's first contact.

    Columns: episodes, fixes, fcr with its Wilson interval, pending episodes; worst FCR first
    (ties by the key), so the table reads as a to-do list. `labels` with `contact_fields=True`
    when breaking down by team or agent.
    """
    keys = [by] if isinstance(by, str) else list(by)
    firsts = labels.filter(pl.col("counted") & pl.col("in_period") & (pl.col("episode_seq") == 1))
    table = firsts.group_by(keys).agg(
        episodes=(~pl.col("pending")).sum(),
        fixes=pl.col("first_contact_fix").fill_null(False).sum(),
        pending_episodes=pl.col("pending").sum(),
    )
    low, high = wilson_exprs(pl.col("fixes"), pl.col("episodes"))
    return table.with_columns(
        fcr=pl.when(pl.col("episodes") > 0).then(pl.col("fixes") / pl.col("episodes")),
        fcr_ci_low=low,
        fcr_ci_high=high,
    ).sort(["fcr", *keys], nulls_last=True)


def window_sensitivity(
    contacts: Contacts,
    params: Params | None = None,
    windows: Sequence[str] = SENSITIVITY_WINDOWS,
    matches: Sequence[str] = ("topic", "family", "any"),
) -> pl.DataFrame:
    """FCR for each window × match mode, the rest of the definition unchanged: the curve an
    analyst uses to defend a window (FCR falls as the window grows; where it flattens, later
    contacts are new questions rather than repeats)."""
    params = params or Params()
    rows = []
    for match in matches:
        if match != "any" and not contacts.has("topic"):
            continue
        for window in windows:
            variant = params.replace(window=window, match=match)
            s = fcr_summary(contacts, variant)
            rows.append(
                {
                    "match": match,
                    "window": window,
                    "window_hours": parse_duration(window).total_seconds() / 3600,
                    "episodes": s["episodes"],
                    "pending_episodes": s["pending_episodes"],
                    "fcr": s["fcr"],
                    "fcr_ci_low": s["fcr_ci_low"],
                    "fcr_ci_high": s["fcr_ci_high"],
                }
            )
    return pl.DataFrame(rows).sort("match", "window_hours")
