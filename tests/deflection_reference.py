"""Naive reference for SPEC §3 `fcrlab deflection` (decisions W1–W13): the test oracle.

Written from /work/shared/SPEC.md and docs/decisions.md only, never from ``fcrlab/deflection.py``
(or ``fcrlab/web.py``), so that it cannot share the engine's mistakes. Deliberately slow and
literal: plain Python lists and loops; for each contact every view of its customer is scanned,
for each view every call of its customer. Every step names its decision.

Inputs are already parsed; instants are timezone-aware and every comparison is made in UTC
(two datetimes sharing one ``ZoneInfo`` compare by wall clock in Python, which would make
``24h`` 23 or 25 hours across a clock change; SPEC §2: durations are absolute).

contacts: one dict per contact row *as labelled by* ``fcrlab.repeats.label_repeats`` (SPEC §2,
    checked by its own oracle), keys source_row, contact_id, customer_id, started_at (aware),
    channel, topic, counted (bool), in_period (bool | None), excluded_reason (str | None),
    online_first (bool | None). Every row read is given (anonymous, duplicate, outbound …
    included): the contact data's span starts at the earliest of them (W8).
views: one dict per web-visit row read (see ``parse_views``): source_row, customer_id (None =
    anonymous), visited_at (aware), page (trimmed), duplicate (bool).
page_topics: list of (page, topic) pairs, a page ending in ``*`` being a prefix (W3).
params: a plain dict: timezone (str), assisted (list[str]), web_window (timedelta),
    observed_until (aware datetime | None = the latest started_at of any row read, D8),
    period ((date, date) | None), change ((page, date, weeks | None) | None),
    cost_per_contact (dict[str, float] | None), expected_reduction (float).

Where W1–W7 left a choice, decisions W8–W13 (added while this oracle was written) settle most of
it and are followed here: the two spans over every row read and the two ledgers (W8), the views
that put a caller online before (W8: any date), the pilot flag (W10), the cluster-robust
intervals (W11), weeks without a period and the value of the change (W12), empty topics and
literal prefixes (W13). Readings that remain the oracle's own (listed in its report):
R3  A contact that was not online before has last_page/minutes_since_web null and
    same_question/same_family false (README: the share is over all counted phone contacts).
R4  same_family is exclusive: true only when same_question is false (the categories same
    question / same family only / other page / not online partition the calls).
R6  Pages listed: every page with at least one judged view (mapped or not).
R7  W6 windows are half-open by local date: before = [date − 7·weeks days, date), after =
    [date, date + 7·weeks days) (W12's "date + 7·weeks" as the end of the after window).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# W5 and W11: "rate ± 1.96·se" (the engine's 1.959964 is accepted by the comparison).
Z = 1.96

# W8: the first reason that applies, in this order.
VIEW_REASONS = ("duplicate", "anonymous", "outside_period", "outside_contact_span")


# ------------------------------------------------------------------------------------ parsing
def localise(moment: datetime, zone: ZoneInfo) -> datetime:
    """SPEC §1: a zone-less time is local in `timezone` (fold=0: the spring-forward gap moves
    forward, an ambiguous autumn time takes the summer reading); the result is in UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone, fold=0)
    return moment.astimezone(UTC)


def parse_views(rows: list[dict[str, Any]], zone: ZoneInfo) -> list[dict[str, Any]]:
    """Raw view rows (customer_id, visited_at as aware/naive datetime or ISO text, page) → views.

    `duplicate` is an exact copy of an earlier row, all three columns as read (D5 for visits).
    """
    seen: set[tuple] = set()
    views = []
    for number, row in enumerate(rows, start=1):
        raw = (row["customer_id"], row["visited_at"], row["page"])
        duplicate = raw in seen
        seen.add(raw)
        customer = row["customer_id"]
        if customer is not None:
            customer = str(customer).strip() or None  # D6: empty = null = anonymous
        moment = row["visited_at"]
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment.strip())
        views.append(
            {
                "source_row": number,
                "customer_id": customer,
                "visited_at": localise(moment, zone),
                "page": str(row["page"]).strip(),
                "duplicate": duplicate,
            }
        )
    return views


# ------------------------------------------------------------------------------ topic helpers
def page_topic(page: str, page_topics: list[tuple[str, str]]) -> str | None:
    """W3: the exact path wins, then the longest prefix (a pattern ending in `*`); else None."""
    for pattern, topic in page_topics:
        if not pattern.endswith("*") and pattern == page:
            return topic
    best: tuple[int, str] | None = None
    for pattern, topic in page_topics:
        if pattern.endswith("*"):
            prefix = pattern[:-1]
            if page.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), topic)
    return None if best is None else best[1]


def answers(topic_of_page: str | None, contact_topic: str | None) -> bool:
    """W2 same_question: the page's topic is the contact's topic or a level above it."""
    if topic_of_page is None or contact_topic is None:
        return False
    return contact_topic == topic_of_page or contact_topic.startswith(topic_of_page + "/")


def family(topic: str | None) -> str | None:
    """D6 / SPEC rule 4: the part before the first `/`; an empty topic has no family."""
    return None if topic is None else topic.split("/")[0]


def _local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _in_period(day: date, period: tuple[date, date] | None) -> bool:
    return period is None or period[0] <= day < period[1]


# ------------------------------------------------------------------------------- intervals
def ratio_interval(
    clusters: dict[Any, tuple[float, float]], low: float | None = 0.0, high: float | None = 1.0
) -> tuple[float | None, float | None, float | None]:
    """W5: Σy / Σx over clusters with the linearised cluster-robust variance, rate ± Z·se.

    var = n/(n−1) · Σ (y_i − R·x_i)² / (Σx)²  (one cluster: no variance, interval null).
    """
    total_x = sum(x for _, x in clusters.values())
    if total_x == 0:
        return None, None, None
    rate = sum(y for y, _ in clusters.values()) / total_x
    n = len(clusters)
    if n < 2:
        return rate, None, None
    resid = sum((y - rate * x) ** 2 for y, x in clusters.values())
    se = math.sqrt(n / (n - 1) * resid) / total_x
    lo, hi = rate - Z * se, rate + Z * se
    if low is not None:
        lo = max(low, lo)
    if high is not None:
        hi = min(high, hi)
    return rate, lo, hi


def _diff_interval(
    groups: list[tuple[float, dict[Any, tuple[float, float]]]],
) -> tuple[float | None, float | None, float | None]:
    """A signed sum of ratios (W6 diff, did) with the linearised variance, per-customer clusters.

    Each group is (sign, {customer: (calls, views)}); a customer present in several groups is
    one cluster, so the covariance of its terms counts (W6).
    """
    estimate = 0.0
    parts = []
    for sign, clusters in groups:
        total_x = sum(x for _, x in clusters.values())
        if total_x == 0:
            return None, None, None
        rate = sum(y for y, _ in clusters.values()) / total_x
        estimate += sign * rate
        parts.append((sign, clusters, rate, total_x))
    customers = set().union(*(clusters for _, clusters in groups))
    n = len(customers)
    if n < 2:
        return estimate, None, None
    total = 0.0
    for customer in customers:
        z = 0.0
        for sign, clusters, rate, total_x in parts:
            y, x = clusters.get(customer, (0.0, 0.0))
            z += sign * (y - rate * x) / total_x
        total += z * z
    se = math.sqrt(n / (n - 1) * total)
    return estimate, estimate - Z * se, estimate + Z * se


def wilson(successes: int, n: int) -> tuple[float | None, float | None, float | None]:
    if n == 0:
        return None, None, None
    p = successes / n
    den = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / den
    half = Z / den * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return p, max(0.0, centre - half), min(1.0, centre + half)


# ------------------------------------------------------------------------------- the analysis
def naive_deflection(
    contacts: list[dict[str, Any]],
    views: list[dict[str, Any]],
    page_topics: list[tuple[str, str]],
    params: dict[str, Any],
) -> dict[str, Any]:
    zone = ZoneInfo(params["timezone"])
    assisted = set(params["assisted"])
    web_window: timedelta = params["web_window"]
    period = params.get("period")
    contacts = [{**c, "started_at": c["started_at"].astimezone(UTC)} for c in contacts]

    # W8: the two data spans, over every row read.
    first_view = min(v["visited_at"] for v in views)
    last_view = max(v["visited_at"] for v in views)
    first_contact = min(c["started_at"] for c in contacts)
    until = params.get("observed_until")
    if until is None:
        until = max(c["started_at"] for c in contacts)  # D8: latest started_at of any row read
    until = until.astimezone(UTC)

    # W1: calls that can follow a view = all counted assisted contacts (any period).
    calls = [c for c in contacts if c["counted"] and c["channel"] in assisted]
    # W1: the contacts analysed = counted assisted contacts of reported episodes.
    candidates = [c for c in calls if c["in_period"]]
    known_views = [v for v in views if not v["duplicate"] and v["customer_id"] is not None]
    # Naive, but not quadratic in the whole log: each customer's views and calls in a list.
    views_of: dict[str, list[dict[str, Any]]] = {}
    for v in known_views:
        views_of.setdefault(v["customer_id"], []).append(v)
    calls_of: dict[str, list[dict[str, Any]]] = {}
    for c in calls:
        calls_of.setdefault(c["customer_id"], []).append(c)

    # ---- per contact (W2, W4); every contact row gets one ledger reason or is judged (W8)
    per_contact: dict[int, dict[str, Any]] = {}
    contact_ledger: dict[str, int] = {}
    for c in contacts:
        start = c["started_at"]
        if c["excluded_reason"] is not None:
            reason = c["excluded_reason"]
        elif c["channel"] not in assisted:
            reason = "not_assisted"
        elif not (first_view <= start - web_window and start <= last_view):
            reason = "outside_web_span"  # W4: [start − web_window, start] in the web span
        else:
            reason = None
        if reason is not None:
            contact_ledger[reason] = contact_ledger.get(reason, 0) + 1
            continue
        # W1: a row without a reason is a counted contact of the period, on an assisted channel.
        assert c["counted"] and c["in_period"] and c["channel"] in assisted
        in_window = [
            v
            for v in views_of.get(c["customer_id"], [])  # W8: any date; every view scanned
            if start - web_window <= v["visited_at"] < start  # W2: strictly before
        ]
        row = {
            "contact_id": c["contact_id"],
            "customer_id": c["customer_id"],
            "started_at": start,
            "channel": c["channel"],
            "topic": c["topic"],
            "online_before": bool(in_window),
            "last_page": None,
            "minutes_since_web": None,
            "same_question": False,
            "same_family": False,
        }
        if in_window:
            # W2: the latest view; ties by the greatest page string.
            latest = max(in_window, key=lambda v: (v["visited_at"], v["page"]))
            row["last_page"] = latest["page"]
            row["minutes_since_web"] = (start - latest["visited_at"]).total_seconds() / 60
            topics = [page_topic(v["page"], page_topics) for v in in_window]
            row["same_question"] = any(answers(t, c["topic"]) for t in topics)
            fam = family(c["topic"])
            row["same_family"] = not row["same_question"] and any(  # R4, W13
                t is not None and fam is not None and family(t) == fam for t in topics
            )
        per_contact[c["source_row"]] = row
    contact_ledger["judged"] = len(per_contact)

    # ---- views analysed (W1, W4) and followed by a call (W5)
    view_ledger = dict.fromkeys(VIEW_REASONS, 0)
    analysed = []
    for_change = []  # W14: every known view within the contact span, in the period or not
    for v in views:
        if v["duplicate"]:
            reason = "duplicate"
        elif v["customer_id"] is None:
            reason = "anonymous"
        elif not _in_period(_local_date(v["visited_at"], zone), period):
            reason = "outside_period"
        elif not (first_contact <= v["visited_at"] and v["visited_at"] + web_window <= until):
            reason = "outside_contact_span"  # W4
        else:
            reason = None
        known = not v["duplicate"] and v["customer_id"] is not None
        in_span = first_contact <= v["visited_at"] and v["visited_at"] + web_window <= until
        followed = known and any(
            v["visited_at"] < c["started_at"] <= v["visited_at"] + web_window  # W5
            for c in calls_of.get(v["customer_id"], [])
        )
        if known and in_span:
            for_change.append({**v, "followed": followed})
        if reason is not None:
            view_ledger[reason] += 1
            continue
        analysed.append({**v, "followed": followed})
    view_ledger["judged"] = len(analysed)

    pages: dict[str, dict[str, Any]] = {}
    for page in sorted({v["page"] for v in analysed}):  # R6
        clusters: dict[str, tuple[float, float]] = {}
        for v in analysed:
            if v["page"] == page:
                y, x = clusters.get(v["customer_id"], (0.0, 0.0))
                clusters[v["customer_id"]] = (y + v["followed"], x + 1)
        rate, lo, hi = ratio_interval(clusters)
        pages[page] = {
            "views": int(sum(x for _, x in clusters.values())),
            "followed_by_call": int(sum(y for y, _ in clusters.values())),
            "call_rate": rate,
            "ci_low": lo,
            "ci_high": hi,
        }

    # ---- overall shares (SPEC §3 summaries)
    judged = list(per_contact.values())
    n = len(judged)
    share, share_lo, share_hi = wilson(sum(r["online_before"] for r in judged), n)
    same_question_share = sum(r["same_question"] for r in judged) / n if n else None
    # W10: the pilot flag over the counted assisted contacts of the period (judged or not).
    logged = [c["online_first"] for c in candidates if c["online_first"] is not None]
    pilot_share = sum(logged) / len(logged) if logged else None

    out: dict[str, Any] = {
        "per_contact": per_contact,
        "contact_ledger": contact_ledger,
        "view_ledger": view_ledger,
        "pages": pages,
        "share_online_first": share,
        "ci_low": share_lo,
        "ci_high": share_hi,
        "same_question_share": same_question_share,
        "pilot_share": pilot_share,
    }
    out.update(_money(judged, same_question_share, params, zone))
    out["change"] = _change(for_change, page_topics, params, zone, out.get("cost"))
    return out


def _change(
    analysed: list[dict[str, Any]],
    page_topics: list[tuple[str, str]],
    params: dict[str, Any],
    zone: ZoneInfo,
    cost: float | None,
) -> dict[str, Any] | None:
    """W6, W11 (R7): before/after rates of the changed page and of the other mapped pages."""
    change = params.get("change")
    if change is None:
        return None
    page, when, weeks = change
    span = None if weeks is None else timedelta(days=7 * weeks)
    groups: dict[tuple[str, str], dict[str, tuple[float, float]]] = {
        (g, s): {} for g in ("page", "others") for s in ("before", "after")
    }
    for v in analysed:
        if v["page"] == page:
            group = "page"
        elif page_topic(v["page"], page_topics) is not None:
            group = "others"  # W11: every other page that page_topics maps
        else:
            continue
        day = _local_date(v["visited_at"], zone)
        if day < when and (span is None or day >= when - span):
            side = "before"
        elif day >= when and (span is None or day < when + span):
            side = "after"
        else:
            continue
        y, x = groups[group, side].get(v["customer_id"], (0.0, 0.0))
        groups[group, side][v["customer_id"]] = (y + v["followed"], x + 1)
    out: dict[str, Any] = {"page": page, "date": when.isoformat()}
    for group in ("page", "others"):
        for side in ("before", "after"):
            clusters = groups[group, side]
            views = sum(x for _, x in clusters.values())
            key = f"{side}_rate" if group == "page" else f"others_{side}_rate"
            out[key] = sum(y for y, _ in clusters.values()) / views if views else None
            out[f"{key[:-5]}_views"] = int(views)
    out["diff"], out["ci_low"], out["ci_high"] = _diff_interval(
        [(+1, groups["page", "after"]), (-1, groups["page", "before"])]
    )
    out["did"], out["did_ci_low"], out["did_ci_high"] = _diff_interval(
        [
            (+1, groups["page", "after"]),
            (-1, groups["page", "before"]),
            (-1, groups["others", "after"]),
            (+1, groups["others", "before"]),
        ]
    )
    # W12: the page's judged views per week after the change, over the days from the change
    # date to the earlier of date + 7·weeks and the day after the last judged view.
    out["value_per_year"] = None
    if analysed and out["after_views"]:
        last_day = max(_local_date(v["visited_at"], zone) for v in analysed) + timedelta(days=1)
        end = last_day if span is None else min(when + span, last_day)
        out["views_per_week_after"] = out["after_views"] / ((end - when).days / 7)
        lo, hi = out["did_ci_low"], out["did_ci_high"]
        if cost is not None and lo is not None and hi is not None and not lo <= 0 <= hi:
            out["value_per_year"] = -out["did"] * out["views_per_week_after"] * cost * 52
    return out


def _money(
    judged: list[dict[str, Any]], share: float | None, params: dict[str, Any], zone: ZoneInfo
) -> dict[str, Any]:
    """W7, W12: calls per week × same-question share × expected_reduction × cost × 52."""
    out: dict[str, Any] = {"calls_per_week": None, "savings_per_year": None, "money_reason": None}
    if not judged or share is None:
        out["money_reason"] = "no judged calls"
        return out
    period = params.get("period")
    if period is not None:
        days = (period[1] - period[0]).days
    else:
        # W12: without a period, first to last local date of a judged contact, inclusive.
        dates = [_local_date(r["started_at"], zone) for r in judged]
        days = (max(dates) - min(dates)).days + 1
    out["calls_per_week"] = len(judged) / (days / 7)
    costs = params.get("cost_per_contact")
    if costs is None:
        out["money_reason"] = "no cost_per_contact"
        return out
    missing = [ch for ch in params["assisted"] if ch not in costs]
    if missing:
        out["money_reason"] = f"no cost for {missing[0]}"
        return out
    # W7, W12: each assisted channel's cost weighted by its share of the judged contacts.
    cost = sum(costs[r["channel"]] for r in judged) / len(judged)
    out["cost"] = cost
    out["savings_per_year"] = (
        out["calls_per_week"] * share * params["expected_reduction"] * cost * 52
    )
    return out
