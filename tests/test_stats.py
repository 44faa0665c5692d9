"""fcrlab.stats against scipy and against published worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from fcrlab.stats import (
    auc_from_counts,
    auc_interval,
    benjamini_hochberg,
    beta_binomial_strength,
    binomial_lower_limit,
    binomial_p_at_most,
    fisher_p_worse,
    hanley_mcneil_se,
    mann_whitney_auc,
    poisson_limits,
    shrink_rates,
)


# ---------------------------------------------------------------------------- binomial tests
def test_fisher_p_worse_decisions_g2_example():
    # G2: north 4 episodes 4 repeats, peers 10 episodes 1 repeat: M = 14, K = 5, N = 4,
    # P(X ≥ 4) = C(5,4)·C(9,0)/C(14,4) = 5/1001.
    assert fisher_p_worse(4, 4, 1, 10) == pytest.approx(5 / 1001, rel=1e-12)
    # The peers' side of the same table: south 10 episodes 1 repeat, peers 4 of 4: certain.
    assert fisher_p_worse(1, 10, 4, 4) == pytest.approx(1.0)


def test_fisher_p_worse_matches_scipy_fisher_exact():
    cases = [(4, 4, 1, 10), (2, 3, 1, 10), (30, 100, 200, 1000), (0, 12, 5, 40), (7, 7, 0, 3)]
    for unit_bad, unit_n, peer_bad, peer_n in cases:
        table = [[unit_bad, unit_n - unit_bad], [peer_bad, peer_n - peer_bad]]
        expected = scipy_stats.fisher_exact(table, alternative="greater").pvalue
        assert fisher_p_worse(unit_bad, unit_n, peer_bad, peer_n) == pytest.approx(expected)
    columns = [np.array(c) for c in zip(*cases, strict=True)]
    assert fisher_p_worse(*columns) == pytest.approx(
        [
            scipy_stats.fisher_exact([[a, b - a], [c, d - c]], alternative="greater").pvalue
            for a, b, c, d in cases
        ]
    )


def test_p_at_most_is_the_lower_tail_decisions_g5_example():
    # G5: baseline 0.75, 40 episodes and 20 fixes; the sum of the binomial terms up to 20.
    by_hand = sum(math.comb(40, i) * 0.75**i * 0.25 ** (40 - i) for i in range(21))
    assert binomial_p_at_most(20, 40, 0.75) == pytest.approx(by_hand, rel=1e-10)
    assert by_hand == pytest.approx(0.000572, abs=5e-7)  # < 0.001: a spike


def test_binomial_lower_limit_of_the_p_chart():
    # P(X ≤ 20) = 0.00057 < 0.001 ≤ P(X ≤ 21) for Bin(40, 0.75): the 0.001 quantile is 21.
    assert binomial_p_at_most(21, 40, 0.75) >= 0.001
    assert binomial_lower_limit(40, 0.75) == pytest.approx(21 / 40)
    limits = binomial_lower_limit(np.array([40, 0, 10]), np.array([0.75, 0.5, np.nan]))
    assert limits[0] == pytest.approx(0.525) and np.isnan(limits[1]) and np.isnan(limits[2])


# ---------------------------------------------------------------------------- BH
BH_1995 = [  # Benjamini & Hochberg (1995), section 4: 15 p-values from a study of myocardial
    0.0001,  # infarction; at q = 0.05 the procedure rejects the four smallest (Bonferroni three)
    0.0004,
    0.0019,
    0.0095,
    0.0201,
    0.0278,
    0.0298,
    0.0344,
    0.0459,
    0.3240,
    0.4262,
    0.5719,
    0.6528,
    0.7590,
    1.0000,
]


def test_benjamini_hochberg_textbook_example():
    rejected = benjamini_hochberg(BH_1995, 0.05)
    assert rejected.tolist() == [True] * 4 + [False] * 11
    # Order does not matter, and untested (NaN) hypotheses do not count in m.
    order = np.random.default_rng(1).permutation(len(BH_1995))
    shuffled = benjamini_hochberg(np.array(BH_1995)[order], 0.05)
    assert shuffled.tolist() == [i < 4 for i in order]
    with_untested = [*BH_1995, np.nan, np.nan]
    assert benjamini_hochberg(with_untested, 0.05).sum() == 4


def test_benjamini_hochberg_step_up_and_edge_cases():
    # Step-up: 0.04 > 0.05·1/2 but ≤ 0.05·2/2, so both are rejected.
    assert benjamini_hochberg([0.04, 0.045], 0.05).tolist() == [True, True]
    assert benjamini_hochberg([0.04, 0.06], 0.05).tolist() == [False, False]
    assert benjamini_hochberg([], 0.05).tolist() == []
    assert benjamini_hochberg([np.nan], 0.05).tolist() == [False]


# ---------------------------------------------------------------------------- shrinkage
def test_shrinkage_decisions_g3_example():
    # Topic FCR 0.8, α + β = 20: a cell with 2 fixes of 4 → (2 + 16) / (4 + 20) = 0.75.
    assert shrink_rates(2, 4, 0.8, 20) == pytest.approx(0.75)
    # A large cell keeps nearly its own rate.
    assert shrink_rates(500, 1000, 0.8, 20) == pytest.approx(516 / 1020)


def test_strength_is_the_cap_when_the_spread_is_only_noise():
    # Every cell exactly at the mean: no spread beyond binomial noise → near-complete shrinkage.
    m = beta_binomial_strength([8, 16, 40], [10, 20, 50], 0.8)
    assert m.tolist() == [10_000.0] * 3
    # A mean of 0 or 1 has no binomial noise at all: also the cap.
    assert beta_binomial_strength([0, 0], [5, 7], 0.0).tolist() == [10_000.0] * 2


def test_strength_by_the_method_of_moments_by_hand():
    # Two cells of 100 at 0.6 and 1.0 around a mean of 0.8: S = 100·0.2² + 100·0.2² = 8;
    # noise μ(1 − μ) = 0.16; ρ = (8 / 0.16 − 2) / (99 + 99) = 48 / 198; M = 1/ρ − 1 = 150/48.
    m = beta_binomial_strength([60, 100], [100, 100], 0.8)
    assert m == pytest.approx([150 / 48] * 2)
    # Huge spread: floored at 2.
    assert beta_binomial_strength([0, 100], [100, 100], 0.5).tolist() == [2.0, 2.0]


def test_strength_per_group_and_recovered_from_simulated_beta_binomial_cells():
    rng = np.random.default_rng(5)
    cells, n, true_m, mean = 4000, 60, 40.0, 0.7
    rates = rng.beta(mean * true_m, (1 - mean) * true_m, cells)
    fixes = rng.binomial(n, rates)
    estimate = beta_binomial_strength(fixes, np.full(cells, n), mean)[0]
    assert estimate == pytest.approx(true_m, rel=0.2)
    # Two groups are fitted separately: the noise-only group gets the cap.
    group = np.array([0, 0, 1, 1])
    m = beta_binomial_strength([60, 100, 8, 16], [100, 100, 10, 20], [0.8, 0.8, 0.8, 0.8], group)
    assert m[:2] == pytest.approx([150 / 48] * 2) and m[2:].tolist() == [10_000.0] * 2


# ---------------------------------------------------------------------------- funnel
def test_poisson_limits_by_hand_and_against_scipy():
    # Expected 5: P(X ≤ 0) = e⁻⁵ = 0.0067 ≥ 0.001 → lower 99.8 % count 0; P(X ≤ 12) = 0.99798,
    # P(X ≤ 13) = 0.99930 → upper 13; P(X ≤ 1) = 0.0404 ≥ 0.025 → 1; P(X ≤ 10) = 0.9863 → 10.
    cdf = lambda k, mu: sum(math.exp(-mu) * mu**i / math.factorial(i) for i in range(k + 1))  # noqa: E731
    assert cdf(12, 5) < 0.999 <= cdf(13, 5) and cdf(0, 5) < 0.025 <= cdf(1, 5)
    low95, high95 = poisson_limits(5.0, 0.95)
    low998, high998 = poisson_limits(5.0, 0.998)
    assert (low95, high95, low998, high998) == (1, 10, 0, 13)
    mu = np.array([0.5, 5.0, 37.2, 1796.8])
    low, high = poisson_limits(mu, 0.998)
    assert low.tolist() == scipy_stats.poisson.ppf(0.001, mu).tolist()
    assert high.tolist() == scipy_stats.poisson.ppf(0.999, mu).tolist()
    nothing = poisson_limits(np.array([0.0]), 0.95)
    assert np.isnan(nothing[0]).all() and np.isnan(nothing[1]).all()


# ---------------------------------------------------------------------------- AUC
HANLEY_MCNEIL_1982 = {  # Table I: CT images rated 1 (definitely normal) … 5 (definitely abnormal)
    "normal": [33, 6, 6, 11, 2],
    "abnormal": [3, 2, 2, 11, 33],
}


def test_auc_and_standard_error_of_hanley_and_mcneil_1982():
    normal, abnormal = HANLEY_MCNEIL_1982["normal"], HANLEY_MCNEIL_1982["abnormal"]
    auc = auc_from_counts(abnormal, normal)
    assert round(auc, 3) == 0.893  # the paper's W
    assert round(hanley_mcneil_se(auc, 51, 58), 3) == 0.032  # the paper's SE(W)
    low, high = auc_interval(auc, 51, 58)
    assert low == pytest.approx(auc - 1.959963984540054 * hanley_mcneil_se(auc, 51, 58))
    assert high == pytest.approx(auc + 1.959963984540054 * hanley_mcneil_se(auc, 51, 58))


def test_mann_whitney_auc_equals_counts_and_scipy():
    normal, abnormal = HANLEY_MCNEIL_1982["normal"], HANLEY_MCNEIL_1982["abnormal"]
    scores = np.repeat(np.arange(1, 6), np.add(normal, abnormal))
    positive = np.concatenate(
        [np.repeat([False, True], [n, a]) for n, a in zip(normal, abnormal, strict=True)]
    )
    auc = mann_whitney_auc(scores, positive)
    assert auc == pytest.approx(auc_from_counts(abnormal, normal), rel=1e-12)
    u = scipy_stats.mannwhitneyu(scores[positive], scores[~positive]).statistic
    assert auc == pytest.approx(u / (51 * 58), rel=1e-12)


def test_auc_decisions_g7_example_and_ties():
    # G7: CES 6 on the repeat, 2 and 3 on two fixes → 1.0.
    assert mann_whitney_auc([6, 2, 3], [True, False, False]) == 1.0
    # A tie counts half: one positive and one negative with the same score → 0.5.
    assert mann_whitney_auc([4, 4], [True, False]) == 0.5
    assert auc_from_counts([1, 0], [0, 1]) == 0.0  # the positive scores lower
    assert mann_whitney_auc([1, 2], [True, True]) is None
    assert auc_from_counts([0, 0], [3, 1]) is None
    assert auc_interval(1.0, 1, 2) == (1.0, 1.0)  # clipped to [0, 1]
