"""One typed, frozen `Params`: every key of SPEC §3's parameters file, validated.

A parameters file is YAML; command-line flags override it:
`Params.from_mapping({**file, **flags})`.
An unknown key or a bad value raises `ParamsError` naming the key and suggesting the nearest one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from fcrlab.errors import ParamsError, did_you_mean, quote

__all__ = [
    "CANONICAL_COLUMNS",
    "WEEKDAYS",
    "Change",
    "OfficeHours",
    "PageChange",
    "Params",
    "Period",
    "format_duration",
    "load_params",
    "parse_duration",
    "read_yaml",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# SPEC §1: the names a user's own columns are mapped onto (contacts, web visits, page topics).
CANONICAL_COLUMNS = (
    "contact_id",
    "customer_id",
    "started_at",
    "channel",
    "topic",
    "agent_id",
    "team",
    "resolved",
    "direction",
    "outcome",
    "conversation_id",
    "survey_resolved",
    "ces",
    "csat",
    "online_first",
    "handle_seconds",
    "visited_at",
    "page",
)

_DURATION_PART = re.compile(r"(\d+)\s*([mhdw])")
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
_LONGEST_MINUTES = 36_525 * 24 * 60  # 100 years: longer is a typo, and overflows µs arithmetic


def parse_duration(text: object, key: str = "window") -> dt.timedelta:
    """`90m`, `24h`, `7d`, `2w`, `1d12h` → an absolute duration (a day is 24 h; decisions D11)."""
    if isinstance(text, dt.timedelta):
        value = text
    else:
        raw = str(text).strip().lower().replace(" ", "")
        parts = _DURATION_PART.findall(raw)
        if not raw or "".join(n + u for n, u in parts) != raw:
            raise ParamsError(
                f"{text!r} is not a duration; use a number and a unit m, h, d or w, e.g. 90m, "
                "24h, 7d, 2w",
                key=key,
            )
        minutes = sum(int(n) * _UNIT_MINUTES[u] for n, u in parts)
        if minutes > _LONGEST_MINUTES:
            raise ParamsError(f"{quote(text)} is longer than 100 years", key=key)
        value = dt.timedelta(minutes=minutes)
    if value > dt.timedelta(minutes=_LONGEST_MINUTES):
        raise ParamsError(f"{quote(text)} is longer than 100 years", key=key)
    if value <= dt.timedelta(0):
        raise ParamsError(f"{text!r} must be positive", key=key)
    return value


def format_duration(value: dt.timedelta) -> str:
    """Text that `parse_duration` reads back, in days, hours and minutes: `7d`, `1d12h`, `90m`."""
    minutes = int(value.total_seconds() // 60)
    out = []
    for unit in ("d", "h", "m"):
        n, minutes = divmod(minutes, _UNIT_MINUTES[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0m"


@dataclasses.dataclass(frozen=True)
class OfficeHours:
    """Per weekday (0 = Monday) the open interval in minutes after local midnight, or None (closed).

    Start inclusive, end exclusive (SPEC §2 rule 5); `24:00` is 1440.
    """

    days: tuple[tuple[int, int] | None, ...]
    holidays: tuple[dt.date, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, span in zip(WEEKDAYS, self.days, strict=True):
            out[name] = None if span is None else f"{_hhmm(span[0])}-{_hhmm(span[1])}"
        out["holidays"] = [d.isoformat() for d in self.holidays]
        return out


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclasses.dataclass(frozen=True)
class Period:
    """Local dates, start inclusive, end exclusive (SPEC §2 rule 10)."""

    start: dt.date
    end: dt.date


@dataclasses.dataclass(frozen=True)
class Change:
    """A dated change that labels the spikes after it (SPEC §3 `changes:`)."""

    date: dt.date
    topic: str | None = None
    page: str | None = None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class PageChange:
    """The web page change whose effect on calls is measured (SPEC §3 `change:`)."""

    page: str
    date: dt.date
    weeks: int | None = None


Match = Literal["topic", "family", "any"]


@dataclasses.dataclass(frozen=True)
class Params:
    """Every parameter of SPEC §2–§4 with its default. Build with `Params.from_mapping`."""

    timezone: str = "Europe/Amsterdam"
    window: dt.timedelta = dt.timedelta(days=7)
    match: Match = "topic"
    channels: tuple[str, ...] | None = None
    abandoned: Literal["exclude", "include"] = "exclude"
    transfers: Literal["same_contact", "breaks_fcr"] = "same_contact"
    after_hours: Literal["as_is", "follow_up_is_first"] = "as_is"
    office_hours: OfficeHours | None = None
    period: Period | None = None
    observed_until: dt.datetime | None = None
    min_episodes: int = 30
    fdr: float = 0.05
    follow_up_min_share: float = 0.10
    follow_up_min_count: int | None = None
    changes: tuple[Change, ...] = ()
    assisted: tuple[str, ...] = ("phone",)
    web_window: dt.timedelta = dt.timedelta(hours=24)
    expected_reduction: float = 0.10
    change: PageChange | None = None
    cost_per_contact: tuple[tuple[str, float], ...] | None = None
    columns: tuple[tuple[str, str], ...] = ()
    defaults: tuple[tuple[str, str], ...] = ()
    datetime_format: str | None = None
    sheet: str | int | None = None
    contacts: str | None = None
    web_visits: str | None = None
    page_topics: str | tuple[tuple[str, str], ...] | None = None
    salt_env: str = "FCRLAB_SALT"
    pseudonymise_agents: bool = False

    # ------------------------------------------------------------------ building
    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, source: str | None = None) -> Params:
        """Validate a parameters mapping (from YAML and/or flags); None values mean the default."""
        mapping = dict(mapping or {})
        known = cls.keys()
        for key in mapping:
            if key not in known:
                hint = did_you_mean(key, known)
                raise ParamsError(f"unknown parameter{hint}", key=str(key), source=source)
        values: dict[str, Any] = {}
        try:
            for key, raw in mapping.items():
                if raw is not None:
                    values[key] = _CONVERTERS.get(key, _as_str)(raw, key)
        except ParamsError as err:
            raise err.with_source(source) from None
        params = cls(**values)
        if params.after_hours == "follow_up_is_first" and params.office_hours is None:
            raise ParamsError(
                "follow_up_is_first needs office_hours (per weekday HH:MM-HH:MM)",
                key="after_hours",
                source=source,
            )
        return params

    def replace(self, **changes: Any) -> Params:
        """A copy with some parameters changed, given in their YAML form (`window="24h"`)."""
        return Params.from_mapping({**self.to_dict(), **changes})

    # ------------------------------------------------------------------ reading
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def follow_up_count(self) -> int:
        return self.min_episodes if self.follow_up_min_count is None else self.follow_up_min_count

    def column_map(self) -> dict[str, str]:
        return dict(self.columns)

    def default_values(self) -> dict[str, str]:
        return dict(self.defaults)

    def to_dict(self) -> dict[str, Any]:
        """Every effective parameter, JSON-friendly and readable back by `from_mapping`."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = _to_plain(f.name, value)
        return out


def _to_plain(key: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return format_duration(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, OfficeHours):
        return value.to_dict()
    if isinstance(value, Period):
        return {"start": value.start.isoformat(), "end": value.end.isoformat()}
    if isinstance(value, PageChange):
        out = {"page": value.page, "date": value.date.isoformat()}
        if value.weeks is not None:
            out["weeks"] = value.weeks
        return out
    if key in ("cost_per_contact", "columns", "defaults") or (
        key == "page_topics" and isinstance(value, tuple)
    ):
        return dict(value)
    if key == "changes":
        return [
            {
                k: (v.isoformat() if isinstance(v, dt.date) else v)
                for k, v in dataclasses.asdict(c).items()
                if v not in (None, "")
            }
            for c in value
        ]
    if isinstance(value, tuple):
        return list(value)
    return value


# ---------------------------------------------------------------------- converters
def _as_str(raw: Any, key: str) -> str:
    if isinstance(raw, (dict, list)):
        raise ParamsError(f"expected a text value, got {type(raw).__name__}", key=key)
    return str(raw)


def _choice(*allowed: str):
    def convert(raw: Any, key: str) -> str:
        value = str(raw).strip().lower()
        if value not in allowed:
            hint = did_you_mean(value, allowed, cutoff=0.4)
            raise ParamsError(f"{raw!r} is not one of {', '.join(allowed)}{hint}", key=key)
        return value

    return convert


def _timezone(raw: Any, key: str) -> str:
    try:
        ZoneInfo(str(raw))
    except (ZoneInfoNotFoundError, ValueError):
        raise ParamsError(f"unknown time zone {raw!r} (e.g. Europe/Amsterdam)", key=key) from None
    return str(raw)


def _duration(raw: Any, key: str) -> dt.timedelta:
    return parse_duration(raw, key)


def _names(raw: Any, key: str) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else raw
    if isinstance(items, str) or not isinstance(items, (list, tuple)):
        raise ParamsError(f"expected a list of names, got {raw!r}", key=key)
    values = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip().lower()
            if part:
                values.append(part)
    if not values:
        raise ParamsError("the list is empty", key=key)
    return tuple(dict.fromkeys(values))


def _date(raw: Any, key: str) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        raise ParamsError(f"{raw!r} is not a date (YYYY-MM-DD)", key=key) from None


def _hours_span(raw: Any, key: str) -> tuple[int, int] | None:
    if raw is None:
        return None
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(raw))
    if not match:
        raise ParamsError(f"{raw!r} is not HH:MM-HH:MM (or null for closed)", key=key)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or end <= start:
        raise ParamsError(f"{raw!r} is not an opening interval within one day", key=key)
    return (start, end)


def _office_hours(raw: Any, key: str) -> OfficeHours | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ParamsError("expected a mapping of weekday to HH:MM-HH:MM", key=key)
    for name in raw:
        if name not in (*WEEKDAYS, "holidays"):
            hint = did_you_mean(name, (*WEEKDAYS, "holidays"), cutoff=0.6)
            raise ParamsError(f"unknown weekday {name!r}{hint}", key=key)
    days = tuple(_hours_span(raw.get(name), f"{key}.{name}") for name in WEEKDAYS)
    holidays = raw.get("holidays") or []
    if not isinstance(holidays, (list, tuple)):
        holidays = [holidays]
    return OfficeHours(days, tuple(sorted(_date(h, f"{key}.holidays") for h in holidays)))


def _period(raw: Any, key: str) -> Period:
    if isinstance(raw, (list, tuple)) and len(raw) == 2:
        raw = {"start": raw[0], "end": raw[1]}
    if not isinstance(raw, Mapping) or set(raw) != {"start", "end"}:
        raise ParamsError("expected {start: YYYY-MM-DD, end: YYYY-MM-DD}", key=key)
    start, end = _date(raw["start"], f"{key}.start"), _date(raw["end"], f"{key}.end")
    if end <= start:
        raise ParamsError(f"end {end} must be after start {start} (end is exclusive)", key=key)
    return Period(start, end)


def _moment(raw: Any, key: str) -> dt.datetime:
    """A local date-time (or date = local midnight); a zone, when given, is kept (decisions D8)."""
    if isinstance(raw, dt.datetime):
        return raw
    if isinstance(raw, dt.date):
        return dt.datetime.combine(raw, dt.time())
    text = str(raw).strip().replace(" ", "T", 1)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ParamsError(f"{raw!r} is not a date-time (YYYY-MM-DDTHH:MM)", key=key) from None


def _positive_int(raw: Any, key: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ParamsError(f"{raw!r} is not a whole number", key=key)
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ParamsError(f"{raw!r} is not a whole number", key=key) from None
    if value < 1:
        raise ParamsError(f"{raw!r} must be at least 1", key=key)
    return value


def _fraction(raw: Any, key: str) -> float:
    try:
        value = float(str(raw).strip().replace(",", "."))
    except ValueError:
        raise ParamsError(f"{raw!r} is not a number", key=key) from None
    if not 0 < value < 1:
        raise ParamsError(f"{raw!r} must be between 0 and 1", key=key)
    return value


def _bool(raw: Any, key: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "yes", "1", "ja"):
        return True
    if text in ("false", "no", "0", "nee"):
        return False
    raise ParamsError(f"{raw!r} is not true or false", key=key)


def _changes(raw: Any, key: str) -> tuple[Change, ...]:
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        raise ParamsError("expected a list of {date, topic or page, note}", key=key)
    out = []
    for i, item in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(item, Mapping) or "date" not in item:
            raise ParamsError("each change needs a date and a topic or page", key=where)
        extra = set(item) - {"date", "topic", "page", "note"}
        if extra:
            raise ParamsError(f"unknown field {sorted(extra)[0]!r}", key=where)
        if not item.get("topic") and not item.get("page"):
            raise ParamsError("a change names a topic or a page", key=where)
        out.append(
            Change(
                date=_date(item["date"], where + ".date"),
                topic=_label(item["topic"]) if item.get("topic") else None,
                page=_label(item["page"]) if item.get("page") else None,
                note=str(item.get("note") or ""),
            )
        )
    return tuple(out)


def _label(raw: Any) -> str:
    """A topic or page as the data hold it: trimmed, NFC (SPEC §6.8 item 11)."""
    return unicodedata.normalize("NFC", str(raw).strip())


def _page_change(raw: Any, key: str) -> PageChange:
    if not isinstance(raw, Mapping) or not {"page", "date"} <= set(raw):
        raise ParamsError("expected {page: /path, date: YYYY-MM-DD[, weeks: N]}", key=key)
    extra = set(raw) - {"page", "date", "weeks"}
    if extra:
        raise ParamsError(f"unknown field {sorted(extra)[0]!r}", key=key)
    weeks = raw.get("weeks")
    return PageChange(
        page=str(raw["page"]).strip(),
        date=_date(raw["date"], key + ".date"),
        weeks=None if weeks is None else _positive_int(weeks, key + ".weeks"),
    )


def _costs(raw: Any, key: str) -> tuple[tuple[str, float], ...]:
    if isinstance(raw, (int, float, str)) and not isinstance(raw, bool):
        raw = {"phone": raw}
    if not isinstance(raw, Mapping):
        raise ParamsError("expected {channel: euros per contact}", key=key)
    out = []
    for channel, cost in raw.items():
        try:
            value = float(str(cost).replace(",", "."))
        except ValueError:
            raise ParamsError(f"{cost!r} is not an amount", key=f"{key}.{channel}") from None
        if value < 0:
            raise ParamsError(f"{cost!r} must not be negative", key=f"{key}.{channel}")
        out.append((str(channel).strip().lower(), value))
    return tuple(out)


def _columns(raw: Any, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        raise ParamsError("expected {your column: fcrlab column}", key=key)
    out = []
    for theirs, ours in raw.items():
        if ours not in CANONICAL_COLUMNS:
            hint = did_you_mean(ours, CANONICAL_COLUMNS)
            raise ParamsError(f"{theirs!r} maps to unknown column {ours!r}{hint}", key=key)
        out.append((str(theirs), str(ours)))
    targets = [ours for _, ours in out]
    dupes = sorted({t for t in targets if targets.count(t) > 1})
    if dupes:
        raise ParamsError(f"two columns map onto {dupes[0]!r}", key=key)
    return tuple(out)


def _defaults(raw: Any, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        raise ParamsError("expected {fcrlab column: value}", key=key)
    allowed = ("channel", "topic", "team", "agent_id", "direction", "outcome")
    out = []
    for column, value in raw.items():
        if column not in allowed:
            hint = did_you_mean(column, allowed)
            raise ParamsError(
                f"no default for {quote(column)}{hint} (possible: {', '.join(allowed)})", key=key
            )
        out.append((str(column), _default_value(str(column), value, f"{key}.{column}")))
    return tuple(out)


_DEFAULT_CHOICES = {
    "direction": ("inbound", "outbound"),
    "outcome": ("handled", "abandoned", "voicemail"),
}


def _default_value(column: str, raw: Any, key: str) -> str:
    """Decisions I7: a default is read like a value of the file."""
    if isinstance(raw, (dict, list)) or raw is None:
        raise ParamsError("expected one value", key=key)
    value = unicodedata.normalize("NFC", str(raw).strip())
    if not value:
        raise ParamsError("an empty default fills nothing", key=key)
    if column in ("channel", *_DEFAULT_CHOICES):
        value = value.lower()
    if column in _DEFAULT_CHOICES and value not in _DEFAULT_CHOICES[column]:
        choices = _DEFAULT_CHOICES[column]
        hint = did_you_mean(value, choices, cutoff=0.4)
        raise ParamsError(f"{quote(raw)} is not one of {', '.join(choices)}{hint}", key=key)
    return value


def _sheet(raw: Any, key: str) -> str | int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return str(raw)


def _page_topics(raw: Any, key: str) -> str | tuple[tuple[str, str], ...]:
    if isinstance(raw, Mapping):
        return tuple((str(p).strip(), str(t).strip()) for p, t in raw.items())
    return _as_str(raw, key)


def _optional_int(raw: Any, key: str) -> int:
    return _positive_int(raw, key)


_CONVERTERS = {
    "timezone": _timezone,
    "window": _duration,
    "web_window": _duration,
    "match": _choice("topic", "family", "any"),
    "abandoned": _choice("exclude", "include"),
    "transfers": _choice("same_contact", "breaks_fcr"),
    "after_hours": _choice("as_is", "follow_up_is_first"),
    "channels": _names,
    "assisted": _names,
    "office_hours": _office_hours,
    "period": _period,
    "observed_until": _moment,
    "min_episodes": _positive_int,
    "follow_up_min_count": _optional_int,
    "fdr": _fraction,
    "follow_up_min_share": _fraction,
    "expected_reduction": _fraction,
    "changes": _changes,
    "change": _page_change,
    "cost_per_contact": _costs,
    "columns": _columns,
    "defaults": _defaults,
    "sheet": _sheet,
    "page_topics": _page_topics,
    "pseudonymise_agents": _bool,
}


class _Loader(yaml.SafeLoader):
    """YAML as fcrlab reads a parameters file (decisions I6): dates and times stay text, so
    fcrlab checks them and names the key; a key given twice in one mapping is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ParamsError(f"is given twice (lines {seen[key]} and {line})", key=str(key))
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(text: str, source: str | None = None) -> Any:
    """A parameters file's YAML (dates as text, duplicate keys refused)."""
    try:
        return yaml.load(text, Loader=_Loader)
    except ParamsError as err:
        raise err.with_source(source) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ParamsError(f"not valid YAML{where}", source=source) from None
    except RecursionError:
        raise ParamsError("nested too deeply", source=source) from None


def load_params(path: str | Path | None = None, **overrides: Any) -> Params:
    """Read a YAML parameters file (optional) and apply overrides (None = keep the file's value)."""
    mapping: dict[str, Any] = {}
    source = None
    if path is not None:
        source = str(path)
        if Path(path).is_dir():
            raise ParamsError("is a folder, not a parameters file", source=source)
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ParamsError("parameters file not found", source=source) from None
        except UnicodeDecodeError:
            raise ParamsError("parameters file is not UTF-8 text", source=source) from None
        except OSError as err:
            raise ParamsError(f"cannot be read ({err.strerror})", source=source) from None
        loaded = read_yaml(text, source)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, Mapping):
            raise ParamsError("expected a mapping of key: value at the top", source=source)
        mapping.update(loaded)
    mapping.update({k: v for k, v in overrides.items() if v is not None})
    return Params.from_mapping(mapping, source=source)
