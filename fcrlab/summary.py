"""FCR summaries over the labelled contacts: SPEC §2 "Summary", breakdowns, window sensitivity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from fcrlab import __version__
from fcrlab.engine.repeats import REASONS, label_repeats, observed_until
from fcrlab.params import Params, parse_duration
from fcrlab.read.contacts import Contacts
from fcrlab.stats import rate_summary, wilson_exprs

__all__ = [
    "SENSITIVITY_WINDOWS",
    "episodes_table",
    "fcr_breakdown",
    "fcr_summary",
    "fcr_variants",
    "headline",
    "ledger",
    "ledger_table",
    "pending_table",
    "sensitivity_curve",
    "sensitivity_episodes",
    "window_sensitivity",
]

SENSITIVITY_WINDOWS = ("24h", "48h", "72h", "7d", "14d", "30d")


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
    summary.update(rate_summary("fcr", counts["fixes"], counts["episodes"]))
    summary.update(rate_summary("fcr_flag", counts["flag"], counts["flag_n"]))
    summary.update(rate_summary("fcr_strict", counts["strict"], counts["flag_n"]))
    summary.update(rate_summary("fcr_survey", counts["survey"], counts["survey_n"]))
    summary.update(rate_summary("repeat_rate", repeats.height, settled.height))
    summary.update(
        rate_summary("cross_channel_repeat_share", int(crossing.item() or 0), repeats.height)
    )
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


_EVER = "5200w"  # a window longer than any data: every earlier matching contact is "previous"


def sensitivity_episodes(
    contacts: Contacts,
    params: Params | None = None,
    windows: Sequence[str] = SENSITIVITY_WINDOWS,
    matches: Sequence[str] = ("topic", "family", "any"),
) -> pl.DataFrame:
    """The reported episodes (first contacts, with topic, team and agent) under each window ×
    match mode, the rest of the definition unchanged: one long frame with `match`, `window`
    and `window_hours`, for `sensitivity_curve` (the workshop keeps it and filters it).

    One labelling per match mode serves every window: a contact's previous matching contact
    does not depend on the window (SPEC §2 rule 7), so under window w a contact is a first
    contact when its gap to it exceeds w, and a first contact is a fix when every contact that
    names it as previous came more than w later (and it is not abandoned, nor transferred
    under `breaks_fcr`, rule 8); pending when its start + w passes `observed_until` (rule 9).
    Rule 5 (after hours) itself depends on the window: then every window is labelled anew.
    """
    params = params or Params()
    parts = []
    for match in matches:
        if match != "any" and not contacts.has("topic"):
            continue
        if params.after_hours == "follow_up_is_first":
            for window in windows:
                variant = params.replace(window=window, match=match)
                firsts = episodes_table(label_repeats(contacts, variant, contact_fields=True))
                parts.append(_variant(firsts, match, window))
            continue
        ever = params.replace(window=_EVER, match=match)
        labels = label_repeats(contacts, ever, contact_fields=True).filter("counted")
        until = observed_until(contacts, ever)
        children = labels.group_by(contact_id="repeat_of").agg(child_gap=pl.col("gap_hours").min())
        labels = labels.join(children, on="contact_id", how="left")
        for window in windows:
            hours = parse_duration(window).total_seconds() / 3600
            first = pl.col("gap_hours").is_null() | (pl.col("gap_hours") > hours)
            fix = (pl.col("child_gap").is_null() | (pl.col("child_gap") > hours)) & (
                pl.col("outcome") != "abandoned"
            )
            if params.transfers == "breaks_fcr":
                fix = fix & (pl.col("legs") == 1)
            started = pl.col("started_at").dt.convert_time_zone("UTC")
            pending = pl.lit(False) if until is None else started + parse_duration(window) > until
            day = pl.col("started_at").dt.date()
            in_period = (
                pl.lit(True)
                if params.period is None
                else (day >= params.period.start) & (day < params.period.end)
            )
            firsts = labels.filter(first & in_period).with_columns(
                pending=pending, first_contact_fix=pl.when(~pending).then(fix)
            )
            parts.append(_variant(firsts, match, window))
    return pl.concat(parts)


def _variant(firsts: pl.DataFrame, match: str, window: str) -> pl.DataFrame:
    return firsts.select("topic", "team", "agent_id", "pending", "first_contact_fix").with_columns(
        match=pl.lit(match),
        window=pl.lit(window),
        window_hours=pl.lit(parse_duration(window).total_seconds() / 3600),
    )


def sensitivity_curve(episodes: pl.DataFrame, where: pl.Expr | None = None) -> pl.DataFrame:
    """FCR with its Wilson interval per window × match mode from `sensitivity_episodes`,
    optionally over the episodes whose first contact satisfies `where`."""
    if where is not None:
        episodes = episodes.filter(where)
    table = (
        episodes.group_by("match", "window", "window_hours")
        .agg(
            episodes=(~pl.col("pending")).sum(),
            pending_episodes=pl.col("pending").sum(),
            fixes=pl.col("first_contact_fix").fill_null(False).sum(),
        )
        .with_columns(pl.col("episodes", "pending_episodes").cast(pl.Int64))
    )
    low, high = wilson_exprs(pl.col("fixes"), pl.col("episodes"))
    return (
        table.with_columns(
            fcr=pl.when(pl.col("episodes") > 0).then(pl.col("fixes") / pl.col("episodes")),
            fcr_ci_low=low,
            fcr_ci_high=high,
        )
        .drop("fixes")
        .sort("match", "window_hours")
    )


def window_sensitivity(
    contacts: Contacts,
    params: Params | None = None,
    windows: Sequence[str] = SENSITIVITY_WINDOWS,
    matches: Sequence[str] = ("topic", "family", "any"),
    episodes: pl.Expr | None = None,
) -> pl.DataFrame:
    """FCR for each window × match mode, the rest of the definition unchanged: the curve an
    analyst uses to defend a window (FCR falls as the window grows; where it flattens, later
    contacts are new questions rather than repeats). `episodes` optionally keeps only the
    episodes whose first contact satisfies it (e.g. `pl.col("team") == "team-east"`)."""
    return sensitivity_curve(sensitivity_episodes(contacts, params, windows, matches), episodes)


_VARIANTS = (
    ("fcr", "Customers did not come back (behaviour)"),
    ("fcr_flag", "Agent ticked 'resolved'"),
    ("fcr_strict", "Ticked resolved and did not come back"),
    ("fcr_survey", "Customer said resolved (survey)"),
)


def fcr_variants(summary: dict[str, Any]) -> pl.DataFrame:
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


def ledger_table(summary: dict[str, Any]) -> pl.DataFrame:
    """Rows read, used and left out per reason: the accounting every report shows."""
    rows = [("rows read", summary["rows_read"]), ("rows used", summary["rows_used"])]
    rows += [(f"left out: {reason}", n) for reason, n in summary["ledger"].items()]
    return pl.DataFrame(rows, schema={"rows": pl.String, "count": pl.Int64}, orient="row")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def headline(summary: dict[str, Any]) -> str:
    """The gap between what the organisation records and what customers do, in plain words."""
    params = summary["params"]
    window, match = params["window"], params["match"]
    same = {"topic": "the same topic", "family": "the same topic family", "any": "anything"}[match]
    parts = [
        f"Of {summary['episodes']:,} questions, {_pct(summary['fcr'])} were solved at the first "
        f"contact: the customer did not come back about {same} within {window}."
    ]
    if summary["fcr_flag"] is not None and summary["fcr"] is not None:
        gap = summary["fcr_flag"] - summary["fcr"]
        parts.append(
            f"Agents ticked {_pct(summary['fcr_flag'])} as resolved, "
            f"{abs(100 * gap):.0f} points {'more' if gap >= 0 else 'less'} than customers' "
            f"behaviour shows; only {_pct(summary['fcr_strict'])} were both ticked and really "
            "solved."
        )
    if summary["fcr_survey"] is not None:
        parts.append(
            f"In surveys {_pct(summary['fcr_survey'])} of customers said their question was "
            f"resolved (n = {summary['fcr_survey_n']:,})."
        )
    if summary["pending_episodes"]:
        parts.append(
            f"{summary['pending_episodes']:,} more questions are too recent to judge (pending)."
        )
    return " ".join(parts)


def pending_table(labels: pl.DataFrame) -> pl.DataFrame:
    """Reported episodes still pending, per local start date: what the next run will settle."""
    firsts = labels.filter(
        pl.col("counted") & pl.col("in_period") & (pl.col("episode_seq") == 1) & pl.col("pending")
    )
    return (
        firsts.group_by(day=pl.col("started_at").dt.date())
        .agg(pending_episodes=pl.len(), repeats_so_far=(pl.col("episode_size") - 1).sum())
        .sort("day")
    )
