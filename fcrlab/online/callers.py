"""Who was online first (SPEC §3 `fcrlab deflection`, decisions W1, W4, W10): the shares of
judged calls whose caller was on the site before, or read a page about their question, with
intervals; and the agent-logged pilot beside the data.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from fcrlab.params import Params
from fcrlab.read.clock import local_date
from fcrlab.stats import Z95, rate_summary, wilson_exprs, wilson_interval

__all__ = ["PILOT_MARGINS", "callers_summary", "pilot_plan", "pilot_size", "shares"]

PILOT_MARGINS = (0.01, 0.02, 0.03, 0.05, 0.10)


def pilot_size(share: float, margin: float) -> int:
    """Calls a pilot needs to estimate a share to ± `margin` at 95 % (decisions W10)."""
    if not 0 < margin < 1:
        raise ValueError("margin must be between 0 and 1")
    return max(1, math.ceil(Z95 * Z95 * share * (1 - share) / (margin * margin)))


def shares(per_contact: pl.DataFrame, by: str) -> pl.DataFrame:
    """Shares of judged contacts online first / with a same-question view, per `by`."""
    table = per_contact.group_by(by).agg(
        contacts=pl.len(),
        online_before=pl.col("online_before").sum(),
        same_question=pl.col("same_question").sum(),
    )
    low, high = wilson_exprs(pl.col("online_before"), pl.col("contacts"))
    sq_low, sq_high = wilson_exprs(pl.col("same_question"), pl.col("contacts"))
    return table.with_columns(
        share_online_first=pl.col("online_before") / pl.col("contacts"),
        ci_low=low,
        ci_high=high,
        same_question_share=pl.col("same_question") / pl.col("contacts"),
        same_question_ci_low=sq_low,
        same_question_ci_high=sq_high,
    ).sort(by, nulls_last=True)


def _kappa(a: pl.Series, b: pl.Series) -> tuple[float | None, float | None]:
    """Agreement share and Cohen's kappa of two yes/no series (decisions W10)."""
    n = a.len()
    if n == 0:
        return None, None
    p_o = float((a == b).sum()) / n
    pa, pb = float(a.sum()) / n, float(b.sum()) / n
    p_e = pa * pb + (1 - pa) * (1 - pb)
    return p_o, (p_o - p_e) / (1 - p_e) if p_e < 1 else None


def callers_summary(
    per_contact: pl.DataFrame,
    calls: pl.DataFrame,
    judged: pl.DataFrame,
    views: pl.DataFrame,
    params: Params,
) -> dict[str, Any]:
    n = per_contact.height
    online = int(per_contact["online_before"].sum())
    low, high = wilson_interval(online, n)
    out: dict[str, Any] = {
        "contacts_judged": n,
        "online_before": online,
        "share_online_first": online / n if n else None,
        "ci_low": low,
        "ci_high": high,
    }
    out.update(rate_summary("same_question_share", int(per_contact["same_question"].sum()), n))
    out.update(rate_summary("same_family_share", int(per_contact["same_family"].sum()), n))
    followed = int(views["followed_by_call"].sum())
    out.update(views_judged=views.height, views_followed_by_call=followed)
    out["view_call_rate"] = followed / views.height if views.height else None
    # Decisions W10: the agent-logged pilot flag, and how well it agrees with the data.
    period_calls = calls.filter(pl.col("excluded_reason").is_null())
    logged = period_calls["online_first"].drop_nulls()
    out.update(rate_summary("pilot_share", int(logged.sum()), logged.len()))
    both = pl.DataFrame(
        {"flag": judged["online_first"], "data": per_contact["same_question"]}
    ).drop_nulls()
    agreement, kappa = _kappa(both["flag"], both["data"])
    out.update(agreement=agreement, agreement_n=both.height, kappa=kappa)
    agents = period_calls.filter(pl.col("agent_id").is_not_null())
    pairs = agents.select(
        pl.struct("agent_id", local_date(pl.col("started_at"), params.timezone)).n_unique()
    ).item()
    out["calls_per_agent_day"] = agents.height / pairs if pairs else None
    return out


def pilot_plan(summary: dict[str, Any]) -> pl.DataFrame:
    """Decisions W10: calls (and agents × days) to estimate the share to ± each margin."""
    share = summary["same_question_share"]
    share = 0.5 if share is None else share
    per_day = summary["calls_per_agent_day"]
    rows = []
    for margin in PILOT_MARGINS:
        calls = pilot_size(share, margin)
        rows.append(
            {
                "margin": margin,
                "assumed_share": share,
                "calls": calls,
                "agent_days": math.ceil(calls / per_day) if per_day else None,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "margin": pl.Float64,
            "assumed_share": pl.Float64,
            "calls": pl.Int64,
            "agent_days": pl.Int64,
        },
    )
