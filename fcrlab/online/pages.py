"""Which pages send people to the phone (SPEC §3 `fcrlab deflection`, decisions W5, W9, W11):
per page the share of views followed by a call, with an interval that treats a customer's views
as one cluster, and the page × call-topic matrix.

A customer's page views are not independent, so every rate on views here carries a
cluster-robust interval: the linearised variance of a ratio Σ calls / Σ views over customers,
and for differences of such ratios the residuals of one customer added up before squaring (a
customer on both sides of a comparison is one cluster and the covariance counts).
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from fcrlab.stats import Z95

__all__ = ["answers_expr", "cluster_rates", "contrast", "matrix"]


def answers_expr(page_topic: pl.Expr, contact_topic: pl.Expr) -> pl.Expr:
    """SPEC §3 / decisions W2: a page's topic answers a contact topic when it is that topic or a
    level above it (`tv` answers `tv/no-signal`, not `tvx`); false when either is empty."""
    same = page_topic == contact_topic
    above = contact_topic.str.starts_with(page_topic + "/")
    return (same | above).fill_null(False)


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


def matrix(
    views: pl.DataFrame, pages: pl.DataFrame, page_map: pl.DataFrame, call_topics: pl.Series
) -> pl.DataFrame:
    """Decisions W9: per page and topic of the first call after a view, calls and share."""
    followed = views.filter(pl.col("followed_by_call"))
    cells = (
        followed.select("page", call_topic=call_topics.gather(followed["call_row"]))
        .group_by("page", "call_topic")
        .agg(calls=pl.len())
        .with_columns(pl.col("page").cast(pl.String))
    )
    return (
        cells.join(pages.select("page", "views"), on="page", how="left")
        .join(page_map, on="page", how="left")
        .with_columns(
            share=pl.col("calls") / pl.col("views"),
            answers=answers_expr(pl.col("page_topic"), pl.col("call_topic")),
        )
        .select("page", "page_topic", "call_topic", "calls", "views", "share", "answers")
        .sort("page", "call_topic", nulls_last=True)
    )
