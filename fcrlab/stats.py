"""Statistics used across fcrlab. Pure functions; imports nothing of fcrlab's own."""

from __future__ import annotations

import math

import polars as pl

__all__ = ["Z95", "wilson_exprs", "wilson_interval"]

Z95 = 1.959963984540054  # two-sided 95 %


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion; (None, None) when n is 0."""
    if n <= 0:
        return None, None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_exprs(successes: pl.Expr, n: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """The Wilson interval as two polars expressions (null where n is 0)."""
    n_float = n.cast(pl.Float64)
    p = successes.cast(pl.Float64) / n_float
    denominator = 1 + z * z / n_float
    centre = (p + z * z / (2 * n_float)) / denominator
    half = z / denominator * (p * (1 - p) / n_float + z * z / (4 * n_float * n_float)).sqrt()
    valid = n > 0
    low = pl.when(valid).then(pl.max_horizontal(centre - half, pl.lit(0.0)))
    high = pl.when(valid).then(pl.min_horizontal(centre + half, pl.lit(1.0)))
    return low, high
