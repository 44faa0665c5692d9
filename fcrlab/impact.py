"""What a page change did to calls, and what deflection is worth (SPEC §3, decisions W5–W7,
W11, W12).

A customer's page views are not independent, so every rate on views here carries a
cluster-robust interval: the linearised variance of a ratio Σ calls / Σ views over customers,
and for differences of such ratios the residuals of one customer added up before squaring (a
customer on both sides of a comparison is one cluster and the covariance counts).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl

from fcrlab.params import Params
from fcrlab.stats import Z95

__all__ = [
    "assumptions_table",
    "change_text",
    "cluster_rates",
    "contrast",
    "money",
    "money_text",
    "page_change",
]


def cluster_rates(views: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per `by`: views, followed_by_call, call_rate and its cluster-robust 95 % interval
    (decisions W5, W11): a customer (`cluster`) and all their views are one cluster.

    Σ z² is expanded into integer sums (Σy², Σxy, Σx² over customers), which are exact in any
    order: a parallel float sum would make the last digits differ from run to run.
    """
    per = _per_customer(views, by)
    table = per.group_by(by).agg(
        views=pl.col("x").sum(),
        followed_by_call=pl.col("y").sum(),
        customers=pl.len(),
        sxx=(pl.col("x") * pl.col("x")).sum(),
        sxy=(pl.col("x") * pl.col("y")).sum(),
        syy=(pl.col("y") * pl.col("y")).sum(),
    )
    rate = pl.col("followed_by_call") / pl.col("views")
    ss = (pl.col("syy") - 2 * rate * pl.col("sxy") + rate * rate * pl.col("sxx")) / (
        pl.col("views").cast(pl.Float64) ** 2
    )
    g = pl.col("customers").cast(pl.Float64)
    se = (g / (g - 1) * ss.clip(lower_bound=0.0)).sqrt()
    enough = pl.col("customers") >= 2
    return table.with_columns(
        call_rate=rate,
        ci_low=pl.when(enough).then((rate - Z95 * se).clip(0.0, 1.0)),
        ci_high=pl.when(enough).then((rate + Z95 * se).clip(0.0, 1.0)),
    ).select(*by, "views", "followed_by_call", "call_rate", "ci_low", "ci_high", "customers")


def _per_customer(views: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Views (x) and views followed by a call (y) per `by` and customer.

    Grouped on one 64-bit key (the customer's hash xor a hash of `by`), which takes far less
    memory than grouping on the columns. Should two different `by` values ever share a key,
    the check below sees it and the exact grouping runs instead: counts are never mixed.
    """
    counts = {
        "x": pl.len().cast(pl.Int64),
        "y": pl.col("followed_by_call").sum().cast(pl.Int64),
    }
    by_hash = pl.struct(by).hash(seed=11)
    per = (
        views.with_columns(__by=by_hash)
        .group_by(__key=pl.col("cluster") ^ pl.col("__by"))
        .agg(
            *[pl.col(c).first() for c in by],
            __low=pl.col("__by").min(),
            __high=pl.col("__by").max(),
            **counts,
        )
    )
    if per.select((pl.col("__low") != pl.col("__high")).any()).item():
        return views.group_by([*by, "cluster"]).agg(**counts)
    return per.drop("__key", "__low", "__high")


def contrast(views: pl.DataFrame, signs: dict[Any, int]) -> dict[str, float | None]:
    """Σ sign × rate over the `cell`s of `views`, with the linearised cluster-robust interval
    (W11): a customer's residuals in every cell add up before squaring, so a customer in
    several cells is one cluster and the covariance counts.

    With per-customer counts v = (x_c, y_c for each cell) and residual weights w, Σ z² is
    wᵀ (Σ v vᵀ) w: the moment matrix is integer sums, exact in any order (see cluster_rates).
    """
    cells = list(signs)
    per = (
        views.filter(pl.col("cell").is_in(cells))
        .group_by("cluster")
        .agg(
            *[(pl.col("cell") == c).sum().cast(pl.Int64).alias(f"x:{c}") for c in cells],
            *[
                ((pl.col("cell") == c) & pl.col("followed_by_call"))
                .sum()
                .cast(pl.Int64)
                .alias(f"y:{c}")
                for c in cells
            ],
        )
    )
    sums = per.select(pl.all().exclude("cluster").sum()).row(0, named=True) if per.height else {}
    if any(not sums.get(f"x:{c}") for c in cells):
        return {"estimate": None, "ci_low": None, "ci_high": None}
    rate = {c: sums[f"y:{c}"] / sums[f"x:{c}"] for c in cells}
    estimate = sum(signs[c] * rate[c] for c in cells)
    g = per.height
    if g < 2:
        return {"estimate": estimate, "ci_low": None, "ci_high": None}
    # z_i = Σ_c sign_c (y_ic − R_c x_ic) / X_c: a weight per count column.
    weights: dict[str, float] = {}
    for c in cells:
        weights[f"y:{c}"] = signs[c] / sums[f"x:{c}"]
        weights[f"x:{c}"] = -signs[c] * rate[c] / sums[f"x:{c}"]
    names = list(weights)
    moments = per.select(
        (pl.col(a) * pl.col(b)).sum().alias(f"{a}*{b}")
        for i, a in enumerate(names)
        for b in names[i:]
    ).row(0, named=True)
    ss = 0.0
    for i, a in enumerate(names):
        for b in names[i:]:
            factor = 1 if a == b else 2
            ss += factor * weights[a] * weights[b] * moments[f"{a}*{b}"]
    se = math.sqrt(g / (g - 1) * max(ss, 0.0))
    return {"estimate": estimate, "ci_low": estimate - Z95 * se, "ci_high": estimate + Z95 * se}


# ---------------------------------------------------------------------------- the page change
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
        savings = (
            calls_per_week * share * params.expected_reduction * cost_per_call * _WEEKS_PER_YEAR
        )
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


# ---------------------------------------------------------------------------- plain words
def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f} points"


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def change_text(change: dict[str, Any] | None) -> str:
    """What the page change did, with its intervals, in plain words."""
    if change is None:
        return "No page change was given (parameter change: page and date)."
    if change["diff"] is None:
        return (
            f"The change of {change['page']} on {change['date']} cannot be measured here: the "
            "judged views do not fall on both sides of its date."
        )
    text = (
        f"Before the change of {change['page']} on {change['date']}, "
        f"{_pct(change['before_rate'])} of its {change['before_views']:,} views were followed by "
        f"a call; after it {_pct(change['after_rate'])} of {change['after_views']:,}: "
        f"{_points(change['diff'])} (95% interval {_signed(change['ci_low'])} to "
        f"{_signed(change['ci_high'])})."
    )
    if change["did"] is not None:
        text += (
            f" The other help pages moved {_points(change['others_diff'])} over the same time, so "
            f"the change itself accounts for {_points(change['did'])} (difference-in-differences, "
            f"interval {_signed(change['did_ci_low'])} to {_signed(change['did_ci_high'])})."
        )
    return text


def money_text(worth: dict[str, Any]) -> str:
    """The money with its assumptions, or why there is none."""
    a = worth["assumptions"]
    if worth["savings_per_year"] is None:
        return f"No money figure: {a['money']}."
    text = (
        f"At {a['calls_per_week']:,.0f} calls a week, of which {_pct(a['same_question_share'])} "
        f"had read a page about their question, a page improvement that saves "
        f"{_pct(a['expected_reduction'])} of those calls at €{a['cost_per_call']:.2f} a call is "
        f"worth about €{worth['savings_per_year']:,.0f} a year."
    )
    if worth["change_value_per_year"] is not None:
        text += (
            f" The measured page change is worth about €{worth['change_value_per_year']:,.0f} a "
            f"year ({a['change_views_per_week']:,.0f} views a week)."
        )
    else:
        text += f" The measured page change: {a['change_value']}."
    return text


def assumptions_table(worth: dict[str, Any]) -> pl.DataFrame:
    """The money and every assumption behind it, one readable row each (W7, W12; euros)."""
    a = worth["assumptions"]

    def number(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    shares = ", ".join(f"{c} {100 * s:.0f}%" for c, s in a["channel_shares"].items())
    costs = a["cost_per_contact"]
    rows = [
        ("judged calls", number(a["judged_calls"], ",d")),
        ("weeks", number(a["weeks"], ".1f")),
        ("calls per week", number(a["calls_per_week"], ",.1f")),
        ("share about a question a page answers", _pct(a["same_question_share"])),
        ("expected reduction (parameter)", _pct(a["expected_reduction"])),
        *(
            [("cost per contact (parameter)", "not given")]
            if costs is None
            else [(f"cost per {c} contact (parameter)", f"{v:.2f}") for c, v in costs.items()]
        ),
        ("calls by channel", shares or "none"),
        ("cost per call", number(a["cost_per_call"], ".2f")),
        ("weeks per year", str(a["weeks_per_year"])),
        ("savings per year", number(worth["savings_per_year"], ",.0f")),
        ("why", a["money"]),
        ("page change: views per week after", number(a["change_views_per_week"], ",.1f")),
        ("page change: value per year", number(worth["change_value_per_year"], ",.0f")),
        ("page change: why", a["change_value"]),
    ]
    return pl.DataFrame(rows, schema={"assumption": pl.String, "value": pl.String}, orient="row")
