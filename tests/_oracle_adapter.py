"""One literal log, two implementations: the engine's public API and the naive reference.

Rows are lists of dicts of *strings*, the way a CSV holds them (SPEC §1 column names); the
parameters are a plain mapping with the keys and value forms of SPEC §3's YAML example. Both
sides get exactly the same rows and mapping: the engine through ``Params.from_mapping`` and
``contacts_from_frame``, the reference through the small parser below (SPEC §1, D6, D8, D11).

Nothing here reads or imports ``fcrlab`` internals; the engine is imported lazily so that the
reference side runs (``-k reference``) before the engine exists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from tests.reference import (
    LABEL_COLUMNS,
    RATE_NAMES,
    REASONS,
    WEEKDAYS,
    naive_label,
    naive_summary,
)

Rows = list[dict[str, str]]
Mapping = dict[str, Any]

SHOWN_COLUMNS = ("contact_id", "customer_id", "started_at", "channel", "topic")
COUNT_KEYS = (
    "rows_read",
    "rows_used",
    "contacts_counted",
    "episodes",
    "pending_episodes",
    "first_contact_fixes",
)
GAP_TOLERANCE = 1e-9
RATE_TOLERANCE = 1e-9
# D9 gives z = 1.959964 and the oracle uses 1.959963984540054; the difference moves an
# interval bound by < 1e-8, so bounds are compared to 1e-7.
CI_TOLERANCE = 1e-7


# --------------------------------------------------------------------------------------------
# Parsing for the reference side (SPEC §1, D6, D8, D11)
# --------------------------------------------------------------------------------------------

TRUE_WORDS = {"true", "1", "yes", "y", "ja", "j"}
FALSE_WORDS = {"false", "0", "no", "n", "nee"}
EXPORT_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M")
DURATION = re.compile(r"(\d+)([mhdw])")
UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
UNIT["w"] = timedelta(weeks=1)


def _blank(value: Any) -> bool:
    # D6: an empty or whitespace-only cell is null for every column.
    return value is None or (isinstance(value, str) and value.strip() == "")


def localise(moment: datetime, zone: ZoneInfo) -> datetime:
    """SPEC §1: a zone-less time is local in `timezone`; the result is in UTC.

    zoneinfo's fold=0 does both things SPEC §1 asks: a wall time in the spring-forward gap
    takes the offset from before the change, i.e. it is moved forward by the gap
    (02:30 -> 03:30 CEST), and an ambiguous autumn time takes the earlier (summer) reading.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone, fold=0)
    return moment.astimezone(UTC)


def parse_timestamp(text: str, zone: ZoneInfo) -> datetime:
    """SPEC §1: ISO 8601 and the export forms YYYY/MM/DD HH:MM[:SS], DD-MM-YYYY HH:MM[:SS]."""
    text = text.strip()
    for pattern in EXPORT_FORMATS:
        try:
            return localise(datetime.strptime(text, pattern), zone)
        except ValueError:
            pass
    return localise(datetime.fromisoformat(text), zone)


def parse_bool(text: str) -> bool | None:
    # SPEC §1: true/false 1/0 yes/no y/n ja/nee j/n in any case; empty = unknown.
    if _blank(text):
        return None
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_duration(text: str) -> timedelta:
    # D11: one or more <integer><unit> parts, units m h d w; a day is 24 h (absolute).
    text = text.strip()
    if not re.fullmatch(r"(\d+[mhdw])+", text):
        raise ValueError(f"bad duration {text!r}")
    total = timedelta(0)
    for amount, unit in DURATION.findall(text):
        total += int(amount) * UNIT[unit]
    if total <= timedelta(0):
        raise ValueError("window must be positive")
    return total


def parse_clock(text: str) -> timedelta:
    hours, minutes = text.strip().split(":")
    return timedelta(hours=int(hours), minutes=int(minutes))


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def parse_params(mapping: Mapping) -> dict:
    """The SPEC §3 parameter mapping as the reference's plain params dict (see reference.py)."""
    zone_name = mapping.get("timezone", "Europe/Amsterdam")
    zone = ZoneInfo(zone_name)
    params: dict[str, Any] = {
        "timezone": zone_name,
        "window": parse_duration(str(mapping.get("window", "7d"))),
        "match": mapping.get("match", "topic"),
        "abandoned": mapping.get("abandoned", "exclude"),
        "after_hours": mapping.get("after_hours", "as_is"),
        "transfers": mapping.get("transfers", "same_contact"),
        "channels": None,
        "office_hours": None,
        "holidays": set(),
        "observed_until": None,
        "period": None,
        "default_channel": "unknown",
    }
    if mapping.get("channels") is not None:
        # D11: channels are lower-cased and trimmed like the data.
        params["channels"] = [channel.strip().lower() for channel in mapping["channels"]]
    if mapping.get("office_hours") is not None:
        hours: dict[str, tuple[timedelta, timedelta] | None] = {day: None for day in WEEKDAYS}
        for key, value in mapping["office_hours"].items():
            if key == "holidays":
                params["holidays"] = {parse_date(day) for day in value or []}
            elif value is not None:
                # D11: HH:MM-HH:MM, 24:00 allowed as an end (a timedelta of 24 h here).
                start, end = str(value).split("-")
                hours[key] = (parse_clock(start), parse_clock(end))
        params["office_hours"] = hours
    if mapping.get("observed_until") is not None:
        value = mapping["observed_until"]
        if isinstance(value, datetime):
            params["observed_until"] = localise(value, zone)
        elif isinstance(value, date) or len(str(value).strip()) == 10:
            # D8: a date alone is midnight local.
            midnight = datetime.combine(parse_date(value), time(0, 0))
            params["observed_until"] = localise(midnight, zone)
        else:
            params["observed_until"] = parse_timestamp(str(value), zone)
    if mapping.get("period") is not None:
        params["period"] = (
            parse_date(mapping["period"]["start"]),
            parse_date(mapping["period"]["end"]),
        )
    defaults = mapping.get("defaults") or {}
    if not _blank(defaults.get("channel")):
        params["default_channel"] = defaults["channel"].strip().lower()
    return params


def columns_of(rows: Rows) -> list[str]:
    """The file's columns: every key of any row, in order of first appearance."""
    columns: list[str] = []
    for row in rows:
        for column in row:
            if column not in columns:
                columns.append(column)
    return columns


def parse_records(rows: Rows, params: dict, columns: list[str] | None = None) -> list[dict]:
    """SPEC §1 parsing of CSV-like rows into the reference's records (source_row 1-based)."""
    columns = columns or columns_of(rows)
    zone = ZoneInfo(params["timezone"])
    seen: set[tuple[str, ...]] = set()
    records = []
    for number, row in enumerate(rows, start=1):
        raw = tuple(row.get(column, "") for column in columns)
        # Rule 1 / D5: an exact copy, all columns as read, of an earlier row; first copy stays.
        duplicate = raw in seen
        seen.add(raw)

        def text(column: str, row: dict[str, str] = row) -> str | None:
            value = row.get(column, "")
            return None if _blank(value) else value

        channel = text("channel")
        topic = text("topic")
        direction = (text("direction") or "inbound").strip().lower()  # D6
        outcome = (text("outcome") or "handled").strip().lower()  # D6
        if direction not in ("inbound", "outbound"):
            raise ValueError(f"row {number}: bad direction {direction!r}")
        if outcome not in ("handled", "abandoned", "voicemail"):
            raise ValueError(f"row {number}: bad outcome {outcome!r}")
        records.append(
            {
                "source_row": number,
                "contact_id": row["contact_id"],
                "customer_id": text("customer_id"),
                "started_at": parse_timestamp(row["started_at"], zone),
                # SPEC §1: channels trimmed and lower-cased; empty -> defaults or unknown (D6).
                "channel": (channel or params["default_channel"]).strip().lower(),
                "topic": None if topic is None else topic.strip(),  # topics are trimmed
                "agent_id": text("agent_id"),
                "team": text("team"),
                "resolved": parse_bool(row.get("resolved", "")),
                "direction": direction,
                "outcome": outcome,
                "conversation_id": text("conversation_id"),
                "survey_resolved": parse_bool(row.get("survey_resolved", "")),
                "ces": None if text("ces") is None else int(row["ces"]),
                "csat": None if text("csat") is None else int(row["csat"]),
                "duplicate": duplicate,
            }
        )
    return records


# --------------------------------------------------------------------------------------------
# The two implementations behind one interface
# --------------------------------------------------------------------------------------------


def reference_labels(rows: Rows, mapping: Mapping, columns: list[str] | None = None) -> dict:
    params = parse_params(mapping)
    return naive_label(parse_records(rows, params, columns), params)


def reference_summary(rows: Rows, mapping: Mapping, columns: list[str] | None = None) -> dict:
    params = parse_params(mapping)
    return naive_summary(parse_records(rows, params, columns), params)


def _engine_inputs(rows: Rows, mapping: Mapping, columns: list[str] | None) -> tuple[Any, Any]:
    import polars as pl

    from fcrlab import Params
    from fcrlab.read.contacts import contacts_from_frame

    columns = columns or columns_of(rows)
    # Every column a string column, missing cells empty, as a CSV reader would give them.
    frame = pl.DataFrame(
        {column: [row.get(column, "") for row in rows] for column in columns},
        schema={column: pl.String for column in columns},
    )
    params = Params.from_mapping(mapping)
    return contacts_from_frame(frame, params), params


def _utc_or_raw(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value  # a naive datetime stays naive and will not compare equal: SPEC §3 wants tz


def engine_labels(rows: Rows, mapping: Mapping, columns: list[str] | None = None) -> dict:
    from fcrlab import label_repeats

    contacts, params = _engine_inputs(rows, mapping, columns)
    frame = label_repeats(contacts, params)
    labels: dict[int, dict] = {}
    for record in frame.to_dicts():
        row = int(record["source_row"])
        if row in labels:
            raise AssertionError(f"engine returned source_row {row} twice")
        label = {column: record.get(column) for column in LABEL_COLUMNS + SHOWN_COLUMNS}
        label["started_at"] = _utc_or_raw(label["started_at"])
        labels[row] = label
    return labels


def engine_summary(rows: Rows, mapping: Mapping, columns: list[str] | None = None) -> dict:
    from fcrlab import fcr_summary

    contacts, params = _engine_inputs(rows, mapping, columns)
    summary = dict(fcr_summary(contacts, params))
    ledger = dict(summary.get("ledger") or {})
    unknown = set(ledger) - set(REASONS)
    if unknown:
        raise AssertionError(f"engine ledger has unknown reasons {sorted(unknown)}")
    # SPEC §1 ledger "per reason": a reason with no rows may be absent; it is 0.
    summary["ledger"] = {reason: ledger.get(reason, 0) for reason in REASONS}
    return summary


class Impl(NamedTuple):
    labels: Callable[..., dict]
    summary: Callable[..., dict]


IMPLEMENTATIONS = {
    "reference": Impl(reference_labels, reference_summary),
    "engine": Impl(engine_labels, engine_summary),
}


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def _same(column: str, actual: Any, expected: Any) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    if column == "gap_hours":
        return math.isclose(actual, expected, rel_tol=0, abs_tol=GAP_TOLERANCE)
    if column == "started_at" and isinstance(expected, datetime):
        return isinstance(actual, datetime) and actual == expected
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    return actual == expected


def label_differences(actual: dict, expected: dict, columns: tuple[str, ...] | None = None) -> list:
    """Differences between two {source_row: label} maps; columns=None: each expected row's keys."""
    problems = []
    if set(actual) != set(expected):
        problems.append(
            f"source_rows differ: missing {sorted(set(expected) - set(actual))}, "
            f"extra {sorted(set(actual) - set(expected))}"
        )
    for row in sorted(set(actual) & set(expected)):
        for column in columns or tuple(expected[row]):
            got = actual[row].get(column)
            want = expected[row].get(column)
            if not _same(column, got, want):
                problems.append(f"row {row} {column}: got {got!r}, expected {want!r}")
    return problems


def assert_labels(actual: dict, expected: dict, columns: tuple[str, ...] | None = None) -> None:
    problems = label_differences(actual, expected, columns)
    assert not problems, "\n".join(problems)


def summary_differences(actual: dict, expected: dict) -> list:
    """Differences on the keys of `expected` (counts exact, rates 1e-9, intervals 1e-7)."""
    problems = []
    for key, want in expected.items():
        if key not in actual:
            problems.append(f"{key}: missing, expected {want!r}")
            continue
        got = actual[key]
        if key == "ledger":
            if dict(got) != dict(want):
                problems.append(f"ledger: got {got!r}, expected {want!r}")
        elif want is None or got is None:
            if not (want is None and got is None):
                problems.append(f"{key}: got {got!r}, expected {want!r}")
        elif isinstance(want, float) or isinstance(got, float):
            tolerance = CI_TOLERANCE if "_ci_" in key else RATE_TOLERANCE
            if not math.isclose(got, want, rel_tol=0, abs_tol=tolerance):
                problems.append(f"{key}: got {got!r}, expected {want!r}")
        elif got != want:
            problems.append(f"{key}: got {got!r}, expected {want!r}")
    return problems


def assert_summary(actual: dict, expected: dict) -> None:
    problems = summary_differences(actual, expected)
    assert not problems, "\n".join(problems)


def summary_keys() -> list[str]:
    """The summary keys compared between engine and reference (SPEC §2 summary, §3, D9)."""
    keys = [*COUNT_KEYS, "ledger"]
    for name in RATE_NAMES:
        keys += [name, f"{name}_n", f"{name}_ci_low", f"{name}_ci_high"]
    return keys
