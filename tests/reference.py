"""Naive reference implementation of SPEC §2 (repeat contacts and FCR): the test oracle.

Written from /work/shared/SPEC.md and docs/decisions.md only, never from ``fcrlab/``, so that
it cannot share the engine's mistakes. It is deliberately slow and literal: plain Python, lists
and loops, every rule applied in SPEC order and commented with its rule / decision number.

Input is already parsed (see ``tests/_oracle_adapter.py`` for the parsing of CSV-like rows):

records: one dict per input row with keys
    source_row (int, 1-based), contact_id (str), customer_id (str | None; None = anonymous),
    started_at (timezone-aware datetime), channel (str, lower-cased), topic (str | None),
    agent_id, team (str | None), resolved (bool | None), direction ('inbound' | 'outbound'),
    outcome ('handled' | 'abandoned' | 'voicemail'), conversation_id (str | None),
    survey_resolved (bool | None), ces, csat (int | None),
    duplicate (bool: an exact copy of an earlier row, decided by the loader).

params: a plain dict with keys
    timezone (str), window (timedelta), match ('topic' | 'family' | 'any'),
    channels (list[str] | None = all), abandoned ('exclude' | 'include'),
    after_hours ('as_is' | 'follow_up_is_first'),
    office_hours (dict 'mon'..'sun' -> (start, end) | None, or None when not given):
        start and end are *timedeltas since local midnight*, so the D11 end ``24:00`` is simply
        ``timedelta(hours=24)``; a weekday that is None (or missing) is closed all day,
    holidays (set[date]), transfers ('same_contact' | 'breaks_fcr'),
    observed_until (aware datetime | None = default of D8), period ((date, date) | None).

All instants are compared in UTC: Python compares two datetimes that share one ``ZoneInfo``
object by wall-clock time, which would make ``7d`` 167 or 169 hours across a clock change
(SPEC §2 ``window``: an absolute duration).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# SPEC rule 1: the ledger reasons, in the order in which the first that applies is taken.
REASONS = (
    "duplicate",
    "anonymous",
    "merged_leg",
    "outbound",
    "channel",
    "abandoned",
    "after_hours",
    "outside_period",
)

# SPEC §3: the label columns; on rows that are not counted every column after
# excluded_reason is null.
LABEL_COLUMNS = (
    "counted",
    "excluded_reason",
    "episode_id",
    "episode_seq",
    "is_repeat",
    "repeat_of",
    "gap_hours",
    "episode_size",
    "first_contact_fix",
    "pending",
    "in_period",
)
NULL_AFTER_REASON = LABEL_COLUMNS[2:]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# SPEC rule 2: fields taken from the last leg where the field is non-empty.
FROM_LAST_NON_EMPTY_LEG = (
    "topic",
    "team",
    "agent_id",
    "resolved",
    "survey_resolved",
    "ces",
    "csat",
)

# SPEC summary: 95 % Wilson interval (D9 rounds this to 1.959964).
Z = 1.959963984540054

RATE_NAMES = (
    "fcr",
    "fcr_flag",
    "fcr_strict",
    "fcr_survey",
    "repeat_rate",
    "cross_channel_repeat_share",
)


def _utc(moment: datetime) -> datetime:
    """An aware datetime in UTC, so that comparisons and differences are absolute."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the reference needs aware datetimes")
    return moment.astimezone(UTC)


def _empty(value: Any) -> bool:
    # D6: an empty (or whitespace-only) value is null.
    return value is None or (isinstance(value, str) and value.strip() == "")


def _order_key(contact: dict) -> tuple[datetime, str]:
    # SPEC rule 6 (and D4 for legs): started_at, ties by contact_id compared as strings.
    return (contact["started_at"], contact["contact_id"])


def _merge_legs(legs: list[dict]) -> dict:
    """SPEC rule 2: one contact from its legs (a single row is a contact with one leg)."""
    legs = sorted(legs, key=_order_key)  # D4: leg order is (started_at, contact_id)
    first = legs[0]
    contact = {
        # The first leg's row carries the contact: its contact_id, started_at and channel.
        "row": first["source_row"],
        "contact_id": first["contact_id"],
        "customer_id": first["customer_id"],
        "started_at": first["started_at"],
        "channel": first["channel"],
        "legs": len(legs),  # D4: breaks_fcr counts all legs, outbound included
    }
    for field in FROM_LAST_NON_EMPTY_LEG:
        # Rule 2 / D4: from the last leg (in leg order) where the field is non-empty.
        value = None
        for leg in legs:
            if not _empty(leg.get(field)):
                value = leg.get(field)
        contact[field] = value
    # Rule 2: inbound if any leg is inbound.
    contact["direction"] = "outbound"
    for leg in legs:
        if leg["direction"] == "inbound":
            contact["direction"] = "inbound"
    # Rule 2: outcome handled if any leg is handled, else the first leg's.
    contact["outcome"] = first["outcome"]
    for leg in legs:
        if leg["outcome"] == "handled":
            contact["outcome"] = "handled"
    return contact


def _key(contact: dict, match: str) -> str | None:
    # SPEC rule 4: topic = the whole topic; family = the part before the first '/'.
    # D6: an empty topic is a topic of its own and its family is empty too.
    topic = contact["topic"]
    if match == "topic":
        return topic
    if topic is None:
        return None
    return topic.split("/", 1)[0]


def _matches(a: dict, b: dict, params: dict) -> bool:
    """SPEC rule 4: do two contacts concern the same question?"""
    # Rule 4: under abandoned: include an abandoned contact matches every contact (both ways).
    either_abandoned = a["outcome"] == "abandoned" or b["outcome"] == "abandoned"
    if params["abandoned"] == "include" and either_abandoned:
        return True
    if params["match"] == "any":
        return True
    # None == None: an empty topic matches only empty topics (D6).
    return _key(a, params["match"]) == _key(b, params["match"])


def _outside_office_hours(moment: datetime, params: dict) -> bool:
    """SPEC rule 5: office hours per weekday, start inclusive, end exclusive, in timezone."""
    local = moment.astimezone(ZoneInfo(params["timezone"]))
    if local.date() in params["holidays"]:
        return True  # a date in holidays is closed all day
    hours = params["office_hours"].get(WEEKDAYS[local.weekday()])
    if hours is None:
        return True  # a weekday that is null or missing is closed all day
    start, end = hours
    since_midnight = timedelta(
        hours=local.hour,
        minutes=local.minute,
        seconds=local.second,
        microseconds=local.microsecond,
    )
    inside = start <= since_midnight < end
    return not inside


def _observed_until(records: list[dict], params: dict) -> datetime | None:
    # D8: explicit value, or the latest started_at of any row read (duplicates, anonymous
    # and outbound rows included).
    if params.get("observed_until") is not None:
        return _utc(params["observed_until"])
    latest = None
    for record in records:
        moment = _utc(record["started_at"])
        if latest is None or moment > latest:
            latest = moment
    return latest


def _label(records: list[dict], params: dict) -> tuple[dict[int, dict], dict[int, dict]]:
    """Labels per source_row, and the contacts that were labelled, keyed by carrying row."""
    window: timedelta = params["window"]
    if window <= timedelta(0):
        raise ValueError("window must be positive (SPEC §2)")
    records = [dict(record, started_at=_utc(record["started_at"])) for record in records]
    reason: dict[int, str | None] = {record["source_row"]: None for record in records}

    # Rule 1, first two reasons: duplicate, then anonymous.
    for record in records:
        if record["duplicate"]:
            reason[record["source_row"]] = "duplicate"
    for record in records:
        if reason[record["source_row"]] is None and _empty(record["customer_id"]):
            reason[record["source_row"]] = "anonymous"

    # Rule 2 / D4: legs merge before everything else after duplicate and anonymous:
    # same customer and the same non-empty conversation_id, whatever direction, channel,
    # outcome or time.
    remaining = [record for record in records if reason[record["source_row"]] is None]
    grouped: set[int] = set()
    contacts: list[dict] = []
    for record in remaining:
        if record["source_row"] in grouped:
            continue
        if _empty(record["conversation_id"]):
            legs = [record]  # empty conversation_ids never merge
        else:
            legs = []
            for other in remaining:
                same_customer = other["customer_id"] == record["customer_id"]
                same_conversation = other["conversation_id"] == record["conversation_id"]
                if same_customer and same_conversation:
                    legs.append(other)
        for leg in legs:
            grouped.add(leg["source_row"])
        contact = _merge_legs(legs)
        for leg in legs:
            if leg["source_row"] != contact["row"]:
                reason[leg["source_row"]] = "merged_leg"
        contacts.append(contact)

    # Rule 3: outbound, then channel, then abandoned (under abandoned: exclude).
    # A voicemail counts like a handled contact, so it is not tested here.
    for contact in contacts:
        if contact["direction"] == "outbound":
            reason[contact["row"]] = "outbound"
        elif params["channels"] is not None and contact["channel"] not in params["channels"]:
            reason[contact["row"]] = "channel"
        elif contact["outcome"] == "abandoned" and params["abandoned"] == "exclude":
            reason[contact["row"]] = "abandoned"
    counted = [contact for contact in contacts if reason[contact["row"]] is None]

    # Rule 9 / D8: rows started after an explicit observed_until take no part in rules 5-9.
    # Their reason (outside_period) comes last in the rule-1 order, but since they take no
    # part in rule 5 they can never be after_hours. The merged contact is at its first leg's
    # time (D4).
    observed_until = _observed_until(records, params)
    for contact in counted:
        contact["late"] = (
            params.get("observed_until") is not None and contact["started_at"] > observed_until
        )
    candidates = [contact for contact in counted if not contact["late"]]

    # Rule 5 / D3: decided once, over the rule-3 counted contacts that are not after an
    # explicit observed_until, before any after-hours removal. "Later" is the rule-6 order;
    # the gap is inclusive.
    for contact in candidates:
        contact["after_hours"] = False
    if params["after_hours"] == "follow_up_is_first":
        if params["office_hours"] is None:
            raise ValueError("after_hours: follow_up_is_first needs office_hours (SPEC §3)")
        for contact in candidates:
            if not _outside_office_hours(contact["started_at"], params):
                continue
            for other in candidates:
                if other is contact or other["customer_id"] != contact["customer_id"]:
                    continue
                later = _order_key(other) > _order_key(contact)
                gap = other["started_at"] - contact["started_at"]
                if later and gap <= window and _matches(contact, other, params):
                    contact["after_hours"] = True
                    break
    for contact in counted:
        if contact["late"]:
            reason[contact["row"]] = "outside_period"
        elif contact["after_hours"]:
            reason[contact["row"]] = "after_hours"
    labelled = [contact for contact in candidates if not contact["after_hours"]]

    # Rule 6: each customer's contacts in order (started_at, then contact_id as strings).
    customers: dict[str, list[dict]] = {}
    for contact in labelled:
        customers.setdefault(contact["customer_id"], []).append(contact)
    for customer in customers:
        customers[customer].sort(key=_order_key)

    # Rule 7: previous matching contact = the latest earlier contact of the same customer, in
    # that order, that matches; a repeat when gap <= window (inclusive).
    for ordered in customers.values():
        for position, contact in enumerate(ordered):
            previous = None
            for back in range(position - 1, -1, -1):  # scan backwards
                if _matches(ordered[back], contact, params):
                    previous = ordered[back]
                    break
            if previous is not None and contact["started_at"] - previous["started_at"] <= window:
                contact["repeat_of"] = previous
                gap = contact["started_at"] - previous["started_at"]
                contact["gap_hours"] = gap.total_seconds() / 3600  # D9: absolute hours
            else:
                contact["repeat_of"] = None
                contact["gap_hours"] = None

    # Rule 7: the episode is found by following repeat_of back to the first contact.
    for contact in labelled:
        root = contact
        while root["repeat_of"] is not None:
            root = root["repeat_of"]
        contact["root"] = root
    for ordered in customers.values():
        for contact in ordered:
            members = [other for other in ordered if other["root"] is contact["root"]]
            # members are in rule-6 order, so the position in that list is episode_seq
            seq = 1
            while members[seq - 1] is not contact:
                seq += 1
            contact["episode_seq"] = seq
            contact["episode_size"] = len(members)

    # Rule 8: a first contact is a fix when its episode has exactly one contact, it is not
    # abandoned, and under transfers: breaks_fcr it has only one leg.
    for contact in labelled:
        if contact["repeat_of"] is not None:
            contact["fix"] = None
            continue
        fix = contact["episode_size"] == 1 and contact["outcome"] != "abandoned"
        if params["transfers"] == "breaks_fcr" and contact["legs"] > 1:
            fix = False
        contact["fix"] = fix

    # Rule 9 / D8: pending when first + window > observed_until (equal is not pending); all
    # rows of a pending episode are pending and the first contact's fix is null.
    for contact in labelled:
        pending = contact["root"]["started_at"] + window > observed_until
        contact["pending"] = pending
        if pending and contact["repeat_of"] is None:
            contact["fix"] = None

    # Rule 10 / D1: only episodes whose first contact started in the period (local dates,
    # start inclusive, end exclusive) are reported; the other episodes keep their labels, are
    # counted, and are outside_period in the ledger.
    local_zone = ZoneInfo(params["timezone"])
    for contact in labelled:
        if params.get("period") is None:
            contact["in_period"] = True
        else:
            start, end = params["period"]
            first_day = contact["root"]["started_at"].astimezone(local_zone).date()
            contact["in_period"] = start <= first_day < end
        if not contact["in_period"]:
            reason[contact["row"]] = "outside_period"

    # SPEC §3 / D1: one label row per input row; not counted -> every label after
    # excluded_reason is null.
    labels: dict[int, dict] = {}
    for record in records:
        row = record["source_row"]
        label = {column: None for column in LABEL_COLUMNS}
        label["counted"] = False
        label["excluded_reason"] = reason[row]
        # Shown columns (SPEC §3); the carrying row of a merged contact shows merged values.
        label["contact_id"] = record["contact_id"]
        label["customer_id"] = None if _empty(record["customer_id"]) else record["customer_id"]
        label["started_at"] = record["started_at"]
        label["channel"] = record["channel"]
        label["topic"] = record["topic"]
        labels[row] = label
    for contact in contacts:
        labels[contact["row"]]["topic"] = contact["topic"]
    for contact in labelled:
        label = labels[contact["row"]]
        label["counted"] = True
        label["episode_id"] = contact["root"]["contact_id"]
        label["episode_seq"] = contact["episode_seq"]
        label["is_repeat"] = contact["repeat_of"] is not None
        label["repeat_of"] = (
            None if contact["repeat_of"] is None else contact["repeat_of"]["contact_id"]
        )
        label["gap_hours"] = contact["gap_hours"]
        label["episode_size"] = contact["episode_size"]
        label["first_contact_fix"] = contact["fix"]
        label["pending"] = contact["pending"]
        label["in_period"] = contact["in_period"]
    return labels, {contact["row"]: contact for contact in labelled}


def naive_label(records: list[dict], params: dict) -> dict[int, dict]:
    """SPEC §2 rules 1-10 and the §3 label columns, for every input row, keyed by source_row.

    Besides the label columns each row also has the shown columns contact_id, customer_id,
    started_at (UTC), channel and topic (merged values on a merged contact's carrying row).
    """
    labels, _ = _label(records, params)
    return labels


def wilson(successes: int, n: int) -> tuple[float | None, int, float | None, float | None]:
    """(rate, n, ci_low, ci_high): the share with its 95 % Wilson score interval, written out.

    centre = (p + z^2 / 2n) / (1 + z^2 / n)
    half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)
    A rate with count 0 is null (SPEC summary).
    """
    if n == 0:
        return None, 0, None, None
    p = successes / n
    z2 = Z * Z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = Z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return p, n, centre - half, centre + half


def naive_summary(records: list[dict], params: dict) -> dict:
    """SPEC §2 "Summary" over the reported episodes, with D1, D2 and D9."""
    labels, contacts = _label(records, params)
    reported = [contact for contact in contacts.values() if contact["in_period"]]
    firsts = [contact for contact in reported if contact["repeat_of"] is None]
    settled = [contact for contact in firsts if not contact["pending"]]  # not pending
    pending = [contact for contact in firsts if contact["pending"]]
    settled_contacts = [contact for contact in reported if not contact["pending"]]

    summary: dict[str, Any] = {}
    summary["rows_read"] = len(records)
    # D1: rows_used = rows with a null excluded_reason.
    summary["rows_used"] = sum(1 for label in labels.values() if label["excluded_reason"] is None)
    ledger = {name: 0 for name in REASONS}
    for label in labels.values():
        if label["excluded_reason"] is not None:
            ledger[label["excluded_reason"]] += 1
    summary["ledger"] = ledger
    summary["episodes"] = len(settled)
    summary["pending_episodes"] = len(pending)
    summary["contacts_counted"] = len(reported)  # pending episodes included
    fixes = [contact for contact in settled if contact["fix"]]
    summary["first_contact_fixes"] = len(fixes)

    rates: dict[str, tuple[int, int]] = {}
    # FCR = first-contact fixes / episodes (rule 8), over reported, not pending episodes.
    rates["fcr"] = (len(fixes), len(settled))
    # D2: flag and strict over the same episodes, restricted to a non-empty resolved on the
    # first contact (its merged value, rule 2).
    flagged = [contact for contact in settled if contact["resolved"] is not None]
    rates["fcr_flag"] = (sum(1 for c in flagged if c["resolved"] is True), len(flagged))
    rates["fcr_strict"] = (
        sum(1 for c in flagged if c["resolved"] is True and c["fix"] is True),
        len(flagged),
    )
    surveyed = [contact for contact in settled if contact["survey_resolved"] is not None]
    rates["fcr_survey"] = (
        sum(1 for c in surveyed if c["survey_resolved"] is True),
        len(surveyed),
    )
    # D9: repeats / counted contacts over reported, not pending episodes.
    repeats = [contact for contact in settled_contacts if contact["repeat_of"] is not None]
    rates["repeat_rate"] = (len(repeats), len(settled_contacts))
    # D9: repeats whose channel differs from their repeat_of's channel, over the same repeats
    # as repeat_rate (our reading: D9 does not name the set; see the oracle's report).
    crossing = [c for c in repeats if c["channel"] != c["repeat_of"]["channel"]]
    rates["cross_channel_repeat_share"] = (len(crossing), len(repeats))

    for name, (successes, n) in rates.items():
        rate, count, low, high = wilson(successes, n)
        summary[name] = rate
        summary[f"{name}_n"] = count
        summary[f"{name}_ci_low"] = low
        summary[f"{name}_ci_high"] = high
    return summary
