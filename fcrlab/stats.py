"""Statistics used across fcrlab. Pure functions; imports nothing of fcrlab's own.

Array functions take anything numpy reads (lists, numpy arrays, polars Series) and work element
by element, so one call covers every cell of a table; NaN stands for "not tested".
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import polars as pl


def _scipy():  # -> the scipy.stats module
    """scipy.stats, imported on first use: it costs 0.4-1.3 s, and most commands never need it
    (`fcrlab gaps` starts the import early, in a thread of its own process: `cli`)."""
    from scipy import stats

    return stats


__all__ = [
    "Z95",
    "auc_from_counts",
    "auc_interval",
    "benjamini_hochberg",
    "beta_binomial_strength",
    "binomial_lower_limit",
    "binomial_p_at_most",
    "fisher_p_worse",
    "hanley_mcneil_se",
    "mann_whitney_auc",
    "poisson_limits",
    "rate_summary",
    "shrink_rates",
    "wilson_exprs",
    "wilson_interval",
]

Array = npt.ArrayLike

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


def rate_summary(name: str, successes: int, n: int) -> dict[str, float | int | None]:
    """A rate as fcrlab reports it: the fraction (None when n is 0), its n and the 95 % Wilson
    interval, under the keys `name`, `name_n`, `name_ci_low`, `name_ci_high`."""
    low, high = wilson_interval(successes, n)
    return {
        name: successes / n if n else None,
        f"{name}_n": n,
        f"{name}_ci_low": low,
        f"{name}_ci_high": high,
    }


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


# ---------------------------------------------------------------------------- tests of cells
def fisher_p_worse(unit_bad: Array, unit_n: Array, peer_bad: Array, peer_n: Array) -> np.ndarray:
    """One-sided Fisher exact p-value that a unit has more bad outcomes than its peers:
    P(X ≥ unit_bad) for X ~ Hypergeometric(M = unit_n + peer_n, K = unit_bad + peer_bad,
    N = unit_n) — the same as `scipy.stats.fisher_exact(..., alternative="greater")` on the
    table [[unit_bad, unit_n − unit_bad], [peer_bad, peer_n − peer_bad]]."""
    unit_bad, unit_n = np.asarray(unit_bad, dtype=float), np.asarray(unit_n, dtype=float)
    peer_bad, peer_n = np.asarray(peer_bad, dtype=float), np.asarray(peer_n, dtype=float)
    return _scipy().hypergeom.sf(unit_bad - 1, unit_n + peer_n, unit_bad + peer_bad, unit_n)


def binomial_p_at_most(k: Array, n: Array, p: Array) -> np.ndarray:
    """One-sided exact binomial p-value P(X ≤ k) for X ~ Binomial(n, p)."""
    return _scipy().binom.cdf(k, n, p)


def benjamini_hochberg(p_values: Array, fdr: float) -> np.ndarray:
    """Which hypotheses the Benjamini–Hochberg step-up procedure rejects at false discovery
    rate `fdr`; NaN p-values are not tested (never rejected, not counted in m)."""
    p = np.asarray(p_values, dtype=float)
    rejected = np.zeros(p.shape, dtype=bool)
    tested = ~np.isnan(p)
    if tested.any():
        rejected[tested] = _scipy().false_discovery_control(p[tested], method="bh") <= fdr
    return rejected


# ---------------------------------------------------------------------------- shrinkage
def beta_binomial_strength(
    successes: Array,
    trials: Array,
    mean: Array,
    group: Array | None = None,
    floor: float = 2.0,
    cap: float = 10_000.0,
) -> np.ndarray:
    """Strength α + β of a Beta prior per group of cells, by the method of moments.

    Under a beta-binomial model with mean μ and strength M, a cell's rate x/n has variance
    μ(1 − μ)(1 + (n − 1)ρ)/n with ρ = 1/(M + 1). So S = Σ n (x/n − μ)² has expectation
    μ(1 − μ)(k + ρ Σ (n − 1)) over k cells, and ρ = (S / (μ(1 − μ)) − k) / Σ (n − 1).
    When the spread is no more than binomial noise (ρ ≤ 0) the strength is `cap` (near-complete
    shrinkage); otherwise M = 1/ρ − 1 clipped to [floor, cap]. `mean` is μ per cell (the same
    within a group); `group` holds integer group codes (None: one group). Returns M per cell.
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    mu = np.asarray(mean, dtype=float) * np.ones_like(n)
    codes = np.zeros(n.shape, dtype=np.int64) if group is None else np.asarray(group)
    size = int(codes.max()) + 1 if codes.size else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.bincount(
            codes, weights=np.where(n > 0, (x - n * mu) ** 2 / n, 0.0), minlength=size
        )
    cells = np.bincount(codes, weights=(n > 0).astype(float), minlength=size)
    extra = np.bincount(codes, weights=np.clip(n - 1, 0, None), minlength=size)
    noise = np.zeros(size)
    np.maximum.at(noise, codes, mu * (1 - mu))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (spread / noise - cells) / extra
        strength = np.where(
            (noise > 0) & (extra > 0) & (rho > 0), np.clip(1 / rho - 1, floor, cap), cap
        )
    return strength[codes]


def shrink_rates(successes: Array, trials: Array, mean: Array, strength: Array) -> np.ndarray:
    """Posterior mean (x + α)/(n + α + β) under a Beta(α, β) prior of the given mean and
    strength α + β: small cells move toward the mean, large cells keep their own rate."""
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    m = np.asarray(strength, dtype=float)
    return (x + np.asarray(mean, dtype=float) * m) / (n + m)


# ---------------------------------------------------------------------------- control limits
def poisson_limits(expected: Array, coverage: float) -> tuple[np.ndarray, np.ndarray]:
    """Central exact-Poisson limits on an observed count given its expectation: the
    (1 − coverage)/2 and (1 + coverage)/2 quantiles (`scipy.stats.poisson.ppf`), as counts.
    Divide by `expected` for funnel-plot limits of an observed/expected ratio."""
    mu = np.asarray(expected, dtype=float)
    tail = (1 - coverage) / 2
    with np.errstate(invalid="ignore"):
        low = _scipy().poisson.ppf(tail, mu)
        high = _scipy().poisson.ppf(1 - tail, mu)
    bad = ~(mu > 0)
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def binomial_lower_limit(n: Array, p: Array, alpha: float = 0.001) -> np.ndarray:
    """Lower p-chart limit from the binomial itself (not its normal approximation):
    `binom.ppf(alpha, n, p) / n`, NaN where n is 0 or p unknown."""
    trials = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        limit = _scipy().binom.ppf(alpha, trials, p) / trials
    return np.where(trials > 0, limit, np.nan)


# ---------------------------------------------------------------------------- AUC
def mann_whitney_auc(scores: Array, positive: Array) -> float | None:
    """Area under the ROC curve: the chance that a random positive scores higher than a random
    negative, ties counting half (the Mann–Whitney U over n₁·n₀). None without both classes."""
    s = np.asarray(scores, dtype=float)
    pos = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _scipy().rankdata(s)
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def auc_from_counts(positives: Array, negatives: Array) -> float | None:
    """The same AUC from counts per score value, values in increasing order (fast for
    ordinal scores such as CES 1–7 or a yes/no tick over millions of rows)."""
    pos = np.asarray(positives, dtype=float)
    neg = np.asarray(negatives, dtype=float)
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return None
    below = np.cumsum(neg) - neg
    return float((pos * (below + neg / 2)).sum() / (n_pos * n_neg))


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of an AUC (Hanley & McNeil 1982, Radiology 143:29, eq. 2)."""
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)
    ) / (n_pos * n_neg)
    return math.sqrt(max(variance, 0.0))


def auc_interval(auc: float, n_pos: int, n_neg: int, z: float = Z95) -> tuple[float, float]:
    """AUC ± z · Hanley–McNeil standard error, clipped to [0, 1]."""
    half = z * hanley_mcneil_se(auc, n_pos, n_neg)
    return max(0.0, auc - half), min(1.0, auc + half)
