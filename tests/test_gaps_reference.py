"""The knowledge-gaps analysis (SPEC §3 `fcrlab gaps`, decisions G1-G6) against an oracle.

(a) Hand cases: a few contacts per decision, the answer written as literals worked out by hand
    from SPEC.md and docs/decisions.md. Each runs against both the engine
    (`fcrlab.gaps.knowledge_gaps`) and the naive reference (`tests/gaps_reference.py`).
    `-k "not engine"` runs the reference side alone (proves the oracle; `-k reference` would
    select the whole module, whose name contains the word), `-k engine` the engine side.
(b) Generated logs: the engine's cells, mix-adjusted units, weekly rows and follow-ups equal the
    reference's row by row (floats and p-values to 1e-9 relative).

Conventions in the hand cases: times are local Europe/Amsterdam wall times as a CSV holds them;
window 7d; `observed_until` far in the future unless a test is about it (nothing pending by
accident). Calendar: 2026-03-02 is a Monday (ISO 2026-W10); clocks go forward on Sun
2026-03-29; 2026 has an ISO week 53 (Mon 2026-12-28 to Sun 2027-01-03).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from fcrlab import Params, label_repeats
from fcrlab.read.contacts import contacts_from_frame
from tests.gaps_reference import is_close, naive_gaps

FAR = "2027-03-01T00:00"
MONDAY = datetime(2026, 3, 2, 10, 0)  # ISO 2026-W10
COLUMNS = (
    "contact_id",
    "customer_id",
    "started_at",
    "channel",
    "topic",
    "team",
    "agent_id",
    "direction",
    "outcome",
    "conversation_id",
)
CELL_FIELDS = ("episodes", "fixes", "fcr", "peer_fcr", "expected_repeats", "observed_repeats")
MIX_FIELDS = ("episodes", "observed_repeats", "expected_repeats", "ratio", "flagged")
LIMIT_FIELDS = ("low95", "high95", "low998", "high998")
WEEK_FIELDS = ("week_start", "episodes", "fixes", "fcr", "baseline_fcr", "lower_limit", "spike")
WEEK_FIELDS += ("change",)
FOLLOW_FIELDS = ("count", "contacts", "share")


# --------------------------------------------------------------------------------------------
# A log of contacts, built by hand
# --------------------------------------------------------------------------------------------
class Log:
    """CSV-like contact rows (every value a string); each `episode` is a new customer."""

    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []
        self.customers = 0

    def contact(self, customer: str, at: datetime, topic: str = "", **extra: str) -> str:
        cid = f"c{len(self.rows) + 1:04d}"
        when = at.strftime("%Y-%m-%dT%H:%M")
        self.rows.append(
            {"contact_id": cid, "customer_id": customer, "started_at": when, "topic": topic} | extra
        )
        return cid

    def customer(self) -> str:
        self.customers += 1
        return f"K{self.customers:04d}"

    def episode(
        self, topic: str, team: str = "", agent: str = "", at: datetime = MONDAY, fixed=True
    ) -> None:
        """A first contact by `team`/`agent`; when not fixed, the customer comes back 2 h later
        (handled by someone else: the episode stays its first contact's, G1)."""
        customer = self.customer()
        self.contact(customer, at, topic, team=team, agent_id=agent)
        if not fixed:
            self.contact(customer, at + timedelta(hours=2), topic, team="rework", agent_id="r9")

    def episodes(self, count: int, fixes: int, topic: str, team="", agent="", at=MONDAY) -> None:
        for i in range(count):
            self.episode(topic, team, agent, at + timedelta(minutes=i), fixed=i < fixes)

    def frame(self) -> pl.DataFrame:
        return _frame(self.rows)


def _frame(rows: list[dict[str, str]]) -> pl.DataFrame:
    columns = [c for c in COLUMNS if any(c in r for r in rows)]
    data = {c: [r.get(c, "") for r in rows] for c in columns}
    return pl.DataFrame(data, schema={c: pl.String for c in columns})


def options(**values: Any) -> dict[str, Any]:
    mapping: dict[str, Any] = {"timezone": "Europe/Amsterdam", "observed_until": FAR}
    mapping.update(values)
    return {k: v for k, v in mapping.items() if v is not None}


# --------------------------------------------------------------------------------------------
# The two implementations, seen through one normalised view
# --------------------------------------------------------------------------------------------
def _labels(raw: pl.DataFrame, mapping: dict) -> tuple[Params, Any]:
    params = Params.from_mapping(mapping)
    return params, contacts_from_frame(raw, params)


def run_reference(raw: pl.DataFrame, mapping: dict) -> dict:
    params, contacts = _labels(raw, mapping)
    rows = label_repeats(contacts, params, contact_fields=True).to_dicts()
    return _view(naive_gaps(rows, mapping))


def run_engine(raw: pl.DataFrame, mapping: dict) -> dict:
    from fcrlab import load_page_topics
    from fcrlab.gaps import knowledge_gaps  # lazily: the reference side runs without it

    params, contacts = _labels(raw, mapping)
    pages = load_page_topics(None, params) if params.page_topics else None
    g = knowledge_gaps(contacts, params, page_topics=pages)
    return _view(
        {
            "cells": g.cells.to_dicts(),
            "mix_adjusted": g.mix_adjusted.to_dicts(),
            "weekly": g.weekly.to_dicts(),
            "spikes": g.spikes.to_dicts(),
            "follow_ups": g.follow_ups.to_dicts(),
            "worth_answering": _rows(g.worth_answering),
        },
        gaps=g,
    )


def _rows(table: Any) -> list[dict]:
    return table.to_dicts() if isinstance(table, pl.DataFrame) else list(table)


def _view(result: dict, gaps: Any = None) -> dict:
    return {
        "cells": {(c["level"], c["unit"], c["topic"]): c for c in result["cells"]},
        "mix": {(m["level"], m["unit"]): m for m in result["mix_adjusted"]},
        "weekly": {(w["topic"], w["week"]): w for w in result["weekly"]},
        "spikes": [(w["topic"], w["week"]) for w in result["spikes"]],
        "follow_ups": {(f["topic"], f["next_topic"]): f for f in result["follow_ups"]},
        "worth": [(f["topic"], f["next_topic"], f["count"]) for f in result["worth_answering"]],
        "raw": result,
        "gaps": gaps,
    }


IMPLEMENTATIONS: dict[str, Callable[[pl.DataFrame, dict], dict]] = {
    "reference": run_reference,
    "engine": run_engine,
}


@pytest.fixture(params=["reference", "engine"])
def impl(request: pytest.FixtureRequest) -> Callable[[pl.DataFrame, dict], dict]:
    return IMPLEMENTATIONS[request.param]


def check(actual: dict, **expected: Any) -> None:
    """Each named field equals its literal (floats to 1e-9 relative; None = null)."""
    wrong = {
        k: (actual.get(k, "<missing>"), v) for k, v in expected.items() if not _same(actual, k, v)
    }
    assert not wrong, f"(got, expected): {wrong}"


def _same(actual: dict, key: str, value: Any) -> bool:
    return key in actual and is_close(actual[key], value)


# --------------------------------------------------------------------------------------------
# G1 Which episodes, and whose they are
# --------------------------------------------------------------------------------------------
def test_g1_decision_example_episode_without_team_counts_for_the_topic_only(impl) -> None:
    # A (north, fixed), B (south, came back), C (no team, no agent, fixed): tv FCR 2/3.
    log = Log()
    log.episode("tv", "north", "a1", fixed=True)
    log.episode("tv", "south", "a2", fixed=False)
    log.episode("tv", fixed=True)
    res = impl(log.frame(), options(min_episodes=1))
    assert set(res["cells"]) == {
        ("team", "north", "tv"),
        ("team", "south", "tv"),
        ("agent", "a1", "tv"),
        ("agent", "a2", "tv"),
    }
    for level, north, south in (("team", "north", "south"), ("agent", "a1", "a2")):
        # north's peers: B and C (1 fix of 2); south's peers: A and C (2 of 2)
        check(res["cells"][(level, north, "tv")], episodes=1, fixes=1, fcr=1.0, peer_fcr=0.5)
        check(res["cells"][(level, south, "tv")], episodes=1, fixes=0, fcr=0.0, peer_fcr=1.0)
        check(res["cells"][(level, south, "tv")], expected_repeats=0.0, observed_repeats=1)
        # G4 uses tv's FCR over all episodes, C's included: 2/3 → 1/3 expected repeats each
        check(res["mix"][(level, north)], episodes=1, observed_repeats=0, expected_repeats=1 / 3)
        check(res["mix"][(level, south)], episodes=1, observed_repeats=1, expected_repeats=1 / 3)
    assert set(res["mix"]) == {("team", "north"), ("team", "south")} | {
        ("agent", "a1"),
        ("agent", "a2"),
    }


def test_g1_episode_belongs_to_its_first_contacts_team_and_agent(impl) -> None:
    # A (north, a1) not fixed, its repeat B handled by south/a2; C (south, a2) fixed.
    log = Log()
    customer = log.customer()
    log.contact(customer, MONDAY, "tv", team="north", agent_id="a1")
    log.contact(customer, MONDAY + timedelta(days=1), "tv", team="south", agent_id="a2")
    log.episode("tv", "south", "a2", at=MONDAY + timedelta(days=2), fixed=True)
    res = impl(log.frame(), options(min_episodes=1))
    check(res["cells"][("team", "north", "tv")], episodes=1, fixes=0, peer_fcr=1.0)
    check(res["cells"][("team", "south", "tv")], episodes=1, fixes=1, peer_fcr=0.0)
    check(res["cells"][("agent", "a1", "tv")], episodes=1, fixes=0, observed_repeats=1)
    check(res["cells"][("agent", "a2", "tv")], episodes=1, fixes=1, observed_repeats=0)
    check(res["mix"][("team", "south")], episodes=1, observed_repeats=0)


def test_g1_only_reported_not_pending_episodes(impl) -> None:
    # period 09-03..16-03, observed_until Fri 20-03 12:00, window 7d; all north tv.
    log = Log()
    log.episode("tv", "north", at=datetime(2026, 3, 6, 12), fixed=False)  # before the period
    log.episode("tv", "north", at=datetime(2026, 3, 10, 12), fixed=True)  # reported
    log.episode("tv", "north", at=datetime(2026, 3, 13, 12), fixed=False)  # +7d = until: done
    log.episode("tv", "north", at=datetime(2026, 3, 14, 10), fixed=True)  # +7d > until: pending
    log.episode("tv", "south", at=datetime(2026, 3, 17, 10), fixed=True)  # after the period
    mapping = options(
        min_episodes=1,
        observed_until="2026-03-20T12:00",
        period={"start": "2026-03-09", "end": "2026-03-16"},
    )
    res = impl(log.frame(), mapping)
    assert set(res["cells"]) == {("team", "north", "tv")}
    check(res["cells"][("team", "north", "tv")], episodes=2, fixes=1, fcr=0.5, peer_fcr=None)
    assert res["cells"][("team", "north", "tv")]["p_value"] is None  # no peers: not tested
    assert res["cells"][("team", "north", "tv")]["flagged"] is False
    assert {k for k in res["weekly"]} == {("tv", "2026-W11")}
    check(res["weekly"][("tv", "2026-W11")], episodes=2, fixes=1, fcr=0.5)


def test_g1_empty_topic_is_a_topic_of_its_own(impl) -> None:
    log = Log()
    log.episode("", "north", fixed=True)
    log.episode("tv", "north", fixed=False)
    log.episode("", "south", fixed=False)
    res = impl(log.frame(), options(min_episodes=1))
    assert set(res["cells"]) == {
        ("team", "north", None),
        ("team", "north", "tv"),
        ("team", "south", None),
    }
    check(res["cells"][("team", "north", None)], episodes=1, fixes=1, peer_fcr=0.0)
    check(res["cells"][("team", "south", None)], episodes=1, fixes=0, peer_fcr=1.0)
    check(res["cells"][("team", "north", "tv")], episodes=1, fixes=0, peer_fcr=None)
    # mix: the empty topic's FCR is 1/2, tv's 0 → north expects 0.5 + 1, south 0.5
    check(res["mix"][("team", "north")], episodes=2, observed_repeats=1, expected_repeats=1.5)
    check(res["mix"][("team", "south")], episodes=1, observed_repeats=1, expected_repeats=0.5)


# --------------------------------------------------------------------------------------------
# G2 Cells, peers and the test
# --------------------------------------------------------------------------------------------
def test_g2_decision_example_one_sided_fisher(impl) -> None:
    # north tv 4 episodes 0 fixes; peers (south) 10 episodes 9 fixes. Fisher: M = 14 episodes,
    # K = 5 repeats, N = 4 north's: P(X ≥ 4) = C(5,4)·C(9,0)/C(14,4) = 5/1001.
    log = Log()
    log.episodes(4, 0, "tv", "north")
    log.episodes(10, 9, "tv", "south")
    res = impl(log.frame(), options(min_episodes=2))
    north = res["cells"][("team", "north", "tv")]
    check(north, episodes=4, fixes=0, fcr=0.0, peer_fcr=0.9, expected_repeats=0.4)
    check(north, observed_repeats=4, p_value=5 / 1001, flagged=True)
    # south: 1 repeat of 10, peers 4 of 4: the 5 repeats cannot all be north's 4, P(X ≥ 1) = 1
    south = res["cells"][("team", "south", "tv")]
    check(south, episodes=10, fixes=9, fcr=0.9, peer_fcr=0.0, expected_repeats=10.0)
    check(south, observed_repeats=1, p_value=1.0, flagged=False)


def test_g2_p_value_is_p_of_at_least_observed_and_bh_uses_rank_threshold(impl) -> None:
    # north 3 episodes 1 fix (2 repeats), peers 10/9: M = 13, K = 3, N = 3:
    # P(X ≥ 2) = [C(3,2)·C(10,1) + C(3,3)·C(10,0)] / C(13,3) = 31/286 ≈ 0.108: not flagged.
    log = Log()
    log.episodes(3, 1, "tv", "north")
    log.episodes(10, 9, "tv", "south")
    res = impl(log.frame(), options(min_episodes=3))
    check(res["cells"][("team", "north", "tv")], p_value=31 / 286, flagged=False, peer_fcr=0.9)
    # south: 1 repeat of 10; P(X ≥ 1) = 1 − P(X = 0) = 1 − C(10,10)/C(13,10) = 1 − 1/286
    check(
        res["cells"][("team", "south", "tv")],
        peer_fcr=1 / 3,
        p_value=1 - 1 / 286,
        flagged=False,
    )


def test_g2_untested_cells_do_not_count_in_the_correction(impl) -> None:
    # min_episodes 2. north 3/0, south 7/7, east 1 episode 0 fixes (below min_episodes).
    # north's peers 8 episodes 1 repeat: M = 11, K = 4, N = 3: p = C(4,3)/C(11,3) = 4/165
    # ≈ 0.0242 ≤ 0.05·1/2 → flagged; counting east (m = 3) would need ≤ 0.0167.
    log = Log()
    log.episodes(3, 0, "tv", "north")
    log.episodes(7, 7, "tv", "south")
    log.episodes(1, 0, "tv", "east")
    res = impl(log.frame(), options(min_episodes=2))
    check(res["cells"][("team", "north", "tv")], peer_fcr=7 / 8, p_value=4 / 165, flagged=True)
    check(res["cells"][("team", "south", "tv")], peer_fcr=0.0, p_value=1.0, flagged=False)
    east = res["cells"][("team", "east", "tv")]
    check(east, episodes=1, peer_fcr=0.7, expected_repeats=pytest.approx(0.3), observed_repeats=1)
    check(east, p_value=None, flagged=False)


def test_g2_one_correction_over_both_levels_together(impl) -> None:
    # north/a1: 2 episodes 0 fixes; no team/a2: 5 episodes 5 fixes. min_episodes 2.
    # team north and agent a1: M = 7, K = 2, N = 2: p = 1/C(7,2) = 1/21 ≈ 0.048 (alone at its
    # level it would pass 0.05); agent a2 (peers a1, 0/2) p = 1. One BH over m = 3:
    # 1/21 > 0.05·2/3 and > 0.05/3, so nothing is flagged.
    log = Log()
    log.episodes(2, 0, "tv", "north", "a1")
    log.episodes(5, 5, "tv", "", "a2")
    res = impl(log.frame(), options(min_episodes=2))
    assert set(res["cells"]) == {
        ("team", "north", "tv"),
        ("agent", "a1", "tv"),
        ("agent", "a2", "tv"),
    }
    check(res["cells"][("team", "north", "tv")], peer_fcr=1.0, p_value=1 / 21, flagged=False)
    check(res["cells"][("agent", "a1", "tv")], peer_fcr=1.0, p_value=1 / 21, flagged=False)
    check(res["cells"][("agent", "a2", "tv")], peer_fcr=0.0, p_value=1.0, flagged=False)


def test_g2_bh_step_up_flags_both_of_two_p_values_below_fdr(impl) -> None:
    # north 2/0, south 2/0, no team 13/13. Each team's peers: 15 episodes 2 repeats, so
    # M = 17, K = 4, N = 2: p = C(4,2)/C(17,2) = 6/136 ≈ 0.044. m = 2: p_(2) ≤ 0.05·2/2, so
    # both are rejected although 0.044 > 0.05·1/2.
    log = Log()
    log.episodes(2, 0, "tv", "north")
    log.episodes(2, 0, "tv", "south")
    log.episodes(13, 13, "tv")
    res = impl(log.frame(), options(min_episodes=2))
    for team in ("north", "south"):
        check(res["cells"][("team", team, "tv")], peer_fcr=13 / 15, p_value=6 / 136, flagged=True)
    # the same cells at fdr 0.03: 0.044 > 0.03 → nothing
    res = impl(log.frame(), options(min_episodes=2, fdr=0.03))
    assert not any(c["flagged"] for c in res["cells"].values())


# --------------------------------------------------------------------------------------------
# G4 Topic-mix adjustment
# --------------------------------------------------------------------------------------------
def test_g4_decision_example_indirect_standardisation(impl) -> None:
    # north: tv 10 episodes 5 repeats, billing 10 episodes 1 repeat (6 repeats);
    # south: tv 10/3 repeats, billing 10/1. tv repeat rate 8/20 = 0.4, billing 2/20 = 0.1.
    log = Log()
    log.episodes(10, 5, "tv", "north")
    log.episodes(10, 9, "billing", "north")
    log.episodes(10, 7, "tv", "south")
    log.episodes(10, 9, "billing", "south")
    res = impl(log.frame(), options(min_episodes=5))
    north = res["mix"][("team", "north")]
    check(north, episodes=20, observed_repeats=6, expected_repeats=5.0, ratio=1.2, flagged=False)
    # Poisson(5): P(≤0) .0067, P(≤1) .0404, P(≤9) .9682, P(≤10) .9863, P(≤12) .99798,
    # P(≤13) .99930 → quantiles 0.1 %: 0, 2.5 %: 1, 97.5 %: 10, 99.9 %: 13; divided by 5.
    check(north, low95=0.2, high95=2.0, low998=0.0, high998=2.6)
    south = res["mix"][("team", "south")]
    check(south, episodes=20, observed_repeats=4, expected_repeats=5.0, ratio=0.8, flagged=False)


def _mix_case(north_repeats: int, south_repeats: int) -> pl.DataFrame:
    log = Log()
    log.episodes(4, 4 - north_repeats, "tv", "north")
    log.episodes(36, 36 - south_repeats, "tv", "south")
    return log.frame()


def test_g4_flagged_above_the_upper_998_limit(impl) -> None:
    # tv repeat rate 4/40 = 0.1; north 4 episodes, all repeats: expected 0.4, observed 4.
    # Poisson(0.4): P(≤2) .99207, P(≤3) .99922 → 99.9 % quantile 3; 4 > 3 → flagged.
    res = impl(_mix_case(4, 0), options(min_episodes=4))
    north = res["mix"][("team", "north")]
    check(north, expected_repeats=0.4, observed_repeats=4, ratio=10.0, flagged=True)
    check(north, high998=7.5, high95=5.0, low95=0.0, low998=0.0)
    # south is better than expected (0 of 3.6): only worse is flagged
    check(res["mix"][("team", "south")], expected_repeats=3.6, ratio=0.0, flagged=False)


def test_g4_not_flagged_below_min_episodes(impl) -> None:
    res = impl(_mix_case(4, 0), options(min_episodes=5))
    check(res["mix"][("team", "north")], ratio=10.0, flagged=False)


def test_g4_observed_equal_to_the_limit_is_not_above_it(impl) -> None:
    # north 3 repeats of 4, south 1 of 36: rate still 0.1, expected 0.4, observed 3 = limit.
    res = impl(_mix_case(3, 1), options(min_episodes=4))
    check(res["mix"][("team", "north")], expected_repeats=0.4, ratio=7.5, flagged=False)


def test_g4_no_expected_repeats_gives_no_ratio(impl) -> None:
    # Every tv episode is a fix: tv's repeat rate is 0, so north expects 0 repeats and has 0;
    # 0/0 is no ratio (null or NaN), no limits, and not flagged.
    log = Log()
    log.episodes(3, 3, "tv", "north")
    log.episodes(3, 3, "tv", "south")
    res = impl(log.frame(), options(min_episodes=1))
    north = res["mix"][("team", "north")]
    check(north, episodes=3, observed_repeats=0, expected_repeats=0.0, ratio=None, flagged=False)
    check(north, low95=None, high95=None, low998=None, high998=None)


# --------------------------------------------------------------------------------------------
# G5 Weekly spikes
# --------------------------------------------------------------------------------------------
def _week(n: int) -> datetime:
    """Tuesday 10:00 of ISO week 2026-Wn."""
    return datetime.fromisocalendar(2026, n, 2).replace(hour=10)


def _spike_log(topic: str = "tv/decoder") -> Log:
    # W10-W13: 8 episodes, 6 fixes each (baseline 24/32 = 0.75 in 4 weeks);
    # W14 (after the clock change): 40 episodes, 20 fixes.
    log = Log()
    for n in (10, 11, 12, 13):
        log.episodes(8, 6, topic, "north", at=_week(n))
    log.episodes(40, 20, topic, "north", at=_week(14))
    return log


def test_g5_decision_example_exact_binomial_spike(impl) -> None:
    # P(X ≤ 20 | Bin(40, .75)) = 0.000572 < 0.001 → spike. (decisions G5 says ≈ 0.0002; the
    # exact sum is 0.000572, still a spike.) binom.ppf(0.001, 40, .75) = 21: P(X ≤ 20) < .001
    # ≤ P(X ≤ 21) = 0.00171 → lower_limit 21/40.
    res = impl(_spike_log().frame(), options(min_episodes=30))
    week = res["weekly"][("tv/decoder", "2026-W14")]
    check(week, week_start=date(2026, 3, 30), episodes=40, fixes=20, fcr=0.5)
    check(week, baseline_fcr=0.75, lower_limit=0.525, spike=True, change=None)
    assert res["spikes"] == [("tv/decoder", "2026-W14")]
    check(res["weekly"][("tv/decoder", "2026-W10")], episodes=8, fixes=6, spike=False)
    check(res["weekly"][("tv/decoder", "2026-W10")], baseline_fcr=None, lower_limit=None)


def test_g5_week_below_min_episodes_is_not_a_spike(impl) -> None:
    # Baseline 0.75 as above; W14 has 6 episodes and 0 fixes: P(X ≤ 0) = 0.25^6 = 0.00024
    # < 0.001, but 6 < min_episodes 30, so not a spike.
    log = Log()
    for n in (10, 11, 12, 13):
        log.episodes(8, 6, "tv", "north", at=_week(n))
    log.episodes(6, 0, "tv", "north", at=_week(14))
    res = impl(log.frame(), options(min_episodes=30))
    check(res["weekly"][("tv", "2026-W14")], episodes=6, fixes=0, baseline_fcr=0.75, spike=False)
    assert res["spikes"] == []


def test_g5_baseline_below_min_episodes_gives_no_limit(impl) -> None:
    # The decision example with min_episodes 33: 32 baseline episodes are too few.
    res = impl(_spike_log().frame(), options(min_episodes=33))
    check(res["weekly"][("tv/decoder", "2026-W14")], lower_limit=None, spike=False)


def test_g5_fewer_than_four_baseline_weeks_gives_no_limit(impl) -> None:
    # W11-W13: 12 episodes, 9 fixes each (36 ≥ 30 episodes but 3 weeks); W14 40/20.
    log = Log()
    for n in (11, 12, 13):
        log.episodes(12, 9, "tv", "north", at=_week(n))
    log.episodes(40, 20, "tv", "north", at=_week(14))
    res = impl(log.frame(), options(min_episodes=30))
    check(res["weekly"][("tv", "2026-W14")], episodes=40, lower_limit=None, spike=False)
    assert res["spikes"] == []


def test_g5_baseline_is_the_8_weeks_before_with_empty_weeks_skipped(impl) -> None:
    # W05 (9 weeks before W14) has 40 episodes and 0 fixes: outside the trailing 8 weeks.
    # W07, W09, W11, W13 have 8/6 each (W06, W08, W10, W12 empty): baseline 24/32 = 0.75.
    log = Log()
    log.episodes(40, 0, "tv", "north", at=_week(5))
    for n in (7, 9, 11, 13):
        log.episodes(8, 6, "tv", "north", at=_week(n))
    log.episodes(40, 20, "tv", "north", at=_week(14))
    res = impl(log.frame(), options(min_episodes=30))
    check(res["weekly"][("tv", "2026-W14")], baseline_fcr=0.75, lower_limit=0.525, spike=True)
    # W13's own 8 weeks (W05-W12) do include W05: 4 weeks, 64 episodes, 18 fixes
    check(res["weekly"][("tv", "2026-W13")], baseline_fcr=18 / 64, spike=False)


def test_g5_changes_label_spikes_of_their_topics_latest_wins(impl) -> None:
    changes = [
        {"date": "2026-01-05", "topic": "tv/decoder", "note": "too old"},  # +8 weeks = 03-02
        {"date": "2026-03-16", "topic": "tv/decoder", "note": "earlier"},
        {"date": "2026-04-01", "topic": "tv", "note": "decoder firmware"},  # Wed of W14; parent
        {"date": "2026-04-02", "topic": "billing", "note": "other topic"},
        {"date": "2026-04-03", "topic": "tv/deco", "note": "not a level"},
        {"date": "2026-04-06", "topic": "tv/decoder", "note": "next week"},  # W15 Monday
    ]
    res = impl(_spike_log().frame(), options(min_episodes=30, changes=changes))
    check(res["weekly"][("tv/decoder", "2026-W14")], spike=True, change="decoder firmware")


def test_g5_change_window_is_eight_weeks_from_its_weeks_monday(impl) -> None:
    # A change on Mon 2026-02-02 reaches W14 (Monday 02-02 + 56 days = 03-30); one on
    # Sun 2026-02-01 (week Monday 01-26, + 56 days = 03-23) does not.
    on = [{"date": "2026-02-02", "topic": "tv/decoder", "note": "in reach"}]
    off = [{"date": "2026-02-01", "topic": "tv/decoder", "note": "out of reach"}]
    res = impl(_spike_log().frame(), options(min_episodes=30, changes=on))
    check(res["weekly"][("tv/decoder", "2026-W14")], spike=True, change="in reach")
    res = impl(_spike_log().frame(), options(min_episodes=30, changes=off))
    check(res["weekly"][("tv/decoder", "2026-W14")], spike=True, change=None)


def test_g5_a_page_change_labels_the_topic_its_page_maps_to(impl) -> None:
    pages = {"/help/tv/*": "billing", "/help/tv/decoder": "tv/decoder"}  # exact path wins
    changes = [{"date": "2026-03-30", "page": "/help/tv/decoder", "note": "page rewritten"}]
    res = impl(_spike_log().frame(), options(min_episodes=30, changes=changes, page_topics=pages))
    check(res["weekly"][("tv/decoder", "2026-W14")], spike=True, change="page rewritten")
    changes = [{"date": "2026-03-30", "page": "/help/tv/other", "note": "prefix: billing"}]
    res = impl(_spike_log().frame(), options(min_episodes=30, changes=changes, page_topics=pages))
    check(res["weekly"][("tv/decoder", "2026-W14")], spike=True, change=None)


def test_g5_iso_weeks_of_the_local_date(impl) -> None:
    # Fri 2027-01-01 is in 2026-W53; Mon 2027-01-04 00:30 local (Sun 23:30 UTC) is 2027-W01.
    log = Log()
    log.episode("tv", "north", at=datetime(2027, 1, 1, 10), fixed=True)
    log.episode("tv", "north", at=datetime(2027, 1, 4, 0, 30), fixed=False)
    res = impl(log.frame(), options(min_episodes=1, observed_until="2027-03-01T00:00"))
    assert set(res["weekly"]) == {("tv", "2026-W53"), ("tv", "2027-W01")}
    check(res["weekly"][("tv", "2026-W53")], week_start=date(2026, 12, 28), fixes=1)
    check(res["weekly"][("tv", "2027-W01")], week_start=date(2027, 1, 4), fixes=0, fcr=0.0)


# --------------------------------------------------------------------------------------------
# G6 Follow-up questions
# --------------------------------------------------------------------------------------------
def test_g6_decision_example(impl) -> None:
    # A (moving, day 1), B (billing, day 3), C (billing, day 20): A → billing; B has none.
    log = Log()
    k = log.customer()
    log.contact(k, MONDAY, "moving")
    log.contact(k, MONDAY + timedelta(days=2), "billing")
    log.contact(k, MONDAY + timedelta(days=19), "billing")
    res = impl(log.frame(), options(min_episodes=1))
    assert set(res["follow_ups"]) == {("moving", "billing")}
    check(res["follow_ups"][("moving", "billing")], count=1, contacts=1, share=1.0)
    assert res["worth"] == [("moving", "billing", 1)]


def test_g6_only_the_next_contact_and_not_uncounted_ones(impl) -> None:
    # A moving d0, O outbound tv d1 (not counted), B tv d2, C billing d3: A → tv, B → billing.
    log = Log()
    k = log.customer()
    log.contact(k, MONDAY, "moving")
    log.contact(k, MONDAY + timedelta(days=1), "internet", direction="outbound")
    log.contact(k, MONDAY + timedelta(days=2), "tv")
    log.contact(k, MONDAY + timedelta(days=3), "billing")
    res = impl(log.frame(), options(min_episodes=1))
    assert set(res["follow_ups"]) == {("moving", "tv"), ("tv", "billing")}
    check(res["follow_ups"][("moving", "tv")], count=1, contacts=1, share=1.0)


def test_g6_window_is_inclusive_and_absolute_across_dst(impl) -> None:
    # Wed 25-03 10:00 CET → Wed 01-04 11:00 CEST is exactly 168 h: a follow-up.
    # Thu 26-03 10:00 → Thu 02-04 11:01 CEST is 168 h 1 min: none.
    log = Log()
    k = log.customer()
    log.contact(k, datetime(2026, 3, 25, 10), "moving")
    log.contact(k, datetime(2026, 4, 1, 11), "billing")
    k = log.customer()
    log.contact(k, datetime(2026, 3, 26, 10), "moving")
    log.contact(k, datetime(2026, 4, 2, 11, 1), "billing")
    res = impl(log.frame(), options(min_episodes=1))
    check(res["follow_ups"][("moving", "billing")], count=1, contacts=2, share=0.5)


def test_g6_ties_follow_rule_6_order(impl) -> None:
    # Same instant: order by contact_id as strings ("c0001" < "c0002"): moving → tv.
    log = Log()
    k = log.customer()
    log.contact(k, MONDAY, "moving")
    log.contact(k, MONDAY, "tv")
    res = impl(log.frame(), options(min_episodes=1))
    assert set(res["follow_ups"]) == {("moving", "tv")}
    check(res["follow_ups"][("moving", "tv")], count=1, contacts=1)


def test_g6_only_contacts_started_in_the_period_with_a_fully_observed_window(impl) -> None:
    # period 09-03..16-03 (end exclusive), observed_until Sun 22-03 10:00, window 7d.
    log = Log()
    k = log.customer()
    log.contact(k, datetime(2026, 3, 8, 10), "moving")  # before the period: not counted
    log.contact(k, datetime(2026, 3, 10, 10), "tv")  # → billing 03-15
    log.contact(k, datetime(2026, 3, 15, 10), "billing")  # +7d = until: observed; → internet
    log.contact(k, datetime(2026, 3, 17, 10), "internet")  # after the period: only a follow-up
    k = log.customer()
    log.contact(k, datetime(2026, 3, 14, 10), "moving")  # → tv
    log.contact(k, datetime(2026, 3, 15, 10, 1), "tv")  # +7d > until: not counted
    log.contact(k, datetime(2026, 3, 16, 10), "billing")  # after the period
    mapping = options(
        min_episodes=1,
        observed_until="2026-03-22T10:00",
        period={"start": "2026-03-09", "end": "2026-03-16"},
    )
    res = impl(log.frame(), mapping)
    assert set(res["follow_ups"]) == {
        ("tv", "billing"),
        ("billing", "internet"),
        ("moving", "tv"),
    }
    check(res["follow_ups"][("tv", "billing")], count=1, contacts=1, share=1.0)
    check(res["follow_ups"][("billing", "internet")], count=1, contacts=1, share=1.0)
    check(res["follow_ups"][("moving", "tv")], count=1, contacts=1, share=1.0)


def _worth_log() -> pl.DataFrame:
    # moving: 10 contacts (3 → billing, 1 → tv, 1 → moving); tv: 2 contacts (1 → billing);
    # billing: 4 contacts, no follow-ups.
    log = Log()
    for _ in range(3):
        k = log.customer()
        log.contact(k, MONDAY, "moving")
        log.contact(k, MONDAY + timedelta(days=2), "billing")
    k = log.customer()
    log.contact(k, MONDAY, "moving")
    log.contact(k, MONDAY + timedelta(days=1), "tv")
    k = log.customer()
    log.contact(k, MONDAY, "moving")
    log.contact(k, MONDAY + timedelta(days=1), "moving")
    for _ in range(4):
        log.contact(log.customer(), MONDAY, "moving")
    k = log.customer()
    log.contact(k, MONDAY, "tv")
    log.contact(k, MONDAY + timedelta(days=1), "billing")
    return log.frame()


def test_g6_counts_shares_and_the_list_worth_answering(impl) -> None:
    res = impl(_worth_log(), options(min_episodes=1))
    check(res["follow_ups"][("moving", "billing")], count=3, contacts=10, share=0.3)
    check(res["follow_ups"][("moving", "tv")], count=1, contacts=10, share=0.1)
    check(res["follow_ups"][("moving", "moving")], count=1, contacts=10, share=0.1)
    check(res["follow_ups"][("tv", "billing")], count=1, contacts=2, share=0.5)
    assert len(res["follow_ups"]) == 4
    # share ≥ 0.10 (inclusive), count ≥ min_episodes 1, same topic left out; by count, topic,
    # next topic
    assert res["worth"] == [("moving", "billing", 3), ("moving", "tv", 1), ("tv", "billing", 1)]


def test_g6_worth_answering_thresholds(impl) -> None:
    res = impl(_worth_log(), options(min_episodes=1, follow_up_min_share=0.2))
    assert res["worth"] == [("moving", "billing", 3), ("tv", "billing", 1)]
    res = impl(_worth_log(), options(min_episodes=1, follow_up_min_count=2))
    assert res["worth"] == [("moving", "billing", 3)]
    # the count threshold defaults to min_episodes
    res = impl(_worth_log(), options(min_episodes=3))
    assert res["worth"] == [("moving", "billing", 3)]
    res = impl(_worth_log(), options(min_episodes=4))
    assert res["worth"] == []


# --------------------------------------------------------------------------------------------
# SPEC §3 `--json` on a hand case (engine only: the reference has no JSON form)
# --------------------------------------------------------------------------------------------
def test_engine_to_json_lists_the_g2_and_g4_examples() -> None:
    log = Log()
    log.episodes(4, 0, "tv", "north")
    log.episodes(10, 9, "tv", "south")
    out = run_engine(log.frame(), options(min_episodes=2))["gaps"].to_json()
    json.dumps(out, allow_nan=False)
    assert len(out["flagged"]) == 1
    check(out["flagged"][0], level="team", unit="north", topic="tv", episodes=4, fcr=0.0)
    check(out["flagged"][0], peer_fcr=0.9, p_value=5 / 1001)
    # tv FCR 9/14: north expects 4·5/14 repeats and has 4 (Poisson(1.43) 99.9 % quantile: 6),
    # south 10·5/14 and has 1
    assert all({"level", "unit"} <= set(m) for m in out["mix_adjusted"]), out["mix_adjusted"][:1]
    mix = {(m["level"], m["unit"]): m for m in out["mix_adjusted"]}
    assert set(mix) == {("team", "north"), ("team", "south")}, out["mix_adjusted"]
    check(mix[("team", "north")], episodes=4, observed_repeats=4, expected_repeats=20 / 14)
    check(mix[("team", "north")], ratio=4 / (20 / 14), flagged=False)
    check(mix[("team", "south")], episodes=10, observed_repeats=1, expected_repeats=50 / 14)
    assert out["spikes"] == []
    # decisions G6: follow_ups lists every transition, worth_answering only other topics.
    assert all({"topic", "next_topic", "count", "share"} <= set(f) for f in out["follow_ups"])
    assert all(f["topic"] != f["next_topic"] for f in out.get("worth_answering", []))


# --------------------------------------------------------------------------------------------
# (b) Generated logs: engine == reference, row by row
# --------------------------------------------------------------------------------------------
TOPICS = ("tv", "tv/decoder", "billing", "", "moving")
TEAMS = {
    "north": ("n1", "n2"),
    "south": ("s1", "s2", "s3"),
    "east": ("e1",),
    "": ("", "x1"),
    "west": ("w1",),  # rare: its cells stay below min_episodes (untested)
}
TEAM_WEIGHTS = (3, 4, 2, 1, 0.15)
START = datetime(2026, 1, 5)  # Monday, 2026-W02
BAD_WEEKS = (70, 84)  # days after START: ISO 2026-W12 and W13


def _fix_chance(team: str, topic: str, day: int) -> float:
    chance = {"tv": 0.7, "tv/decoder": 0.8, "billing": 0.8, "": 0.6, "moving": 0.75}[topic]
    if team == "east" and topic == "billing":
        chance = 0.35  # a weak cell
    if topic == "tv/decoder" and BAD_WEEKS[0] <= day < BAD_WEEKS[1]:
        chance = 0.15  # two bad weeks: spikes
    return chance


def generated_log(seed: int, customers: int = 900, weeks: int = 20) -> pl.DataFrame:
    """Few teams, agents and topics, so that many cells pass small min_episodes; ties in time,
    contact ids not in time order, outbound and abandoned rows, and a moving → billing habit."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []

    def add(customer: str, at: datetime, topic: str, team: str, agent: str, **extra: str):
        rows.append(
            {
                "customer_id": customer,
                "started_at": at.strftime("%Y-%m-%dT%H:%M"),
                "topic": topic,
                "team": team,
                "agent_id": agent,
                "channel": rng.choice(("phone", "phone", "chat", "email")),
            }
            | extra
        )

    def handler() -> tuple[str, str]:
        team = rng.choices(tuple(TEAMS), TEAM_WEIGHTS)[0]
        return team, rng.choice(TEAMS[team])

    for c in range(customers):
        customer = f"K{c:05d}"
        for _ in range(rng.choice((1, 1, 2, 3))):
            day = rng.randrange(weeks * 7)
            at = START + timedelta(days=day, minutes=15 * rng.randrange(4 * 24))
            topic = rng.choice(TOPICS)
            if topic == "tv" and BAD_WEEKS[0] <= day < BAD_WEEKS[1] and rng.random() < 0.5:
                topic = "tv/decoder"  # more decoder questions in the bad weeks
            team, agent = handler()
            add(customer, at, topic, team, agent)
            if rng.random() < 0.03:
                add(customer, at + timedelta(hours=1), topic, team, agent, direction="outbound")
            if rng.random() < 0.03:
                add(customer, at + timedelta(minutes=30), topic, "", "", outcome="abandoned")
            if rng.random() > _fix_chance(team, topic, day):
                later = at
                for _ in range(rng.choice((1, 1, 2))):
                    days = 4 if rng.random() < 0.85 else 12  # most come back within the window
                    later = later + timedelta(minutes=15 * rng.randrange(1, 4 * 24 * days))
                    again = rng.choice(TOPICS) if rng.random() < 0.2 else topic
                    add(customer, later, again, *handler())
            if topic == "moving" and rng.random() < 0.4:
                later = at + timedelta(hours=rng.choice((0, 24, 48, 100)))  # 0: a tie in time
                add(customer, later, "billing", team, agent)
    order = list(range(len(rows)))
    rng.shuffle(order)  # contact ids not in time order: ties are broken by id (rule 6)
    for number, i in enumerate(order):
        rows[i]["contact_id"] = f"g{number:06d}"
    return _frame(rows)


def sample_log(seed: int, contacts: int) -> tuple[pl.DataFrame, dict]:
    from fcrlab.sample import make_sample

    sample = make_sample(contacts=contacts, seed=seed)
    pages = {r["page"]: r["topic"] for r in sample["page_topics"].to_dicts()}
    return sample["contacts"], pages


CHANGES = [
    {"date": "2026-03-16", "topic": "tv", "note": "decoder firmware"},
    {"date": "2026-03-20", "page": "/help/decoder", "note": "decoder page"},
    {"date": "2026-09-14", "topic": "tv/decoder", "note": "decoder firmware (sample)"},
    {"date": "2026-09-21", "page": "/help/invoice", "note": "invoice page"},
]
GEN_PAGES = {"/help/decoder": "tv/decoder", "/help/*": "billing"}

GENERATED = {
    "own-1": (lambda: generated_log(1), dict(min_episodes=8, changes=CHANGES[:2])),
    "own-2": (
        lambda: generated_log(2),
        dict(
            min_episodes=5,
            window="5d",
            fdr=0.10,
            match="family",
            period={"start": "2026-02-02", "end": "2026-05-04"},
        ),
    ),
    "own-3": (
        lambda: generated_log(3),
        dict(
            min_episodes=10,
            abandoned="include",
            follow_up_min_count=3,
            follow_up_min_share=0.05,
            changes=CHANGES[:2],
            observed_until="2026-05-20T12:00",
        ),
    ),
    "sample-1": (lambda: sample_log(1, 3000)[0], dict(min_episodes=5, changes=CHANGES[2:])),
    "sample-2": (
        lambda: sample_log(2, 3000)[0],
        dict(min_episodes=6, window="3d", follow_up_min_count=4, changes=CHANGES[2:]),
    ),
    "sample-5": (
        lambda: sample_log(5, 6000)[0],
        dict(min_episodes=10, period={"start": "2026-07-06", "end": "2026-11-02"}),
    ),
}


def _mapping(name: str) -> dict:
    extra = dict(GENERATED[name][1])
    pages = GEN_PAGES if name.startswith("own") else sample_log(1, 10)[1]
    extra.setdefault("page_topics", pages)
    return {"timezone": "Europe/Amsterdam", **extra}


def _compare(
    what: str, engine: dict, reference: dict, fields: tuple[str, ...], rel: float = 1e-9
) -> list[str]:
    problems = []
    if set(engine) != set(reference):
        only_e = sorted(set(engine) - set(reference), key=repr)[:5]
        only_r = sorted(set(reference) - set(engine), key=repr)[:5]
        problems.append(f"{what}: keys differ; engine only {only_e}, reference only {only_r}")
    for key in sorted(set(engine) & set(reference), key=repr):
        e, r = engine[key], reference[key]
        for f in fields:
            if f not in e:
                problems.append(f"{what} {key}: engine has no column {f!r}")
            elif not is_close(e[f], r[f], rel=rel, abs_=0 if f == "p_value" else 1e-12):
                problems.append(f"{what} {key} {f}: engine {e[f]!r} reference {r[f]!r}")
    return problems


@pytest.fixture(scope="module")
def generated_cache() -> dict:
    return {}


def _generated(name: str, cache: dict) -> tuple[dict, pl.DataFrame, dict]:
    if name not in cache:
        raw = GENERATED[name][0]()
        mapping = _mapping(name)
        cache[name] = (run_reference(raw, mapping), raw, mapping)
    return cache[name]


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_reference_is_not_vacuous(name: str, generated_cache: dict) -> None:
    ref, _, _ = _generated(name, generated_cache)
    tested = [c for c in ref["cells"].values() if c["tested"]]
    assert len(tested) >= 20, "too few tested cells to compare anything"
    assert any(w["baseline_fcr"] is not None for w in ref["weekly"].values())
    assert ref["follow_ups"]
    if name.startswith("own"):
        assert any(c["flagged"] for c in ref["cells"].values()), "the weak cell is found"
        assert ref["spikes"], "the planted bad weeks are found"
        assert ref["worth"], "moving → billing is worth answering"


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_engine_equals_reference(name: str, generated_cache: dict) -> None:
    ref, raw, mapping = _generated(name, generated_cache)
    eng = run_engine(raw, mapping)
    problems = []
    problems += _compare("cells", eng["cells"], ref["cells"], (*CELL_FIELDS, "flagged"))
    problems += _compare("cells", eng["cells"], ref["cells"], ("p_value",))
    problems += _compare("mix_adjusted", eng["mix"], ref["mix"], (*MIX_FIELDS, *LIMIT_FIELDS))
    problems += _compare("weekly", eng["weekly"], ref["weekly"], WEEK_FIELDS)
    problems += _compare("follow_ups", eng["follow_ups"], ref["follow_ups"], FOLLOW_FIELDS)
    if sorted(eng["spikes"], key=repr) != sorted(ref["spikes"], key=repr):
        problems.append(f"spikes: engine {eng['spikes'][:5]} reference {ref['spikes'][:5]}")
    problems += _worth_order(eng["worth"], ref["worth"])
    problems += _shrinkage(eng["cells"], ref["cells"])
    problems += _json(eng, ref)
    assert not problems, f"{len(problems)} differences, first ones:\n" + "\n".join(problems[:15])


def _worth_order(engine: list, reference: list) -> list[str]:
    """Same rows; engine order by count descending (ties: topic, next topic; nulls may sit
    either end, SPEC does not say)."""
    if sorted(engine, key=repr) != sorted(reference, key=repr):
        return [f"worth_answering: engine {engine[:6]} reference {reference[:6]}"]
    for a, b in itertools.pairwise(engine):
        if a[2] < b[2] or (
            a[2] == b[2] and None not in a[:2] + b[:2] and (a[0], a[1]) > (b[0], b[1])
        ):
            return [f"worth_answering order: {a} before {b}"]
    return []


def _shrinkage(engine: dict, reference: dict) -> list[str]:
    """G3 lightly: shrunk_fcr lies between the cell's fcr and its topic's fcr, and the prior
    strength α + β backed out of it is one number in [2, 10 000] per (level, topic)."""
    problems = []
    strengths: dict = {}
    for key, e in engine.items():
        r = reference.get(key)
        if r is None:
            continue
        if "shrunk_fcr" not in e:
            problems.append(f"cells {key}: no shrunk_fcr column")
            continue
        s, low, high = e["shrunk_fcr"], min(r["fcr"], r["topic_fcr"]), max(r["fcr"], r["topic_fcr"])
        if s is None or not low - 1e-12 <= s <= high + 1e-12:
            problems.append(f"cells {key}: shrunk_fcr {s!r} not in [{low}, {high}]")
            continue
        if abs(r["fcr"] - r["topic_fcr"]) > 0.05 and abs(s - r["topic_fcr"]) > 1e-6:
            strength = (r["fixes"] - s * r["episodes"]) / (s - r["topic_fcr"])
            strengths.setdefault((key[0], key[2]), []).append((strength, key))
    for group, values in strengths.items():
        lo, hi = min(v for v, _ in values), max(v for v, _ in values)
        if lo < 2 - 1e-6 or hi > 10_000 * (1 + 1e-6) or hi - lo > 1e-5 * max(1.0, hi):
            problems.append(f"shrinkage {group}: α + β from shrunk_fcr spans [{lo}, {hi}]")
    return problems


def _json(engine: dict, reference: dict) -> list[str]:
    """SPEC §3 `--json`: the four lists, with their keys, serialisable."""
    out = engine["gaps"].to_json()
    problems = []
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as err:
        problems.append(f"to_json is not plain JSON: {err}")
    # SPEC §3 names these four; more keys (params, version, …) are allowed, as for `repeats`.
    if not {"flagged", "mix_adjusted", "spikes", "follow_ups"} <= set(out):
        problems.append(f"to_json keys {sorted(out)}")
        return problems
    keys = {
        "flagged": {"level", "unit", "topic", "episodes", "fcr", "peer_fcr", "p_value"},
        "mix_adjusted": {"level", "unit", "episodes", "observed_repeats", "expected_repeats"},
        "spikes": {"topic", "week", "fcr", "baseline_fcr"},
        "follow_ups": {"topic", "next_topic", "count", "share"},
    }
    keys["mix_adjusted"] |= {"ratio", "flagged"}
    for name, needed in keys.items():
        for item in out[name]:
            if not needed <= set(item):
                problems.append(f"to_json {name}: {sorted(needed - set(item))} missing")
                break
    flagged = {(c["level"], c["unit"], c["topic"]) for c in out["flagged"]}
    expected = {k for k, c in reference["cells"].items() if c["flagged"]}
    if flagged != expected:
        problems.append(f"to_json flagged {sorted(flagged, key=repr)[:5]} ≠ reference")
    if {(s["topic"], s["week"]) for s in out["spikes"]} != set(reference["spikes"]):
        problems.append("to_json spikes ≠ the reference's spikes")
    if len(out["mix_adjusted"]) != len(reference["mix"]):
        problems.append("to_json mix_adjusted: not one entry per unit")
    pairs = {(f["topic"], f["next_topic"]) for f in out["follow_ups"]}
    worth = {(t, n) for t, n, _ in reference["worth"]}
    if not worth <= pairs <= set(reference["follow_ups"]):
        problems.append("to_json follow_ups: not between the worth-answering list and all pairs")
    return problems
