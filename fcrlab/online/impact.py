"""What a page change did to calls, and what deflection is worth (SPEC §3, decisions W6, W7,
W11, W12): the one home of the money formula.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from fcrlab.online.pages import cluster_rates, contrast
from fcrlab.params import Params

__all__ = ["FORMULA", "money", "page_change", "savings_per_year"]


# Cells of the comparison, coded as 2 × (the changed page) + (on or after the date).
_CELLS = {"others_before": 0, "others_after": 1, "page_before": 2, "page_after": 3}


def page_change(views: pl.DataFrame, params: Params) -> tuple[dict[str, Any] | None, pl.DataFrame]:
    """Decisions W6, W11: before/after on the changed page, and against the other mapped pages.

    `views` are the judged views with `day` (local date), `cluster`, `followed_by_call`,
    `mapped` (the page answers a topic) and `changed` (it is the changed page).
    """
    change = params.change
    if change is None:
        return None, _weekly(views.head(0).with_columns(group=pl.lit("page")))
    mapped = views.filter(pl.col("mapped") | pl.col("changed")).with_columns(
        group=pl.when("changed").then(pl.lit("page")).otherwise(pl.lit("others"))
    )
    weekly = _weekly(mapped)
    after = (pl.col("day") >= change.date).cast(pl.UInt8)
    cells = mapped.with_columns(cell=pl.col("changed").cast(pl.UInt8) * 2 + after)
    last_day = views["day"].max()
    end = None if last_day is None else last_day + dt.timedelta(days=1)
    if change.weeks is not None:
        span = dt.timedelta(weeks=change.weeks)
        cells = cells.filter(
            (pl.col("day") >= change.date - span) & (pl.col("day") < change.date + span)
        )
        end = change.date + span if end is None else min(end, change.date + span)
    rates = {r["cell"]: r for r in cluster_rates(cells, ["cell"]).to_dicts()}
    out: dict[str, Any] = {
        "page": change.page,
        "date": change.date.isoformat(),
        "weeks": change.weeks,
    }
    for name in ("page_before", "page_after", "others_before", "others_after"):
        r = rates.get(_CELLS[name], {})
        prefix = name.removeprefix("page_")
        out[f"{prefix}_views"] = int(r.get("views") or 0)
        out[f"{prefix}_rate"] = r.get("call_rate")
        out[f"{prefix}_ci_low"] = r.get("ci_low")
        out[f"{prefix}_ci_high"] = r.get("ci_high")
    c = _CELLS
    diff = contrast(cells, {c["page_after"]: 1, c["page_before"]: -1})
    others = contrast(cells, {c["others_after"]: 1, c["others_before"]: -1})
    did = contrast(
        cells,
        {c["page_after"]: 1, c["page_before"]: -1, c["others_after"]: -1, c["others_before"]: 1},
    )
    out.update(diff=diff["estimate"], ci_low=diff["ci_low"], ci_high=diff["ci_high"])
    out.update(
        others_diff=others["estimate"],
        others_diff_ci_low=others["ci_low"],
        others_diff_ci_high=others["ci_high"],
    )
    out.update(did=did["estimate"], did_ci_low=did["ci_low"], did_ci_high=did["ci_high"])
    after_days = (end - change.date).days if end is not None else 0
    out["after_days"] = after_days
    out["views_per_week_after"] = out["after_views"] / after_days * 7 if after_days > 0 else None
    return out, weekly


def _weekly(mapped: pl.DataFrame) -> pl.DataFrame:
    """Per ISO week and group (`page`, `others`): the call rate with its interval (W11)."""
    table = cluster_rates(
        mapped.with_columns(week_start=pl.col("day").dt.truncate("1w")), ["group", "week_start"]
    )
    week = pl.col("week_start").dt.strftime("%G-W%V").alias("week")
    return table.select("group", week, *table.columns[1:]).sort("group", "week_start")


# ---------------------------------------------------------------------------- money
_WEEKS_PER_YEAR = 52
FORMULA = "calls_per_week × same_question_share × expected_reduction × cost_per_call × 52"


def savings_per_year(
    calls_per_week: float, share: float, expected_reduction: float, cost_per_call: float
) -> float:
    """SPEC §3's money (`FORMULA`): what fewer same-question calls are worth in a year."""
    return calls_per_week * share * expected_reduction * cost_per_call * _WEEKS_PER_YEAR


def _weeks(per_contact: pl.DataFrame, params: Params) -> float | None:
    """Decisions W12: the period's days / 7, else the judged contacts' first to last day."""
    if params.period is not None:
        return (params.period.end - params.period.start).days / 7
    days = per_contact.select(pl.col("started_at").dt.date().alias("day"))["day"]
    if days.len() == 0:
        return None
    return ((days.max() - days.min()).days + 1) / 7  # type: ignore[operator]


def money(
    per_contact: pl.DataFrame,
    summary: dict[str, Any],
    change: dict[str, Any] | None,
    params: Params,
) -> dict[str, Any]:
    """SPEC §3, decisions W7, W12: the yearly value of deflection with every assumption beside
    it; null with the reason when a cost is missing. `per_contact` has local `started_at`."""
    judged = per_contact.height
    weeks = _weeks(per_contact, params)
    calls_per_week = judged / weeks if weeks else None
    shares = (
        per_contact.group_by("channel")
        .len()
        .sort("channel")
        .with_columns(share=pl.col("len") / judged)
        if judged
        else pl.DataFrame(schema={"channel": pl.String, "len": pl.UInt32, "share": pl.Float64})
    )
    channel_shares = dict(shares.select("channel", "share").iter_rows())
    costs = dict(params.cost_per_contact) if params.cost_per_contact is not None else None
    share = summary["same_question_share"]
    reason = None
    if costs is None:
        reason = "no cost_per_contact given: set euros per contact per channel to put a value on it"
    elif missing := [c for c in params.assisted if c not in costs]:
        reason = f"no cost_per_contact for the assisted channel(s) {', '.join(missing)}"
    elif not judged or share is None or calls_per_week is None:
        reason = "no judged contacts: nothing to value"
    cost_per_call = None
    savings = None
    if reason is None and costs is not None and calls_per_week is not None:
        cost_per_call = sum(s * costs[c] for c, s in channel_shares.items())
        savings = savings_per_year(calls_per_week, share, params.expected_reduction, cost_per_call)
    change_value, change_reason = _change_value(change, cost_per_call, reason)
    assumptions = {
        "formula": FORMULA,
        "calls_per_week": calls_per_week,
        "judged_calls": judged,
        "weeks": weeks,
        "same_question_share": share,
        "expected_reduction": params.expected_reduction,
        "cost_per_call": cost_per_call,
        "cost_per_contact": costs,
        "channel_shares": channel_shares,
        "weeks_per_year": _WEEKS_PER_YEAR,
        "money": reason or "computed",
        "change_formula": "−did × the page's views per week after the change × cost_per_call × 52",
        "change_views_per_week": None if change is None else change["views_per_week_after"],
        "change_value": change_reason or "computed",
    }
    return {
        "savings_per_year": savings,
        "change_value_per_year": change_value,
        "assumptions": assumptions,
    }


def _change_value(
    change: dict[str, Any] | None, cost_per_call: float | None, reason: str | None
) -> tuple[float | None, str | None]:
    """Decisions W7: −did × views per week after × cost × 52, only when did is measurable."""
    if change is None:
        return None, "no page change given (set change: {page, date})"
    if reason is not None or cost_per_call is None:
        return None, reason or "no cost per call"
    did, low, high = change["did"], change["did_ci_low"], change["did_ci_high"]
    per_week = change["views_per_week_after"]
    if did is None or low is None or high is None or per_week is None:
        return None, "the change could not be measured (no views before or after it)"
    if low <= 0 <= high:
        return None, "the difference-in-differences interval includes 0: no measurable change"
    return -did * per_week * cost_per_call * _WEEKS_PER_YEAR, None
