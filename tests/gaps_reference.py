"""Naive reference for the knowledge-gaps analysis (SPEC §3 `fcrlab gaps`, decisions G1-G6).

Plain Python loops over the rows of `label_repeats(contacts, params, contact_fields=True)`
(`.to_dicts()`), written from SPEC.md and docs/decisions.md only, never from `fcrlab/gaps.py`
or `fcrlab/stats.py`: the polars engine is never its own oracle. Slow and obvious on purpose.
scipy.stats supplies the distribution functions (binomial and Poisson tails and quantiles);
every count, rate, peer, correction, baseline and follow-up search is done here by hand.

Shrinkage (G3) and the signals' AUC (G7) are checked by the statistics tests, not here.

Readings where SPEC/decisions leave room (also in the report to the lead engineer):
- G5 "the trailing 8 weeks before it" are the 8 calendar ISO weeks just before the week;
  a week of those without episodes of the topic adds nothing (it is not replaced by an older
  one). When the baseline conditions fail the week has no baseline: `baseline_fcr`,
  `lower_limit` null and never a spike.
- G5 `lower_limit` is shown for every week that has a baseline (also a week with fewer than
  `min_episodes` episodes, which is never a spike).
- G5 weekly rows exist only for (topic, week) pairs with at least one episode.
- G5 a change labels weeks whose Monday is in [change-week Monday, that Monday + 56 days];
  the label is the change's `note`; weeks that are not spikes carry no label.
- G4 the 95 % limits are the 2.5 % and 97.5 % Poisson quantiles, the 99.8 % ones the 0.1 % and
  99.9 % quantiles; "above the upper limit" is strictly above (observed > ppf(0.999)).
- G6 "started in the period" is the contact's own local date (not its episode's).
- G9 (added after the first version): the weekly series runs over every settled episode, the
  period's earlier weeks being history; only weeks whose Monday is in the period are reported.
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scipy.stats import binom, hypergeom, poisson

__all__ = ["is_close", "naive_gaps"]

LEVELS = ("team", "agent")
LEVEL_FIELD = {"team": "team", "agent": "agent_id"}
BASELINE_WEEKS = 8
CHANGE_WEEKS = 8


# ------------------------------------------------------------------ parameters (YAML form)
def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    units = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
    text = str(value).strip().lower()
    minutes, number = 0, ""
    for ch in text:
        if ch.isdigit():
            number += ch
        else:
            minutes += int(number) * units[ch]
            number = ""
    return timedelta(minutes=minutes)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def _local_moment(value: Any, zone: ZoneInfo) -> datetime:
    """decisions D8: a naive value is local time in `timezone`; a date alone is midnight."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        moment = datetime.fromisoformat(str(value).strip().replace(" ", "T", 1))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _page_topics(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k).strip(): str(v).strip() for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return {str(k).strip(): str(v).strip() for k, v in value}
    with open(str(value), encoding="utf-8-sig", newline="") as handle:
        return {r["page"].strip(): r["topic"].strip() for r in csv.DictReader(handle)}


def _topic_of_page(page: str, mapping: dict[str, str]) -> str | None:
    """decisions W3: the exact path wins, then the longest prefix ending in `*`."""
    if page in mapping:
        return mapping[page]
    best = None
    for key, topic in mapping.items():
        prefix = key.endswith("*") and page.startswith(key[:-1])
        if prefix and (best is None or len(key) > len(best[0])):
            best = (key, topic)
    return None if best is None else best[1]


# ------------------------------------------------------------------ small helpers
def _utc(moment: datetime) -> datetime:
    # Aware datetimes of one zone subtract as wall clocks in Python: compare in UTC only.
    return moment.astimezone(UTC)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _week_name(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _same_or_sub_topic(topic: str | None, parent: str) -> bool:
    """decisions G5: `tv` labels `tv` and `tv/decoder`, not `tvx`."""
    return topic is not None and (topic == parent or topic.startswith(parent + "/"))


# ------------------------------------------------------------------ G1
def _episodes(rows: list[dict]) -> list[dict]:
    """decisions G1: first contacts of reported, not pending episodes."""
    out = []
    for r in rows:
        reported = r["counted"] is True and r["in_period"] is True and r["pending"] is False
        if reported and r["episode_seq"] == 1:
            out.append(r)
    return out


def _topic_rates(episodes: list[dict]) -> dict:
    n: dict = {}
    f: dict = {}
    for e in episodes:
        n[e["topic"]] = n.get(e["topic"], 0) + 1
        f[e["topic"]] = f.get(e["topic"], 0) + (1 if e["first_contact_fix"] else 0)
    return {t: f[t] / n[t] for t in n}


# ------------------------------------------------------------------ G2
def _cells(episodes: list[dict], min_episodes: int, fdr: float) -> list[dict]:
    topic_fcr = _topic_rates(episodes)
    cells = []
    for level in LEVELS:
        field = LEVEL_FIELD[level]
        keys = []
        for e in episodes:
            key = (e[field], e["topic"])
            if e[field] is not None and key not in keys:
                keys.append(key)
        for unit, topic in keys:
            n = f = peer_n = peer_f = 0
            for e in episodes:
                if e["topic"] != topic:
                    continue
                fixed = 1 if e["first_contact_fix"] else 0
                if e[field] == unit:
                    n += 1
                    f += fixed
                else:  # every other unit, episodes with an empty id included (G2)
                    peer_n += 1
                    peer_f += fixed
            peer_fcr = peer_f / peer_n if peer_n else None
            observed = n - f
            expected = n * (1 - peer_fcr) if peer_fcr is not None else None
            tested = n >= min_episodes and peer_n >= 1
            # G2: Fisher's exact test against the peers, M all of the topic's episodes of this
            # level, K all of their repeats, N the unit's episodes.
            peer_repeats = peer_n - peer_f
            p_value = (
                float(hypergeom.sf(observed - 1, n + peer_n, observed + peer_repeats, n))
                if tested
                else None
            )
            cells.append(
                {
                    "level": level,
                    "unit": unit,
                    "topic": topic,
                    "episodes": n,
                    "fixes": f,
                    "fcr": f / n,
                    "peer_episodes": peer_n,
                    "peer_fcr": peer_fcr,
                    "expected_repeats": expected,
                    "observed_repeats": observed,
                    "p_value": p_value,
                    "tested": tested,
                    "topic_fcr": topic_fcr[topic],
                }
            )
    rejected = _benjamini_hochberg([c["p_value"] for c in cells if c["tested"]], fdr)
    i = 0
    for c in cells:
        c["flagged"] = False
        if c["tested"]:
            c["flagged"] = rejected[i] and c["fcr"] < c["peer_fcr"]
            i += 1
    cells.sort(key=lambda c: (c["level"], c["unit"], c["topic"] is not None, c["topic"] or ""))
    return cells


def _benjamini_hochberg(p_values: list[float], fdr: float) -> list[bool]:
    """Step-up: reject every p ≤ p_(k) for the largest k with p_(k) ≤ k/m · fdr."""
    m = len(p_values)
    ordered = sorted(p_values)
    threshold = None
    for k in range(1, m + 1):
        if ordered[k - 1] <= k / m * fdr:
            threshold = ordered[k - 1]
    return [threshold is not None and p <= threshold for p in p_values]


# ------------------------------------------------------------------ G4
def _mix_adjusted(episodes: list[dict], min_episodes: int) -> list[dict]:
    topic_fcr = _topic_rates(episodes)
    out = []
    for level in LEVELS:
        field = LEVEL_FIELD[level]
        units = []
        for e in episodes:
            if e[field] is not None and e[field] not in units:
                units.append(e[field])
        for unit in units:
            n = observed = 0
            expected = 0.0
            for e in episodes:
                if e[field] == unit:
                    n += 1
                    observed += 0 if e["first_contact_fix"] else 1
                    expected += 1 - topic_fcr[e["topic"]]
            row = {"level": level, "unit": unit, "episodes": n, "observed_repeats": observed}
            row["expected_repeats"] = expected
            if expected > 0:
                row["ratio"] = observed / expected
                for name, q in (("low95", 0.025), ("high95", 0.975)):
                    row[name] = float(poisson.ppf(q, expected)) / expected
                for name, q in (("low998", 0.001), ("high998", 0.999)):
                    row[name] = float(poisson.ppf(q, expected)) / expected
                upper = float(poisson.ppf(0.999, expected))
                row["flagged"] = n >= min_episodes and observed > upper
            else:
                row.update(ratio=None, low95=None, high95=None, low998=None, high998=None)
                row["flagged"] = False
            out.append(row)
    out.sort(key=lambda r: (r["level"], r["unit"]))
    return out


# ------------------------------------------------------------------ G5
def _change_topics(change: dict, page_topics: dict[str, str]) -> list[str]:
    topics = []
    if change.get("topic"):
        topics.append(str(change["topic"]).strip())
    if change.get("page"):
        mapped = _topic_of_page(str(change["page"]).strip(), page_topics)
        if mapped is not None:
            topics.append(mapped)
    return topics


def _settled_episodes(rows: list[dict]) -> list[dict]:
    """decisions G9: the weekly history is every settled episode, in the period or not."""
    return [
        r for r in rows if r["counted"] is True and r["pending"] is False and r["episode_seq"] == 1
    ]


def _weekly(
    episodes: list[dict],
    zone: ZoneInfo,
    min_episodes: int,
    changes: list,
    page_topics: dict,
    period: Any = None,
) -> list[dict]:
    counts: dict = {}  # (topic, monday) -> [episodes, fixes]
    for e in episodes:
        monday = _monday(e["started_at"].astimezone(zone).date())
        cell = counts.setdefault((e["topic"], monday), [0, 0])
        cell[0] += 1
        cell[1] += 1 if e["first_contact_fix"] else 0
    out = []
    for (topic, monday), (n, f) in counts.items():
        # G9: earlier weeks are history; only weeks whose Monday is in the period are reported.
        if period is not None and not (_date(period["start"]) <= monday < _date(period["end"])):
            continue
        base_weeks = base_n = base_f = 0
        for k in range(1, BASELINE_WEEKS + 1):
            earlier = counts.get((topic, monday - timedelta(weeks=k)))
            if earlier is not None:
                base_weeks += 1
                base_n += earlier[0]
                base_f += earlier[1]
        row = {
            "topic": topic,
            "week": _week_name(monday),
            "week_start": monday,
            "episodes": n,
            "fixes": f,
            "fcr": f / n,
            "baseline_weeks": base_weeks,
            "baseline_episodes": base_n,
            "baseline_pooled": base_f / base_n if base_n else None,
            "baseline_fcr": None,
            "lower_limit": None,
            "spike": False,
            "change": None,
        }
        if base_weeks >= 4 and base_n >= min_episodes:
            baseline = base_f / base_n
            row["baseline_fcr"] = baseline
            row["lower_limit"] = float(binom.ppf(0.001, n, baseline)) / n
            row["tail"] = float(binom.cdf(f, n, baseline))
            row["spike"] = n >= min_episodes and row["tail"] < 0.001
        if row["spike"]:
            row["change"] = _label(topic, monday, changes, page_topics)
        out.append(row)
    out.sort(key=lambda r: (r["topic"] is not None, r["topic"] or "", r["week_start"]))
    return out


def _label(topic: str | None, monday: date, changes: list, page_topics: dict) -> str | None:
    best = None
    for change in changes:
        when = _date(change["date"])
        first = _monday(when)
        if not first <= monday <= first + timedelta(weeks=CHANGE_WEEKS):
            continue
        if not any(_same_or_sub_topic(topic, t) for t in _change_topics(change, page_topics)):
            continue
        if best is None or when >= best[0]:  # the latest change wins
            best = (when, str(change.get("note") or ""))
    return None if best is None else best[1]


# ------------------------------------------------------------------ G6
def _follow_ups(
    rows: list[dict], zone: ZoneInfo, window: timedelta, until: datetime, period: Any
) -> tuple[list[dict], dict]:
    by_customer: dict = {}
    for r in rows:
        if r["counted"] is True:
            by_customer.setdefault(r["customer_id"], []).append(r)
    contacts: dict = {}
    pairs: dict = {}
    for customer_rows in by_customer.values():
        ordered = sorted(customer_rows, key=lambda r: (_utc(r["started_at"]), r["contact_id"]))
        for i, r in enumerate(ordered):
            start = _utc(r["started_at"])
            if start + window > until:  # window not fully observed
                continue
            if period is not None:
                day = r["started_at"].astimezone(zone).date()
                if not _date(period["start"]) <= day < _date(period["end"]):
                    continue
            contacts[r["topic"]] = contacts.get(r["topic"], 0) + 1
            if i + 1 < len(ordered):
                nxt = ordered[i + 1]
                if _utc(nxt["started_at"]) - start <= window:
                    key = (r["topic"], nxt["topic"])
                    pairs[key] = pairs.get(key, 0) + 1
    out = []
    for (topic, next_topic), count in pairs.items():
        out.append(
            {
                "topic": topic,
                "next_topic": next_topic,
                "count": count,
                "contacts": contacts[topic],
                "share": count / contacts[topic],
            }
        )
    out.sort(
        key=lambda r: (
            r["topic"] is not None,
            r["topic"] or "",
            r["next_topic"] is not None,
            r["next_topic"] or "",
        )
    )
    return out, contacts


def _worth_answering(follow_ups: list[dict], min_share: float, min_count: int) -> list[dict]:
    out = [
        r
        for r in follow_ups
        if r["topic"] != r["next_topic"] and r["share"] >= min_share and r["count"] >= min_count
    ]
    out.sort(
        key=lambda r: (
            -r["count"],
            r["topic"] is not None,
            r["topic"] or "",
            r["next_topic"] is not None,
            r["next_topic"] or "",
        )
    )
    return out


# ------------------------------------------------------------------ public
def naive_gaps(labels_rows: list[dict], params: dict) -> dict:
    """Cells (G1, G2), mix-adjusted units (G4), weekly spikes (G5) and follow-ups (G6).

    `labels_rows` are `label_repeats(contacts, params, contact_fields=True).to_dicts()`;
    `params` is the YAML-form mapping the engine's `Params.from_mapping` was given.
    """
    zone = ZoneInfo(params.get("timezone") or "Europe/Amsterdam")
    window = _duration(params.get("window") or "7d")
    min_episodes = int(params.get("min_episodes") or 30)
    fdr = float(params.get("fdr") or 0.05)
    min_share = float(params.get("follow_up_min_share") or 0.10)
    min_count = params.get("follow_up_min_count")
    min_count = min_episodes if min_count is None else int(min_count)
    changes = params.get("changes") or []
    if isinstance(changes, dict):
        changes = [changes]
    page_topics = _page_topics(params.get("page_topics"))
    if params.get("observed_until") is not None:
        until = _local_moment(params["observed_until"], zone)
    else:  # decisions D8: the latest started_at of any row read
        until = max(_utc(r["started_at"]) for r in labels_rows)

    episodes = _episodes(labels_rows)
    follow_ups, contacts = _follow_ups(labels_rows, zone, window, until, params.get("period"))
    weekly = _weekly(
        _settled_episodes(labels_rows),
        zone,
        min_episodes,
        changes,
        page_topics,
        params.get("period"),
    )
    return {
        "cells": _cells(episodes, min_episodes, fdr),
        "mix_adjusted": _mix_adjusted(episodes, min_episodes),
        "weekly": weekly,
        "spikes": [w for w in weekly if w["spike"]],
        "follow_ups": follow_ups,
        "follow_up_contacts": contacts,
        "worth_answering": _worth_answering(follow_ups, min_share, min_count),
        "topic_fcr": _topic_rates(episodes),
    }


def is_close(a: Any, b: Any, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    """Equal values; floats to a relative tolerance; null and NaN are the same 'no value'."""
    a_none = a is None or (isinstance(a, float) and math.isnan(a))
    b_none = b is None or (isinstance(b, float) and math.isnan(b))
    if a_none or b_none:
        return a_none and b_none
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)
    return a == b
