"""Hand-made cases for SPEC §2 (rules 1-10 and the summary), answers worked out by hand.

Every expected value below is a literal written from SPEC.md and docs/decisions.md, never
computed by code. Each test runs against both the engine's public API and the naive reference
(`impl` is parametrised; select one side with `-k reference` or `-k engine`), so the same hand
answers check the engine and prove the reference right.

Conventions: times are local Europe/Amsterdam wall times as a CSV would hold them; window 7d
and match topic unless a test says otherwise; `observed_until` is far in the future unless the
test is about it (so nothing is pending by accident). Calendar: 2026-03-09 is a Monday;
Europe/Amsterdam changes to summer time on Sun 2026-03-29 and back on Sun 2026-10-25.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests._oracle_adapter import IMPLEMENTATIONS, Impl, assert_labels, assert_summary

FAR = "2026-06-01T00:00"
OFFICE_HOURS = {
    "mon": "08:00-20:00",
    "tue": "08:00-20:00",
    "wed": "08:00-20:00",
    "thu": "08:00-20:00",
    "fri": "08:00-20:00",
    "sat": "09:00-17:00",
    "sun": None,
    "holidays": ["2026-12-25"],
}
AFTER_HOURS = {"after_hours": "follow_up_is_first", "office_hours": OFFICE_HOURS}
NO_REASONS = {
    "duplicate": 0,
    "anonymous": 0,
    "merged_leg": 0,
    "outbound": 0,
    "channel": 0,
    "abandoned": 0,
    "after_hours": 0,
    "outside_period": 0,
}


@pytest.fixture(params=["reference", "engine"])
def impl(request: pytest.FixtureRequest) -> Impl:
    return IMPLEMENTATIONS[request.param]


# --- building blocks -------------------------------------------------------------------------


def params(observed_until: str | None = FAR, **options: Any) -> dict[str, Any]:
    """A SPEC §3 parameter mapping; observed_until=None leaves it at its default (D8)."""
    mapping: dict[str, Any] = {"timezone": "Europe/Amsterdam"}
    if observed_until is not None:
        mapping["observed_until"] = observed_until
    mapping.update(options)
    return mapping


def row(cid: str, customer: str, at: str, topic: str = "billing", **extra: str) -> dict[str, str]:
    """One CSV-like contact row (SPEC §1 column names, every value a string)."""
    return {"contact_id": cid, "customer_id": customer, "started_at": at, "topic": topic, **extra}


def left(reason: str, **shown: Any) -> dict[str, Any]:
    """A row left out before labelling: counted false, every label column null (D1)."""
    return {
        "counted": False,
        "excluded_reason": reason,
        "episode_id": None,
        "episode_seq": None,
        "is_repeat": None,
        "repeat_of": None,
        "gap_hours": None,
        "episode_size": None,
        "first_contact_fix": None,
        "pending": None,
        "in_period": None,
        **shown,
    }


def first(
    cid: str,
    *,
    size: int,
    fix: bool | None,
    pending: bool = False,
    in_period: bool = True,
    reason: str | None = None,
    **shown: Any,
) -> dict[str, Any]:
    """A first contact (rule 7): it starts episode `cid`."""
    return {
        "counted": True,
        "excluded_reason": reason,
        "episode_id": cid,
        "episode_seq": 1,
        "is_repeat": False,
        "repeat_of": None,
        "gap_hours": None,
        "episode_size": size,
        "first_contact_fix": fix,
        "pending": pending,
        "in_period": in_period,
        **shown,
    }


def repeat(
    episode: str,
    seq: int,
    of: str,
    gap: float,
    *,
    size: int,
    pending: bool = False,
    in_period: bool = True,
    reason: str | None = None,
    **shown: Any,
) -> dict[str, Any]:
    """A repeat (rule 7): of its previous matching contact `of`, `gap` hours later."""
    return {
        "counted": True,
        "excluded_reason": reason,
        "episode_id": episode,
        "episode_seq": seq,
        "is_repeat": True,
        "repeat_of": of,
        "gap_hours": gap,
        "episode_size": size,
        "first_contact_fix": None,
        "pending": pending,
        "in_period": in_period,
        **shown,
    }


def check(impl: Impl, rows: list[dict[str, str]], mapping: dict, expected: dict[int, dict]) -> None:
    """Labels of every input row (keyed by 1-based source_row) equal the hand answer."""
    assert_labels(impl.labels(rows, mapping), expected)


def check_summary(impl: Impl, rows: list[dict[str, str]], mapping: dict, **expected: Any) -> None:
    summary = impl.summary(rows, mapping)
    # SPEC §1: rows read = rows used + rows left out, always.
    assert summary["rows_read"] == summary["rows_used"] + sum(summary["ledger"].values())
    assert_summary(summary, expected)


def ledger(**reasons: int) -> dict[str, int]:
    return {**NO_REASONS, **reasons}


# --- Rule 1: left out, one reason, the first that applies ------------------------------------


def test_rule1_duplicate_comes_before_anonymous(impl: Impl) -> None:
    rows = [
        row("c1", "", "2026-03-09 10:00"),
        row("c1", "", "2026-03-09 10:00"),  # exact copy of row 1, and anonymous too
        row("c2", "K1", "2026-03-09 11:00"),
    ]
    check(
        impl,
        rows,
        params(),
        {1: left("anonymous"), 2: left("duplicate"), 3: first("c2", size=1, fix=True)},
    )
    check_summary(
        impl,
        rows,
        params(),
        rows_read=3,
        rows_used=1,
        ledger=ledger(duplicate=1, anonymous=1),
    )


def test_rule1_anonymous_then_outbound_then_channel_then_abandoned(impl: Impl) -> None:
    mapping = params(channels=["phone"])
    rows = [
        row(
            "a1", "", "2026-03-09 10:00", channel="email", direction="outbound", outcome="abandoned"
        ),
        row(
            "a2",
            "K1",
            "2026-03-09 10:00",
            channel="email",
            direction="outbound",
            outcome="abandoned",
        ),
        row("a3", "K1", "2026-03-09 11:00", channel="email", outcome="abandoned"),
        row("a4", "K1", "2026-03-09 12:00", channel="phone", outcome="abandoned"),
        row("a5", "K1", "2026-03-09 13:00", channel="phone"),
    ]
    check(
        impl,
        rows,
        mapping,
        {
            1: left("anonymous"),
            2: left("outbound"),
            3: left("channel"),
            4: left("abandoned"),
            5: first("a5", size=1, fix=True),
        },
    )
    check_summary(
        impl,
        rows,
        mapping,
        rows_read=5,
        rows_used=1,
        ledger=ledger(anonymous=1, outbound=1, channel=1, abandoned=1),
    )


def test_rule1_merged_leg_comes_before_outbound_channel_and_abandoned(impl: Impl) -> None:
    mapping = params(channels=["phone"])
    rows = [
        row("m1", "K1", "2026-03-09 10:00", conversation_id="k", channel="phone"),
        row(
            "m2",
            "K1",
            "2026-03-09 10:05",
            conversation_id="k",
            channel="phone",
            direction="outbound",
        ),
        row("m3", "K1", "2026-03-09 10:10", conversation_id="k", channel="email"),
        row(
            "m4",
            "K1",
            "2026-03-09 10:15",
            conversation_id="k",
            channel="phone",
            outcome="abandoned",
        ),
    ]
    check(
        impl,
        rows,
        mapping,
        {
            1: first("m1", size=1, fix=True),
            2: left("merged_leg"),
            3: left("merged_leg"),
            4: left("merged_leg"),
        },
    )
    check_summary(impl, rows, mapping, rows_read=4, rows_used=1, ledger=ledger(merged_leg=3))


def test_rule1_abandoned_comes_before_after_hours(impl: Impl) -> None:
    mapping = params(**AFTER_HOURS)
    rows = [
        row("h1", "K1", "2026-03-09 21:00", outcome="abandoned"),  # Mon, after hours, followed
        row("h2", "K1", "2026-03-09 21:30"),  # Mon, after hours, followed by h3
        row("h3", "K1", "2026-03-10 09:00"),  # Tue, inside hours
    ]
    check(
        impl,
        rows,
        mapping,
        {1: left("abandoned"), 2: left("after_hours"), 3: first("h3", size=1, fix=True)},
    )
    check_summary(impl, rows, mapping, rows_used=1, ledger=ledger(abandoned=1, after_hours=1))


def test_rule1_after_hours_comes_before_outside_period(impl: Impl) -> None:
    mapping = params(period={"start": "2026-03-10", "end": "2026-03-17"}, **AFTER_HOURS)
    rows = [
        row("p1", "K1", "2026-03-09 21:00"),  # before the period *and* after hours, followed
        row("p2", "K1", "2026-03-10 09:00"),
        row("p3", "K2", "2026-03-09 10:00"),  # inside hours, before the period
        row("p3", "K2", "2026-03-09 10:00"),  # exact copy of row 3
    ]
    check(
        impl,
        rows,
        mapping,
        {
            1: left("after_hours"),
            2: first("p2", size=1, fix=True),
            3: first("p3", size=1, fix=True, in_period=False, reason="outside_period"),
            4: left("duplicate"),
        },
    )
    check_summary(
        impl,
        rows,
        mapping,
        rows_read=4,
        rows_used=1,
        ledger=ledger(duplicate=1, after_hours=1, outside_period=1),
    )


# --- Rule 2: legs ------------------------------------------------------------------------------


def test_rule2_legs_merge_into_the_first_leg_d4_example(impl: Impl) -> None:
    rows = [
        row("A1", "K1", "2026-03-09 09:00", "billing", conversation_id="k", channel="phone"),
        row(
            "A2",
            "K1",
            "2026-03-09 09:05",
            "billing/refund",
            conversation_id="k",
            channel="chat",
            resolved="yes",
        ),
        row("B", "K1", "2026-03-10 09:00", "billing/refund", channel="phone"),
    ]
    check(
        impl,
        rows,
        params(),
        {
            # channel from the first leg, topic from the last non-empty leg
            1: first("A1", size=2, fix=False, channel="phone", topic="billing/refund"),
            2: left("merged_leg"),
            3: repeat("A1", 2, "A1", 24.0, size=2, topic="billing/refund"),
        },
    )
    # resolved=yes comes from leg A2; the episode is resolved by flag but not a fix
    check_summary(
        impl,
        rows,
        params(),
        episodes=1,
        first_contact_fixes=0,
        fcr=0.0,
        fcr_flag=1.0,
        fcr_flag_n=1,
        fcr_strict=0.0,
        fcr_strict_n=1,
        ledger=ledger(merged_leg=1),
    )


def test_rule2_leg_order_is_time_then_contact_id_and_fields_come_from_last_non_empty_leg(
    impl: Impl,
) -> None:
    rows = [
        row(
            "k9",
            "K1",
            "2026-03-09 10:00",
            "tv/no-signal",
            conversation_id="c",
            channel="chat",
            resolved="nee",
            survey_resolved="",
        ),
        row(
            "k10",
            "K1",
            "2026-03-09 10:00",
            "billing",
            conversation_id="c",
            channel="phone",
            resolved="ja",
            survey_resolved="",
        ),
        row(
            "k2",
            "K1",
            "2026-03-09 10:20",
            "",
            conversation_id="c",
            channel="email",
            resolved="",
            survey_resolved="j",
        ),
        row("x", "K1", "2026-03-10 10:00", "tv/no-signal", channel="phone"),
    ]
    # Leg order: (10:00, 'k10') < (10:00, 'k9') < (10:20, 'k2'): 'k1…' < 'k9' as strings.
    # topic: k2 is empty, so k9's tv/no-signal; resolved: k2 empty, k9 'nee' -> false;
    # survey_resolved: k2 'j' -> true. x (tv/no-signal) repeats the merged contact k10.
    check(
        impl,
        rows,
        params(),
        {
            1: left("merged_leg"),
            2: first("k10", size=2, fix=False, channel="phone", topic="tv/no-signal"),
            3: left("merged_leg"),
            4: repeat("k10", 2, "k10", 24.0, size=2),
        },
    )
    check_summary(
        impl,
        rows,
        params(),
        episodes=1,
        fcr_flag=0.0,
        fcr_flag_n=1,
        fcr_survey=1.0,
        fcr_survey_n=1,
    )


def test_rule2_contact_is_inbound_if_any_leg_is_inbound(impl: Impl) -> None:
    rows = [
        row("o1", "K1", "2026-03-09 10:00", conversation_id="c", direction="outbound"),
        row("o2", "K1", "2026-03-09 10:10", conversation_id="c"),  # empty direction = inbound
        row("q1", "K2", "2026-03-09 10:00", conversation_id="c", direction="outbound"),
        row("q2", "K2", "2026-03-09 10:10", conversation_id="c", direction="Outbound"),
    ]
    check(
        impl,
        rows,
        params(),
        {
            1: first("o1", size=1, fix=True),  # carried by the outbound first leg, yet inbound
            2: left("merged_leg"),
            3: left("outbound"),  # every leg outbound
            4: left("merged_leg"),
        },
    )


def test_rule2_outcome_is_handled_if_any_leg_is_handled_else_the_first_legs(impl: Impl) -> None:
    rows = [
        row("v1", "K1", "2026-03-09 10:00", conversation_id="a", outcome="abandoned"),
        row("v2", "K1", "2026-03-09 10:02", conversation_id="a"),  # handled
        row("w1", "K2", "2026-03-09 10:00", conversation_id="b", outcome="abandoned"),
        row("w2", "K2", "2026-03-09 10:05", conversation_id="b", outcome="voicemail"),
        row("y1", "K3", "2026-03-09 10:00", conversation_id="d", outcome="voicemail"),
        row("y2", "K3", "2026-03-09 10:05", conversation_id="d", outcome="abandoned"),
    ]
    check(
        impl,
        rows,
        params(),  # abandoned: exclude
        {
            1: first("v1", size=1, fix=True),  # handled (leg v2)
            2: left("merged_leg"),
            3: left("abandoned"),  # no handled leg: the first leg's outcome, abandoned
            4: left("merged_leg"),
            5: first("y1", size=1, fix=True),  # no handled leg: first leg's voicemail counts
            6: left("merged_leg"),
        },
    )


def test_rule2_different_customers_never_merge(impl: Impl) -> None:
    rows = [
        row("d1", "K1", "2026-03-09 10:00", conversation_id="z"),
        row("d2", "K2", "2026-03-09 10:05", conversation_id="z"),
    ]
    # Under breaks_fcr a merged contact would not be a fix; each has one leg, so both are.
    check(
        impl,
        rows,
        params(transfers="breaks_fcr"),
        {1: first("d1", size=1, fix=True), 2: first("d2", size=1, fix=True)},
    )


def test_rule2_empty_conversation_ids_never_merge(impl: Impl) -> None:
    rows = [
        row("e1", "K1", "2026-03-09 10:00", conversation_id=""),
        row("e2", "K1", "2026-03-09 10:05", conversation_id="  "),  # whitespace = empty (D6)
    ]
    check(
        impl,
        rows,
        params(),
        {1: first("e1", size=2, fix=False), 2: repeat("e1", 2, "e1", 5 / 60, size=2)},
    )


def test_rule2_an_anonymous_leg_is_just_anonymous(impl: Impl) -> None:
    rows = [
        row("n1", "K1", "2026-03-09 10:00", conversation_id="k"),
        row("n2", "", "2026-03-09 10:05", conversation_id="k"),
    ]
    check(
        impl,
        rows,
        params(transfers="breaks_fcr"),
        {1: first("n1", size=1, fix=True), 2: left("anonymous")},
    )


def test_rule2_the_first_legs_channel_decides_the_channels_filter(impl: Impl) -> None:
    rows = [
        row("f1", "K1", "2026-03-09 10:00", conversation_id="k", channel="email"),
        row("f2", "K1", "2026-03-09 10:05", conversation_id="k", channel="phone"),
        row("g1", "K2", "2026-03-09 10:00", conversation_id="k", channel="phone"),
        row("g2", "K2", "2026-03-09 10:05", conversation_id="k", channel="email"),
    ]
    check(
        impl,
        rows,
        params(channels=["phone"]),
        {
            1: left("channel"),
            2: left("merged_leg"),
            3: first("g1", size=1, fix=True, channel="phone"),
            4: left("merged_leg"),
        },
    )


def test_rule2_a_leg_after_explicit_observed_until_is_still_a_leg_d4(impl: Impl) -> None:
    mapping = params(observed_until="2026-03-20T00:00")
    rows = [
        row("L1", "K1", "2026-03-09 10:00", "billing", conversation_id="k"),
        row("L2", "K1", "2026-03-21 10:00", "tv/no-signal", conversation_id="k"),
        row("L3", "K1", "2026-03-21 11:00", "tv/no-signal"),
    ]
    # L1 + 7d = 03-16 10:00 <= observed_until: not pending. L3 is after it: outside_period.
    check(
        impl,
        rows,
        mapping,
        {
            1: first("L1", size=1, fix=True, topic="tv/no-signal"),
            2: left("merged_leg"),
            3: left("outside_period"),
        },
    )
    check_summary(impl, rows, mapping, ledger=ledger(merged_leg=1, outside_period=1))


def test_rule2_an_exact_copy_of_a_leg_is_a_duplicate_not_a_leg(impl: Impl) -> None:
    rows = [
        row("c1", "K1", "2026-03-09 10:00", conversation_id="k"),
        row("c1", "K1", "2026-03-09 10:00", conversation_id="k"),
    ]
    check(
        impl,
        rows,
        params(transfers="breaks_fcr"),
        {1: first("c1", size=1, fix=True), 2: left("duplicate")},
    )


# --- Rule 3: counted ---------------------------------------------------------------------------


def test_rule3_outbound_takes_no_part(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-09 10:00"),
        row("o", "K1", "2026-03-10 10:00", direction="outbound"),
        row("b", "K1", "2026-03-11 10:00"),
    ]
    check(
        impl,
        rows,
        params(),
        {
            1: first("a", size=2, fix=False),
            2: left("outbound"),
            3: repeat("a", 2, "a", 48.0, size=2),  # not a repeat of the outbound call
        },
    )


def test_rule3_channels_filter_is_trimmed_and_lower_cased(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-09 10:00", channel=" PHONE "),
        row("b", "K1", "2026-03-09 11:00", channel="email"),
        row("c", "K1", "2026-03-09 12:00", channel=""),  # unknown, not in channels
        row("d", "K1", "2026-03-09 13:00", channel="chat"),
    ]
    check(
        impl,
        rows,
        params(channels=["phone", " Chat"]),
        {
            1: first("a", size=2, fix=False, channel="phone"),
            2: left("channel"),
            3: left("channel"),
            4: repeat("a", 2, "a", 3.0, size=2, channel="chat"),
        },
    )


def test_rule3_an_empty_or_missing_channel_is_unknown(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-09 10:00", channel=""),
        row("b", "K2", "2026-03-09 10:00", channel="phone"),
    ]
    check(
        impl,
        rows,
        params(channels=["unknown"]),
        {1: first("a", size=1, fix=True, channel="unknown"), 2: left("channel")},
    )
    no_channel_column = [row("a", "K1", "2026-03-09 10:00")]
    check(impl, no_channel_column, params(), {1: first("a", size=1, fix=True, channel="unknown")})


def test_rule3_abandoned_takes_no_part_under_exclude(impl: Impl) -> None:
    rows = [
        row("x", "K1", "2026-03-09 10:00", outcome="abandoned"),
        row("b", "K1", "2026-03-09 11:00"),
    ]
    check(impl, rows, params(), {1: left("abandoned"), 2: first("b", size=1, fix=True)})


def test_rule3_voicemail_counts_like_a_handled_contact(impl: Impl) -> None:
    rows = [
        row("v", "K1", "2026-03-09 10:00", outcome="voicemail"),
        row("b", "K1", "2026-03-10 10:00"),
        row("w", "K2", "2026-03-09 10:00", outcome="voicemail"),
    ]
    check(
        impl,
        rows,
        params(),
        {
            1: first("v", size=2, fix=False),
            2: repeat("v", 2, "v", 24.0, size=2),
            3: first("w", size=1, fix=True),
        },
    )


# --- Rule 4: matching --------------------------------------------------------------------------

RULE4_ROWS = [
    row("a", "K1", "2026-03-09 10:00", "billing/invoice"),
    row("b", "K1", "2026-03-09 11:00", "billing/refund"),
    row("c", "K1", "2026-03-09 12:00", "tv/no-signal"),
    row("d", "K1", "2026-03-09 13:00", "billing"),
    row("e", "K1", "2026-03-09 14:00", ""),
    row("f", "K1", "2026-03-09 15:00", ""),
]


def test_rule4_match_topic_is_the_whole_topic(impl: Impl) -> None:
    check(
        impl,
        RULE4_ROWS,
        params(match="topic"),
        {
            1: first("a", size=1, fix=True),
            2: first("b", size=1, fix=True),
            3: first("c", size=1, fix=True),
            4: first("d", size=1, fix=True),
            5: first("e", size=2, fix=False),
            6: repeat("e", 2, "e", 1.0, size=2),  # empty matches empty
        },
    )


def test_rule4_match_family_is_the_part_before_the_first_slash(impl: Impl) -> None:
    check(
        impl,
        RULE4_ROWS,
        params(match="family"),
        {
            1: first("a", size=3, fix=False),
            2: repeat("a", 2, "a", 1.0, size=3),
            3: first("c", size=1, fix=True),
            4: repeat("a", 3, "b", 2.0, size=3),  # 'billing' is family billing; latest is b
            5: first("e", size=2, fix=False),  # empty family matches only empty (D6)
            6: repeat("e", 2, "e", 1.0, size=2),
        },
    )


def test_rule4_match_any_is_every_contact_of_the_customer(impl: Impl) -> None:
    check(
        impl,
        RULE4_ROWS,
        params(match="any"),
        {
            1: first("a", size=6, fix=False),
            2: repeat("a", 2, "a", 1.0, size=6),
            3: repeat("a", 3, "b", 1.0, size=6),
            4: repeat("a", 4, "c", 1.0, size=6),
            5: repeat("a", 5, "d", 1.0, size=6),
            6: repeat("a", 6, "e", 1.0, size=6),
        },
    )


def test_rule4_empty_topic_is_a_topic_of_its_own_d6_example(impl: Impl) -> None:
    rows = [
        row("A", "K1", "2026-03-09 10:00", ""),
        row("B", "K1", "2026-03-09 11:00", "billing"),
        row("C", "K1", "2026-03-09 12:00", "  "),  # whitespace-only = empty
    ]
    check(
        impl,
        rows,
        params(),
        {
            1: first("A", size=2, fix=False),
            2: first("B", size=1, fix=True),
            3: repeat("A", 2, "A", 2.0, size=2),
        },
    )


def test_rule4_abandoned_include_matches_every_topic_both_ways(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-09 10:00", "billing"),
        row("x", "K1", "2026-03-10 10:00", "tv/no-signal", outcome="abandoned"),
        row("y", "K1", "2026-03-11 10:00", "tv/no-signal"),
        row("z", "K1", "2026-03-12 10:00", "billing/refund"),
        row("p", "K2", "2026-03-09 10:00", "billing", outcome="abandoned"),
        row("q", "K2", "2026-03-10 10:00", "tv/no-signal"),
    ]
    check(
        impl,
        rows,
        params(abandoned="include"),
        {
            1: first("a", size=4, fix=False),
            2: repeat("a", 2, "a", 24.0, size=4),  # abandoned x matches billing a
            3: repeat("a", 3, "x", 24.0, size=4),
            4: repeat("a", 4, "x", 48.0, size=4),  # skips y (tv), x matches everything
            5: first("p", size=2, fix=False),
            6: repeat("p", 2, "p", 24.0, size=2),  # tv q matches the abandoned p
        },
    )


# --- Rule 5: after hours -----------------------------------------------------------------------


def test_rule5_after_hours_contact_followed_up_is_left_out(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-09 21:00"),  # Mon after 20:00
        row("b", "K1", "2026-03-10 09:00"),
        row("c", "K2", "2026-03-09 21:00"),  # after hours, but no follow-up
    ]
    mapping = params(**AFTER_HOURS)
    check(
        impl,
        rows,
        mapping,
        {1: left("after_hours"), 2: first("b", size=1, fix=True), 3: first("c", size=1, fix=True)},
    )
    check_summary(impl, rows, mapping, episodes=2, ledger=ledger(after_hours=1))


def test_rule5_only_a_matching_follow_up_at_most_window_later_counts(impl: Impl) -> None:
    rows = [
        row("d", "K1", "2026-03-09 21:00", "billing"),
        row("e", "K1", "2026-03-10 09:00", "tv/no-signal"),  # other topic
        row("f", "K2", "2026-03-09 21:00"),
        row("g", "K2", "2026-03-16 21:01"),  # 7d 1m later
        row("h", "K3", "2026-03-09 21:00"),
        row("i", "K3", "2026-03-16 21:00"),  # exactly 7d later: inclusive
    ]
    check(
        impl,
        rows,
        params(**AFTER_HOURS),
        {
            1: first("d", size=1, fix=True),
            2: first("e", size=1, fix=True),
            3: first("f", size=1, fix=True),
            4: first("g", size=1, fix=True),
            5: left("after_hours"),
            6: first("i", size=1, fix=True),
        },
    )


def test_rule5_office_hours_start_inclusive_end_exclusive(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-09 08:00"),  # inside (start inclusive)
        row("b", "K1", "2026-03-09 12:00"),
        row("c", "K2", "2026-03-09 20:00"),  # outside (end exclusive)
        row("d", "K2", "2026-03-09 20:30"),
        row("e", "K3", "2026-03-09 07:59"),  # outside
        row("f", "K3", "2026-03-09 08:00"),
    ]
    check(
        impl,
        rows,
        params(**AFTER_HOURS),
        {
            1: first("a", size=2, fix=False),
            2: repeat("a", 2, "a", 4.0, size=2),
            3: left("after_hours"),
            4: first("d", size=1, fix=True),
            5: left("after_hours"),
            6: first("f", size=1, fix=True),
        },
    )


def test_rule5_holidays_and_null_or_missing_weekdays_are_closed_all_day(impl: Impl) -> None:
    office_hours = {
        "mon": "08:00-20:00",
        "tue": "08:00-20:00",
        "wed": "08:00-20:00",
        "thu": "08:00-20:00",
        "fri": "08:00-20:00",
        # sat missing
        "sun": None,
        "holidays": ["2026-03-11"],
    }
    rows = [
        row("a", "K1", "2026-03-11 10:00"),  # Wed, a holiday
        row("b", "K1", "2026-03-11 11:00"),
        row("c", "K2", "2026-03-14 12:00"),  # Sat, missing
        row("d", "K2", "2026-03-14 13:00"),
        row("e", "K3", "2026-03-15 12:00"),  # Sun, null
        row("f", "K3", "2026-03-16 12:00"),
        row("g", "K4", "2026-03-12 10:00"),  # Thu, open
        row("h", "K4", "2026-03-12 11:00"),
    ]
    check(
        impl,
        rows,
        params(after_hours="follow_up_is_first", office_hours=office_hours),
        {
            1: left("after_hours"),
            2: first("b", size=1, fix=True),
            3: left("after_hours"),
            4: first("d", size=1, fix=True),
            5: left("after_hours"),
            6: first("f", size=1, fix=True),
            7: first("g", size=2, fix=False),
            8: repeat("g", 2, "g", 1.0, size=2),
        },
    )


def test_rule5_is_decided_once_on_the_counted_contacts_d3(impl: Impl) -> None:
    rows = [
        # D3's example: A and B are both followed up, C remains.
        row("A", "K1", "2026-03-09 21:00"),
        row("B", "K1", "2026-03-09 23:00"),
        row("C", "K1", "2026-03-10 09:00"),
        # Not iterated: P is followed by Q, which is itself left out (R follows it at exactly
        # 7d); R is beyond P's window, yet P stays left out.
        row("P", "K2", "2026-03-09 21:00"),
        row("Q", "K2", "2026-03-09 23:00"),
        row("R", "K2", "2026-03-16 23:00"),
    ]
    check(
        impl,
        rows,
        params(**AFTER_HOURS),
        {
            1: left("after_hours"),
            2: left("after_hours"),
            3: first("C", size=1, fix=True),
            4: left("after_hours"),
            5: left("after_hours"),
            6: first("R", size=1, fix=True),
        },
    )


def test_rule5_the_follow_up_must_itself_be_counted(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-09 21:00", channel="phone"),
        row("o", "K1", "2026-03-10 09:00", channel="phone", direction="outbound"),
        row("b", "K2", "2026-03-09 21:00", channel="phone"),
        row("m", "K2", "2026-03-10 09:00", channel="email"),
        row("c", "K3", "2026-03-09 21:00", channel="phone"),
        row("x", "K3", "2026-03-10 09:00", channel="phone", outcome="abandoned"),
    ]
    check(
        impl,
        rows,
        params(channels=["phone"], **AFTER_HOURS),
        {
            1: first("a", size=1, fix=True),
            2: left("outbound"),
            3: first("b", size=1, fix=True),
            4: left("channel"),
            5: first("c", size=1, fix=True),
            6: left("abandoned"),
        },
    )


def test_rule5_a_follow_up_after_explicit_observed_until_does_not_count(impl: Impl) -> None:
    rows = [row("a", "K1", "2026-03-09 21:00"), row("b", "K1", "2026-03-10 09:00")]
    # a + 7d > observed_until, so a is pending (rule 9).
    check(
        impl,
        rows,
        params(observed_until="2026-03-09T23:30", **AFTER_HOURS),
        {1: first("a", size=1, fix=None, pending=True), 2: left("outside_period")},
    )


def test_rule5_office_hours_may_end_at_24_00(impl: Impl) -> None:
    office_hours = {"fri": "08:00-24:00"}  # every other weekday missing: closed
    rows = [
        row("a", "K1", "2026-03-13 23:30"),  # Fri, inside until midnight
        row("b", "K1", "2026-03-14 10:00"),  # Sat, closed, not followed
        row("c", "K2", "2026-03-13 07:59"),  # Fri, before opening
        row("d", "K2", "2026-03-13 09:00"),
    ]
    check(
        impl,
        rows,
        params(after_hours="follow_up_is_first", office_hours=office_hours),
        {
            1: first("a", size=2, fix=False),
            2: repeat("a", 2, "a", 10.5, size=2),
            3: left("after_hours"),
            4: first("d", size=1, fix=True),
        },
    )


def test_rule5_as_is_keeps_after_hours_contacts(impl: Impl) -> None:
    rows = [row("a", "K1", "2026-03-09 21:00"), row("b", "K1", "2026-03-10 09:00")]
    check(
        impl,
        rows,
        params(after_hours="as_is", office_hours=OFFICE_HOURS),
        {1: first("a", size=2, fix=False), 2: repeat("a", 2, "a", 12.0, size=2)},
    )


def test_rule5_abandoned_include_matches_every_topic_in_the_follow_up_check(impl: Impl) -> None:
    rows = [
        row("x", "K1", "2026-03-09 21:00", "billing", outcome="abandoned"),
        row("t", "K1", "2026-03-10 09:00", "tv/no-signal"),
        row("y", "K2", "2026-03-09 21:00", "billing"),
        row("w", "K2", "2026-03-10 09:00", "tv/no-signal", outcome="abandoned"),
    ]
    check(
        impl,
        rows,
        params(abandoned="include", **AFTER_HOURS),
        {
            1: left("after_hours"),
            2: first("t", size=1, fix=True),
            3: left("after_hours"),
            4: first("w", size=1, fix=False),  # an abandoned first contact (rule 8)
        },
    )


# --- Rule 6: order -----------------------------------------------------------------------------


def test_rule6_ties_are_ordered_by_contact_id_as_strings(impl: Impl) -> None:
    rows = [
        row("9", "K1", "2026-03-09 10:00"),
        row("10", "K1", "2026-03-09 10:00"),  # '10' < '9' as strings
        row("3", "K2", "2026-03-09 10:00"),
        row("20", "K2", "2026-03-09 10:00"),
        row("100", "K2", "2026-03-09 10:00"),  # '100' < '20' < '3'
    ]
    check(
        impl,
        rows,
        params(),
        {
            1: repeat("10", 2, "10", 0.0, size=2),
            2: first("10", size=2, fix=False),
            3: repeat("100", 3, "20", 0.0, size=3),
            4: repeat("100", 2, "100", 0.0, size=3),
            5: first("100", size=3, fix=False),
        },
    )


def test_rule6_order_is_started_at_not_input_order_or_id(impl: Impl) -> None:
    rows = [
        row("b", "K1", "2026-03-10 10:00"),
        row("a", "K1", "2026-03-09 10:00"),
        row("z", "K2", "2026-03-09 09:00"),
        row("a2", "K2", "2026-03-09 10:00"),
    ]
    check(
        impl,
        rows,
        params(),
        {
            1: repeat("a", 2, "a", 24.0, size=2),
            2: first("a", size=2, fix=False),
            3: first("z", size=2, fix=False),
            4: repeat("z", 2, "z", 1.0, size=2),
        },
    )


# --- Rule 7: repeats and episodes --------------------------------------------------------------


def test_rule7_gap_equal_to_window_is_a_repeat(impl: Impl) -> None:
    rows = [row("a", "K1", "2026-03-09 10:00"), row("b", "K1", "2026-03-16 10:00")]
    check(
        impl,
        rows,
        params(),
        {1: first("a", size=2, fix=False), 2: repeat("a", 2, "a", 168.0, size=2)},
    )


def test_rule7_gap_of_window_plus_one_minute_is_a_first_contact(impl: Impl) -> None:
    rows = [row("a", "K1", "2026-03-09 10:00"), row("b", "K1", "2026-03-16 10:01")]
    check(impl, rows, params(), {1: first("a", size=1, fix=True), 2: first("b", size=1, fix=True)})


def test_rule7_rolling_window_chains_into_one_episode(impl: Impl) -> None:
    rows = [
        row("A", "K1", "2026-03-02 10:00"),
        row("B", "K1", "2026-03-08 10:00"),  # +6d
        row("C", "K1", "2026-03-14 10:00"),  # +12d from A, +6d from B
    ]
    check(
        impl,
        rows,
        params(),
        {
            1: first("A", size=3, fix=False),
            2: repeat("A", 2, "A", 144.0, size=3),
            3: repeat("A", 3, "B", 144.0, size=3),
        },
    )


def test_rule7_previous_matching_contact_skips_other_topics(impl: Impl) -> None:
    rows = [
        row("A", "K1", "2026-03-09 10:00", "billing"),
        row("T", "K1", "2026-03-10 10:00", "tv/no-signal"),
        row("B", "K1", "2026-03-11 10:00", "billing"),
    ]
    check(
        impl,
        rows,
        params(),
        {
            1: first("A", size=2, fix=False),
            2: first("T", size=1, fix=True),
            3: repeat("A", 2, "A", 48.0, size=2),
        },
    )


def test_rule7_only_the_latest_earlier_matching_contact_is_looked_at(impl: Impl) -> None:
    rows = [
        row("A", "K1", "2026-03-01 10:00"),
        row("B", "K1", "2026-03-09 10:00"),  # 8d after A: a first contact
        row("C", "K1", "2026-03-10 10:00"),
    ]
    check(
        impl,
        rows,
        params(),
        {
            1: first("A", size=1, fix=True),
            2: first("B", size=2, fix=False),
            3: repeat("B", 2, "B", 24.0, size=2),
        },
    )


def test_rule7_window_90m_is_inclusive(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-09 10:00"),
        row("b", "K1", "2026-03-09 11:30"),  # 90m
        row("c", "K1", "2026-03-09 13:01"),  # 91m after b
    ]
    check(
        impl,
        rows,
        params(window="90m"),
        {
            1: first("a", size=2, fix=False),
            2: repeat("a", 2, "a", 1.5, size=2),
            3: first("c", size=1, fix=True),
        },
    )


def test_rule7_window_24h_is_inclusive(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-09 10:00"),
        row("b", "K1", "2026-03-10 10:00"),  # 24h
        row("c", "K1", "2026-03-11 10:01"),  # 24h 1m after b
    ]
    check(
        impl,
        rows,
        params(window="24h"),
        {
            1: first("a", size=2, fix=False),
            2: repeat("a", 2, "a", 24.0, size=2),
            3: first("c", size=1, fix=True),
        },
    )


def test_rule7_window_is_168_absolute_hours_across_spring_dst(impl: Impl) -> None:
    # Sat 03-28 12:00 CET = 11:00 UTC; Sat 04-04 13:00 CEST = 11:00 UTC: exactly 168 h.
    rows = [
        row("a", "K1", "2026-03-28 12:00"),
        row("b", "K1", "2026-04-04 13:00"),  # 168 h
        row("c", "K2", "2026-03-28 12:00"),
        row("d", "K2", "2026-04-04 13:01"),  # 168 h 1 m
        row("e", "K3", "2026-03-28 12:00"),
        row("f", "K3", "2026-04-04 12:00"),  # 167 h
    ]
    check(
        impl,
        rows,
        params(),
        {
            1: first("a", size=2, fix=False),
            2: repeat("a", 2, "a", 168.0, size=2),
            3: first("c", size=1, fix=True),
            4: first("d", size=1, fix=True),
            5: first("e", size=2, fix=False),
            6: repeat("e", 2, "e", 167.0, size=2),
        },
    )


def test_rule7_window_is_168_absolute_hours_across_autumn_dst(impl: Impl) -> None:
    # Sat 10-24 12:00 CEST = 10:00 UTC; Sat 10-31 11:00 CET = 10:00 UTC: exactly 168 h.
    rows = [
        row("a", "K1", "2026-10-24 12:00"),
        row("b", "K1", "2026-10-31 11:00"),  # 168 h
        row("c", "K2", "2026-10-24 12:00"),
        row("d", "K2", "2026-10-31 11:01"),  # 168 h 1 m
        row("e", "K3", "2026-10-24 12:00"),
        row("f", "K3", "2026-10-31 12:00"),  # 169 h: a week by the wall clock is too long
    ]
    check(
        impl,
        rows,
        params(observed_until="2026-12-01T00:00"),
        {
            1: first("a", size=2, fix=False),
            2: repeat("a", 2, "a", 168.0, size=2),
            3: first("c", size=1, fix=True),
            4: first("d", size=1, fix=True),
            5: first("e", size=1, fix=True),
            6: first("f", size=1, fix=True),
        },
    )


def test_rule7_gap_hours_are_absolute_at_the_clock_changes_sec1_local_times(impl: Impl) -> None:
    rows = [
        # Autumn: 01:30 CEST = 23:30 UTC (10-24); 02:30 is ambiguous and takes the earlier,
        # summer reading = 00:30 UTC; 03:30 CET = 02:30 UTC.
        row("a", "K1", "2026-10-25 01:30"),
        row("b", "K1", "2026-10-25 02:30"),
        row("c", "K1", "2026-10-25 03:30"),
        # Spring: 01:30 CET = 00:30 UTC; 02:30 does not exist and moves forward to 03:30 CEST
        # = 01:30 UTC; 03:15 CEST = 01:15 UTC, so f comes before e.
        row("d", "K2", "2026-03-29 01:30"),
        row("e", "K2", "2026-03-29 02:30"),
        row("f", "K2", "2026-03-29 03:15"),
    ]
    check(
        impl,
        rows,
        params(observed_until="2026-12-01T00:00"),
        {
            1: first("a", size=3, fix=False),
            2: repeat(
                "a", 2, "a", 1.0, size=3, started_at=datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
            ),
            3: repeat("a", 3, "b", 2.0, size=3),
            4: first("d", size=3, fix=False),
            5: repeat(
                "d", 3, "f", 0.25, size=3, started_at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
            ),
            6: repeat("d", 2, "d", 0.75, size=3),
        },
    )


def test_rule7_gap_hours_with_zoned_timestamps_sec1(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-10-25T01:30+02:00"),  # 23:30 UTC
        row("b", "K1", "2026-10-25T02:30+02:00"),  # 00:30 UTC, first 02:30
        row("c", "K1", "2026-10-25T02:30+01:00"),  # 01:30 UTC, second 02:30
    ]
    check(
        impl,
        rows,
        params(observed_until="2026-12-01T00:00"),
        {
            1: first("a", size=3, fix=False),
            2: repeat("a", 2, "a", 1.0, size=3),
            3: repeat(
                "a", 3, "b", 1.0, size=3, started_at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
            ),
        },
    )


# --- Rule 8: fixes -----------------------------------------------------------------------------


def test_rule8_an_abandoned_first_contact_is_never_a_fix_under_include(impl: Impl) -> None:
    rows = [
        row("x", "K1", "2026-03-09 10:00", outcome="abandoned"),
        row("y1", "K2", "2026-03-09 10:00", conversation_id="k", outcome="abandoned"),
        row("y2", "K2", "2026-03-09 10:05", conversation_id="k"),  # handled: y1 is handled
        row("v", "K3", "2026-03-09 10:00", outcome="voicemail"),
    ]
    mapping = params(abandoned="include")
    check(
        impl,
        rows,
        mapping,
        {
            1: first("x", size=1, fix=False),
            2: first("y1", size=1, fix=True),
            3: left("merged_leg"),
            4: first("v", size=1, fix=True),
        },
    )
    check_summary(impl, rows, mapping, episodes=3, first_contact_fixes=2, fcr=2 / 3, fcr_n=3)


TWO_LEG_ROWS = [
    row("t1", "K1", "2026-03-09 10:00", conversation_id="k"),
    row("t2", "K1", "2026-03-09 10:10", conversation_id="k"),
    row("u1", "K2", "2026-03-09 10:00", conversation_id="m"),
    row("u2", "K2", "2026-03-09 10:10", conversation_id="m", direction="outbound"),
    row("s", "K3", "2026-03-09 10:00"),
]


def test_rule8_breaks_fcr_a_contact_with_two_legs_is_not_a_fix(impl: Impl) -> None:
    mapping = params(transfers="breaks_fcr")
    check(
        impl,
        TWO_LEG_ROWS,
        mapping,
        {
            1: first("t1", size=1, fix=False),
            2: left("merged_leg"),
            3: first("u1", size=1, fix=False),  # an outbound leg is a leg too (D4)
            4: left("merged_leg"),
            5: first("s", size=1, fix=True),
        },
    )
    check_summary(impl, TWO_LEG_ROWS, mapping, episodes=3, first_contact_fixes=1, fcr=1 / 3)


def test_rule8_same_contact_a_contact_with_two_legs_can_be_a_fix(impl: Impl) -> None:
    check(
        impl,
        TWO_LEG_ROWS,
        params(transfers="same_contact"),
        {
            1: first("t1", size=1, fix=True),
            2: left("merged_leg"),
            3: first("u1", size=1, fix=True),
            4: left("merged_leg"),
            5: first("s", size=1, fix=True),
        },
    )


# --- Rule 9: censoring -------------------------------------------------------------------------


def test_rule9_pending_with_the_default_observed_until(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-09 10:00"),
        row("b", "K1", "2026-03-10 10:00"),
        row("c", "K2", "2026-03-01 10:00"),
        row("d", "K3", "2026-03-12 10:00"),  # latest row: observed_until = 03-12 10:00
    ]
    mapping = params(observed_until=None)
    check(
        impl,
        rows,
        mapping,
        {
            1: first("a", size=2, fix=None, pending=True),  # 03-16 10:00 > 03-12 10:00
            2: repeat("a", 2, "a", 24.0, size=2, pending=True),
            3: first("c", size=1, fix=True),  # 03-08 10:00 <= 03-12 10:00
            4: first("d", size=1, fix=None, pending=True),
        },
    )
    check_summary(
        impl,
        rows,
        mapping,
        episodes=1,
        pending_episodes=2,
        contacts_counted=4,
        rows_used=4,
        first_contact_fixes=1,
        fcr=1.0,
        fcr_n=1,
        repeat_rate=0.0,
        repeat_rate_n=1,
    )


def test_rule9_default_observed_until_includes_rows_that_take_no_part_d8(impl: Impl) -> None:
    # The latest row is outbound (then anonymous): observed_until = 03-09 10:00 = a + 7d.
    outbound_last = [
        row("a", "K1", "2026-03-02 10:00"),
        row("o", "K2", "2026-03-09 10:00", direction="outbound"),
    ]
    check(
        impl,
        outbound_last,
        params(observed_until=None),
        {1: first("a", size=1, fix=True), 2: left("outbound")},
    )
    anonymous_last = [row("a", "K1", "2026-03-02 10:00"), row("n", "", "2026-03-09 10:00")]
    check(
        impl,
        anonymous_last,
        params(observed_until=None),
        {1: first("a", size=1, fix=True), 2: left("anonymous")},
    )


def test_rule9_first_plus_window_equal_to_observed_until_is_not_pending_d8(impl: Impl) -> None:
    mapping = params(observed_until="2026-03-09T00:00")
    rows = [
        row("A", "K1", "2026-03-02 00:00"),  # A + 7d = observed_until: not pending
        row("B", "K2", "2026-03-02 00:01"),
        row("C", "K3", "2026-03-09 00:01"),  # after observed_until
        row("D", "K4", "2026-03-09 00:00"),  # exactly at observed_until: inside
    ]
    check(
        impl,
        rows,
        mapping,
        {
            1: first("A", size=1, fix=True),
            2: first("B", size=1, fix=None, pending=True),
            3: left("outside_period"),
            4: first("D", size=1, fix=None, pending=True),
        },
    )
    check_summary(
        impl,
        rows,
        mapping,
        rows_read=4,
        rows_used=3,
        contacts_counted=3,
        episodes=1,
        pending_episodes=2,
        first_contact_fixes=1,
        fcr=1.0,
        ledger=ledger(outside_period=1),
    )


def test_rule9_rows_after_explicit_observed_until_take_no_part(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-05 10:00"),
        row("b", "K1", "2026-03-10 10:00"),  # after observed_until: not a repeat of a
        row("c", "K2", "2026-03-10 00:00"),  # a date alone is midnight local (D8): inside
    ]
    check(
        impl,
        rows,
        params(observed_until="2026-03-10"),
        {
            1: first("a", size=1, fix=None, pending=True),
            2: left("outside_period"),
            3: first("c", size=1, fix=None, pending=True),
        },
    )


def test_rule9_only_pending_episodes_leave_every_rate_null(impl: Impl) -> None:
    rows = [row("a", "K1", "2026-03-09 10:00", resolved="ja", survey_resolved="ja")]
    check_summary(
        impl,
        rows,
        params(observed_until=None),
        episodes=0,
        pending_episodes=1,
        contacts_counted=1,
        first_contact_fixes=0,
        fcr=None,
        fcr_n=0,
        fcr_ci_low=None,
        fcr_ci_high=None,
        fcr_flag=None,
        fcr_flag_n=0,
        fcr_strict=None,
        fcr_strict_n=0,
        fcr_survey=None,
        fcr_survey_n=0,
        repeat_rate=None,
        repeat_rate_n=0,
    )


# --- Rule 10: period ---------------------------------------------------------------------------

WEEK = {"start": "2026-03-09", "end": "2026-03-16"}


def test_rule10_an_episode_begun_before_the_period_keeps_its_labels_d1_example(
    impl: Impl,
) -> None:
    rows = [
        row("A", "K1", "2026-03-08 10:00", "billing"),  # Sun, before the period
        row("B", "K1", "2026-03-10 09:00", "billing"),  # repeats A: 47 h
        row("C", "K1", "2026-03-11 12:00", "tv/no-signal"),
    ]
    mapping = params(period=WEEK)
    check(
        impl,
        rows,
        mapping,
        {
            1: first("A", size=2, fix=False, in_period=False, reason="outside_period"),
            2: repeat("A", 2, "A", 47.0, size=2, in_period=False, reason="outside_period"),
            3: first("C", size=1, fix=True),
        },
    )
    check_summary(
        impl,
        rows,
        mapping,
        rows_read=3,
        rows_used=1,
        contacts_counted=1,
        episodes=1,
        first_contact_fixes=1,
        fcr=1.0,
        repeat_rate=0.0,
        repeat_rate_n=1,
        ledger=ledger(outside_period=2),
    )


def test_rule10_period_is_local_dates_start_inclusive_end_exclusive(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-09 00:00"),  # = 03-08 23:00 UTC, but local date 03-09: in
        row("b", "K2", "2026-03-08 23:59"),
        row("c", "K3", "2026-03-15 23:59"),
        row("d", "K4", "2026-03-16 00:00"),  # end exclusive
    ]
    mapping = params(period=WEEK)
    check(
        impl,
        rows,
        mapping,
        {
            1: first("a", size=1, fix=True),
            2: first("b", size=1, fix=True, in_period=False, reason="outside_period"),
            3: first("c", size=1, fix=True),
            4: first("d", size=1, fix=True, in_period=False, reason="outside_period"),
        },
    )
    check_summary(impl, rows, mapping, episodes=2, ledger=ledger(outside_period=2))


def test_rule10_later_data_completes_an_episode_of_the_period(impl: Impl) -> None:
    rows = [
        row("a", "K1", "2026-03-15 10:00"),
        row("b", "K1", "2026-03-17 10:00"),  # after the period, repeats a
        row("c", "K2", "2026-03-17 10:00"),  # after the period, a first contact
    ]
    mapping = params(period=WEEK)
    check(
        impl,
        rows,
        mapping,
        {
            1: first("a", size=2, fix=False),
            2: repeat("a", 2, "a", 48.0, size=2),
            3: first("c", size=1, fix=True, in_period=False, reason="outside_period"),
        },
    )
    check_summary(
        impl,
        rows,
        mapping,
        rows_used=2,
        contacts_counted=2,
        episodes=1,
        first_contact_fixes=0,
        fcr=0.0,
        repeat_rate=0.5,
        repeat_rate_n=2,
        ledger=ledger(outside_period=1),
    )


# --- Summary -----------------------------------------------------------------------------------


def test_summary_seed_example_100_fixes_of_180_questions_is_56_percent(impl: Impl) -> None:
    rows = [row(f"s{i}", f"S{i}", "2026-03-09 10:00") for i in range(1, 101)]
    for i in range(1, 81):
        rows.append(row(f"r{i}a", f"R{i}", "2026-03-09 10:00"))
        rows.append(row(f"r{i}b", f"R{i}", "2026-03-10 10:00"))
    # Wilson, n = 180, p = 100/180 = 0.555556, z = 1.959964, z^2 = 3.841459:
    #   z^2/n = 0.021341, denominator 1 + z^2/n = 1.021341
    #   centre = (0.555556 + z^2/2n = 0.010671) / 1.021341 = 0.554395
    #   p(1-p)/n = 0.00137174, z^2/4n^2 = 0.00002964, sqrt(0.00140138) = 0.037435
    #   half = 1.959964 * 0.037435 / 1.021341 = 0.071838
    #   interval = [0.482557, 0.626233]
    # repeat_rate: 80 repeats / 260 contacts = 0.307692; z^2/n = 0.014775;
    #   centre = (0.307692 + 0.007387) / 1.014775 = 0.310492; p(1-p)/n = 0.00081930,
    #   z^2/4n^2 = 0.00001421, half = 1.959964 * sqrt(0.00083351) / 1.014775 = 0.055761
    #   interval = [0.254731, 0.366254]
    summary = impl.summary(rows, params())
    assert round(summary["fcr"], 4) == 0.5556
    check_summary(
        impl,
        rows,
        params(),
        rows_read=260,
        rows_used=260,
        contacts_counted=260,
        episodes=180,
        pending_episodes=0,
        first_contact_fixes=100,
        fcr=100 / 180,
        fcr_n=180,
        fcr_ci_low=0.4825565,
        fcr_ci_high=0.6262329,
        repeat_rate=80 / 260,
        repeat_rate_n=260,
        repeat_rate_ci_low=0.2547310,
        repeat_rate_ci_high=0.3662535,
        fcr_flag=None,
        fcr_flag_n=0,
        ledger=ledger(),
    )


def test_summary_flag_strict_and_survey_over_the_same_episodes_d2(impl: Impl) -> None:
    rows = [
        row("A", "K1", "2026-03-09 10:00", resolved="ja", survey_resolved="ja"),  # fix
        row("B", "K2", "2026-03-09 10:00", resolved="yes", survey_resolved="nee"),
        row("C", "K2", "2026-03-10 10:00", resolved="", survey_resolved=""),  # repeats B
        row("D", "K3", "2026-03-09 10:00", resolved="", survey_resolved="Y"),  # fix
        row("P", "K4", "2026-03-19 10:00", resolved="1", survey_resolved="1"),  # pending
    ]
    mapping = params(observed_until="2026-03-20T00:00")
    check(
        impl,
        rows,
        mapping,
        {
            1: first("A", size=1, fix=True),
            2: first("B", size=2, fix=False),
            3: repeat("B", 2, "B", 24.0, size=2),
            4: first("D", size=1, fix=True),
            5: first("P", size=1, fix=None, pending=True),
        },
    )
    # 3 episodes A, B, D (P is pending and in no rate, D2).
    # fcr 2/3: z^2/3 = 1.280486, denominator 2.280486, centre = (0.666667 + 0.640243) /
    #   2.280486 = 0.573084, half = 1.959964 * sqrt(0.074074 + 0.106707) / 2.280486 = 0.365424
    #   -> [0.207660, 0.938508]
    # fcr_flag over A, B (D has no resolved): 2/2. With p = 1 the bounds are
    #   1 / (1 + z^2/2) = 1 / 2.920729 = 0.342380 and exactly 1.
    # fcr_strict over A, B: resolved and a fix = A only: 1/2. p = 1/2 puts the centre at 0.5;
    #   half = 1.959964 / 2.920729 * sqrt(0.125 + 0.240091) = 0.405469 -> [0.094531, 0.905469]
    # fcr_survey over A (ja), B (nee), D (Y): 2/3, the same interval as fcr.
    # repeat_rate over A, B, C, D: 1/4; z^2/4 = 0.960365, denominator 1.960365,
    #   centre = (0.25 + 0.480182) / 1.960365 = 0.372473,
    #   half = 1.959964 * sqrt(0.046875 + 0.060023) / 1.960365 = 0.326885 -> [0.045587, 0.699358]
    check_summary(
        impl,
        rows,
        mapping,
        episodes=3,
        pending_episodes=1,
        contacts_counted=5,
        first_contact_fixes=2,
        fcr=2 / 3,
        fcr_n=3,
        fcr_ci_low=0.2076596,
        fcr_ci_high=0.9385081,
        fcr_flag=1.0,
        fcr_flag_n=2,
        fcr_flag_ci_low=0.3423802,
        fcr_flag_ci_high=1.0,
        fcr_strict=0.5,
        fcr_strict_n=2,
        fcr_strict_ci_low=0.0945312,
        fcr_strict_ci_high=0.9054688,
        fcr_survey=2 / 3,
        fcr_survey_n=3,
        fcr_survey_ci_low=0.2076596,
        fcr_survey_ci_high=0.9385081,
        repeat_rate=0.25,
        repeat_rate_n=4,
        repeat_rate_ci_low=0.0455873,
        repeat_rate_ci_high=0.6993582,
    )


def test_summary_repeat_rate_and_cross_channel_share_d9_example(impl: Impl) -> None:
    rows = [
        row("A", "K1", "2026-03-09 10:00", channel="phone"),
        row("B", "K1", "2026-03-10 10:00", channel="chat"),  # crosses phone -> chat
        row("C", "K1", "2026-03-11 10:00", channel="chat"),  # chat -> chat
    ]
    check(
        impl,
        rows,
        params(),
        {
            1: first("A", size=3, fix=False),
            2: repeat("A", 2, "A", 24.0, size=3),
            3: repeat("A", 3, "B", 24.0, size=3),
        },
    )
    # fcr 0/1: bounds 0 and 2 * (z^2/2) / (1 + z^2) = 3.841459 / 4.841459 = 0.793451.
    check_summary(
        impl,
        rows,
        params(),
        episodes=1,
        first_contact_fixes=0,
        fcr=0.0,
        fcr_n=1,
        fcr_ci_low=0.0,
        fcr_ci_high=0.7934507,
        repeat_rate=2 / 3,
        repeat_rate_n=3,
        cross_channel_repeat_share=0.5,
        cross_channel_repeat_share_n=2,
    )
