"""The bundled synthetic sample: contacts, web visits and page topics with planted effects.

Customers have *questions*. A question starts with a first contact; when that contact does not
fix it (a chance that depends on the topic, the agent and the date), the customer comes back one
or more times. Everything the notebooks should find is planted in that chance or in the web
data, with the sizes documented in data/README.md. Times are naive local Europe/Amsterdam
(SPEC §1), whole seconds, drawn hour by hour from a calendar that knows the office hours.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl

__all__ = ["SAMPLE_CONTACTS", "SAMPLE_SEED", "make_sample", "write_sample"]

SAMPLE_SEED = 20261123
SAMPLE_CONTACTS = 50_000

_WEB_START = datetime(2026, 5, 31)  # a day early, so the first callers can have been online
_START = datetime(2026, 6, 1)  # Monday: first contact
_END = datetime(2026, 11, 30)  # Monday, exclusive
_CLOCK_BACK = datetime(2026, 10, 25, 3)  # 03:00 CEST becomes 02:00 CET
_HOUR, _DAY = 3600.0, 86400.0
_CAL_DAYS = 200  # runs past _END so a late repeat still finds the next opening hour

# (topic, share of questions, chance the first contact fixes it, help page, share of the
# page's viewers who then call). Fix chances are the truth before the planted effects; the
# FCR measured with a 7d window is higher, because some repeats come later or on a sibling topic.
_TOPICS = (
    ("billing/invoice-incorrect", 0.12, 0.70, "/help/invoice", 0.30),
    ("billing/payment-failed", 0.07, 0.74, "/help/payment", 0.25),
    ("billing/refund", 0.05, 0.66, "/help/refund", 0.22),
    ("mobile/roaming", 0.06, 0.70, "/help/roaming", 0.20),
    ("mobile/data-bundle", 0.07, 0.78, "/help/data-bundle", 0.15),
    ("mobile/sim-activation", 0.05, 0.72, "/help/sim", 0.25),
    ("tv/no-signal", 0.08, 0.52, "/help/tv/no-signal", 0.35),
    ("tv/decoder", 0.06, 0.68, "/help/tv/decoder", 0.30),
    ("tv/channels", 0.04, 0.78, "/help/tv/channels", 0.15),
    ("internet/outage", 0.09, 0.48, "/help/internet/outage", 0.40),
    ("internet/slow", 0.08, 0.60, "/help/internet/slow", 0.20),
    ("internet/router", 0.07, 0.64, "/help/internet/router", 0.25),
    ("moving/new-address", 0.07, 0.72, "/help/moving", 0.18),
    ("moving/transfer-contract", 0.04, 0.66, "/help/moving", 0.18),
)
_TOPIC = tuple(t[0] for t in _TOPICS)
_FAMILY = np.unique([t.split("/")[0] for t in _TOPIC], return_inverse=True)[1]
_HARD = ("internet/outage", "tv/no-signal", "internet/slow")  # team-care's queue
# page_topics: the billing and mobile pages answer one topic; the tv and internet pages are
# matched by prefix to their family, like the moving page (SPEC §3: a family answers its topics).
_PAGE_TOPICS = [(t[3], t[0]) for t in _TOPICS if t[0].split("/")[0] in ("billing", "mobile")]
_PAGE_TOPICS += [("/help/tv/*", "tv"), ("/help/internet/*", "internet"), ("/help/moving", "moving")]
_GENERAL_PAGES = ("/", "/account", "/account/invoices", "/shop/mobile", "/shop/tv")
_GENERAL_PAGES += ("/shop/internet", "/shop/deals", "/help", "/contact")
_GENERAL_P = (0.28, 0.20, 0.08, 0.10, 0.08, 0.08, 0.08, 0.06, 0.04)
_PAGES = tuple(sorted({t[3] for t in _TOPICS} | set(_GENERAL_PAGES)))  # code order = text order
_TOPIC_PAGE = np.array([_PAGES.index(t[3]) for t in _TOPICS])

_TEAMS = (("team-north", 10), ("team-south", 11), ("team-east", 9), ("team-west", 12))
_TEAMS += (("team-care", 8),)
_AGENT_TEAM = np.repeat(np.arange(len(_TEAMS)), [n for _, n in _TEAMS])
_AGENTS = tuple(f"A{i + 1:03d}" for i in range(len(_AGENT_TEAM)))
_PILOT_AGENTS = np.r_[0:10, 30:40]  # A001-A010 and A031-A040 log online_first in the pilot

_CHANNELS = ("phone", "chat", "email", "social")  # codes 0, 1 keep office hours
_FIRST_CHANNEL_P = (0.50, 0.22, 0.19, 0.09)
_REPEAT_CHANNEL_P = (0.62, 0.18, 0.13, 0.07)  # coming back, people pick up the phone
_CHANNEL_FIX = np.array([0.0, -0.02, -0.05, -0.05])
_PREVIEW_P = np.array([0.56, 0.35, 0.25, 0.20])  # first contacts with a help page view before
_HANDLE = ((380, 0.55), (540, 0.5), (240, 0.7), (180, 0.7))  # median seconds, log sd
_OUTCOMES = ("handled", "abandoned", "voicemail")

# Planted effects (data/README.md). Drops are in the true fix chance; the measured FCR gap is
# a little smaller because repeats after the window or on another topic dilute it.
_WEAK_TEAM = ("team-east", "billing/invoice-incorrect", 0.31)
_WEAK_AGENT = ("A017", "mobile/roaming", 0.36, 3.0)  # A017 also takes 3x the mobile share
_FIRMWARE = ("tv/decoder", date(2026, 9, 14), date(2026, 10, 5), 0.35, 1.5)
_MOVING_INVOICE = 0.40  # new-address questions whose first invoice brings a billing question
_PAGE_CHANGE = ("/help/invoice", date(2026, 10, 5), 0.42)  # share of would-be callers helped
_ROAMING_SEASON = (date(2026, 7, 1), date(2026, 9, 1), 1.8)
_PILOT = (date(2026, 9, 7), date(2026, 9, 14))

_OFFICE_HOUR = np.array([0] * 8 + [0.7, 1.1, 1.3, 1.25, 1, 1.1, 1.2, 1.15, 1.05, 0.9, 0.7, 0.5])
_OFFICE_HOUR = np.r_[_OFFICE_HOUR, [0] * 4]
_OFFICE_DAY = np.array([1.25, 1.1, 1.0, 1.0, 0.9, 0.5, 0.0])
_ANY_HOUR = np.array([0.15, 0.1, 0.08, 0.08, 0.1, 0.15, 0.3, 0.6, 0.9] + [1.0] * 9)
_ANY_HOUR = np.r_[_ANY_HOUR, [1.1, 1.2, 1.2, 1.0, 0.7, 0.35]]


def _sec(d: date) -> float:
    """Our time axis: seconds of naive local time since _WEB_START."""
    moment = d if isinstance(d, datetime) else datetime(d.year, d.month, d.day)
    return (moment - _WEB_START).total_seconds()


def _calendar() -> dict[str, np.ndarray]:
    slot = np.arange(_CAL_DAYS * 24)
    hour, weekday = slot % 24, (slot // 24 + _WEB_START.weekday()) % 7
    # Office hours Mon-Fri 08:00-20:00, Sat 09:00-17:00, Sun closed (phone and chat only).
    is_open = (weekday < 5) & (hour >= 8) & (hour < 20) | (weekday == 5) & (hour >= 9) & (hour < 17)
    start = slot * _HOUR
    contacts = (start >= _sec(_START)) & (start < _sec(_END))
    closed_as_end = np.where(is_open, slot, len(slot))
    return {
        "start": start,
        "open": is_open,
        "next_open": np.minimum.accumulate(closed_as_end[::-1])[::-1],
        "office": np.where(contacts & is_open, _OFFICE_HOUR[hour] * _OFFICE_DAY[weekday], 0.0),
        "any": np.where(contacts, _ANY_HOUR[hour] * np.where(weekday >= 5, 0.8, 1.0), 0.0),
        "web": np.where(start < _sec(_END), _ANY_HOUR[hour], 0.0),
    }


def _volume(cal: dict[str, np.ndarray], topic: int) -> np.ndarray:
    """How busy a topic is per hour slot, relative to its usual level (seasons, incidents)."""
    start, mult = cal["start"], np.ones(len(cal["start"]))
    if _TOPIC[topic] == _WEAK_AGENT[1]:
        mult[(start >= _sec(_ROAMING_SEASON[0])) & (start < _sec(_ROAMING_SEASON[1]))] *= (
            _ROAMING_SEASON[2]
        )
    if _TOPIC[topic] == _FIRMWARE[0]:
        mult[(start >= _sec(_FIRMWARE[1])) & (start < _sec(_FIRMWARE[2]))] *= _FIRMWARE[4]
    return mult


def _times(rng: np.random.Generator, n: int, weight: np.ndarray) -> np.ndarray:
    slot = rng.choice(len(weight), size=n, p=weight / weight.sum())
    return np.floor((slot + rng.random(n)) * _HOUR)


def _after(t: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Local time plus an absolute duration: a day is 24 real hours across the clock change."""
    back = _sec(_CLOCK_BACK)
    real = t - np.where(t < back, _HOUR, 0.0) + seconds
    return np.floor(real + np.where(real < back - _HOUR, _HOUR, 0.0))


def _snap_open(rng, cal, t: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Phone and chat are closed outside office hours: the customer comes at the next opening."""
    slot = np.minimum(t // _HOUR, len(cal["open"]) - 1).astype(np.int64)
    jitter = np.floor(rng.random(len(t)) * 0.75 * _HOUR)  # not everyone at the opening second
    closed = (channel < 2) & ~cal["open"][slot]
    return np.where(closed, cal["next_open"][slot] * _HOUR + jitter, t)


def _pick(rng, probs: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One draw per element from the distribution in `probs[row]` (one inverse-CDF per row)."""
    cdf, u = np.cumsum(probs / probs.sum(1, keepdims=True), 1), rng.random(len(row))
    out = np.zeros(len(row), dtype=np.int64)
    for r in np.unique(row):
        out[row == r] = np.searchsorted(cdf[r], u[row == r], side="right")
    return np.minimum(out, probs.shape[1] - 1)


def _routing() -> np.ndarray:
    """P(agent | topic), rows = topics and a last row for contacts without one."""
    hard = np.array([t in _HARD for t in _TOPIC] + [False])
    care = np.where(hard, 0.55, 0.04)  # team-care takes the hard topics, not worse at them
    team_p = np.c_[np.repeat(((1 - care) / 4)[:, None], 4, 1), care]
    weight = np.ones((len(hard), len(_AGENTS)))
    mobile = [i for i, t in enumerate(_TOPIC) if t.startswith("mobile/")]
    weight[np.ix_(mobile, [_AGENTS.index(_WEAK_AGENT[0])])] = _WEAK_AGENT[3]
    in_team = np.stack([np.bincount(_AGENT_TEAM, w, len(_TEAMS)) for w in weight])
    return team_p[:, _AGENT_TEAM] * weight / in_team[:, _AGENT_TEAM]


def _take(rows: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in rows.items()}


def _cat(*parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _new_rows(n: int, **cols: np.ndarray) -> dict[str, np.ndarray]:
    rows = {"q": np.full(n, -1), "cust": np.full(n, -1), "t": np.zeros(n), "ch": np.zeros(n, int)}
    rows |= {"topic": np.full(n, -1), "agent": np.full(n, -1), "seq": np.zeros(n, int)}
    rows |= {"last": np.ones(n, bool), "outbound": np.zeros(n, bool), "leg1": np.zeros(n, bool)}
    rows |= {"outcome": np.zeros(n, int), "conv": np.full(n, -1)}
    return rows | cols


def _questions(rng, cal, n_root: int, n_cust: int) -> dict[str, np.ndarray]:
    """Customer questions: topic, first channel and time, a web visit before, deflection."""
    vol = [_volume(cal, k) for k in range(len(_TOPIC))]
    share = np.array([t[1] for t in _TOPICS]) * [(v * cal["any"]).sum() for v in vol]
    topic = np.sort(rng.choice(len(_TOPIC), n_root, p=share / share.sum()))
    channel = rng.choice(4, n_root, p=_FIRST_CHANNEL_P)
    t0 = np.zeros(n_root)
    for k in range(len(_TOPIC)):
        for office in (True, False):
            m = (topic == k) & ((channel < 2) == office)
            t0[m] = _times(rng, int(m.sum()), vol[k] * cal["office" if office else "any"])
    activity = rng.gamma(2.0, 1.0, n_cust)  # some customers have many questions
    cust = rng.choice(n_cust, n_root, p=activity / activity.sum())
    # Planted (d): the first invoice after a move raises a billing question 1-6 days later.
    moved = (topic == _TOPIC.index("moving/new-address")) & (rng.random(n_root) < _MOVING_INVOICE)
    moved = np.flatnonzero(moved)
    child_ch = rng.choice(4, len(moved), p=_FIRST_CHANNEL_P)
    child_t = _after(t0[moved], np.floor((1 + 5 * rng.random(len(moved))) * _DAY))
    q = {
        "group": np.r_[np.arange(n_root), moved],
        "cust": np.r_[cust, cust[moved]],
        "topic": np.r_[topic, np.full(len(moved), _TOPIC.index(_WEAK_TEAM[1]))],
        "channel": np.r_[channel, child_ch],
        "t0": np.r_[t0, _snap_open(rng, cal, child_t, child_ch)],
    }
    n = len(q["group"])
    q["preview"] = rng.random(n) < _PREVIEW_P[q["channel"]]
    lag = np.clip(rng.lognormal(np.log(35 * 60), 1.1, n), 60, 23.5 * _HOUR)
    q["view_t"] = _after(q["t0"], -np.floor(lag))
    # Planted (e): after the page change some would-be contacts find the answer on the page;
    # their view stays, their contacts never happen.
    changed = _TOPIC_PAGE[q["topic"]] == _PAGES.index(_PAGE_CHANGE[0])
    changed &= q["preview"] & (q["view_t"] >= _sec(_PAGE_CHANGE[1]))
    q["deflected"] = changed & (rng.random(n) < _PAGE_CHANGE[2])
    return q


def _fix_chance(topic, channel, agent, t, skill) -> np.ndarray:
    p = np.array([x[2] for x in _TOPICS])[topic] + _CHANNEL_FIX[channel] + skill[agent]
    # Planted (a), (b), (c): a team, an agent and a dated change, each on one topic.
    team = _AGENT_TEAM[agent] == [name for name, _ in _TEAMS].index(_WEAK_TEAM[0])
    p -= _WEAK_TEAM[2] * (team & (topic == _TOPIC.index(_WEAK_TEAM[1])))
    p -= _WEAK_AGENT[2] * (
        (agent == _AGENTS.index(_WEAK_AGENT[0])) & (topic == _TOPIC.index(_WEAK_AGENT[1]))
    )
    when = (t >= _sec(_FIRMWARE[1])) & (t < _sec(_FIRMWARE[2]))
    return p - _FIRMWARE[3] * (when & (topic == _TOPIC.index(_FIRMWARE[0])))


def _question_contacts(rng, cal, q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """First contacts and, for questions the first contact did not fix, the repeats."""
    route = _routing()
    live = np.flatnonzero(~q["deflected"])
    topic, channel, t = q["topic"][live], q["channel"][live], q["t0"][live]
    agent = _pick(rng, route, topic)
    skill = rng.normal(0.0, 0.02, len(_AGENTS))  # ordinary differences, too small to flag
    skill[_AGENTS.index(_WEAK_AGENT[0])] = 0.0
    fixed = rng.random(len(live)) < _fix_chance(topic, channel, agent, t, skill)
    u = rng.random(len(live))
    k = np.where(fixed, 0, 1 + (u < 0.35) + (u < 0.10))  # 1, 2 or 3 repeats
    src, kk = np.repeat(np.arange(len(live)), k), k[k > 0]
    n = len(src)
    seq = np.arange(n) - np.repeat(np.cumsum(kk) - kk, kk) + 1
    # Mostly back within hours or days; 8% (plus the lognormal tail) after 7d, so the window
    # choice matters.
    late = rng.random(n) < 0.08
    soon = np.maximum(rng.lognormal(np.log(20), 1.2, n), 0.25)
    gap = np.where(late, rng.uniform(8 * 24, 21 * 24, n), soon)
    cum, first = np.cumsum(gap), np.cumsum(kk) - kk
    cum -= np.repeat(cum[first] - gap[first], kk)  # hours since the question's first contact
    again = rng.random(n) < 0.55
    rep_channel = np.where(again, channel[src], rng.choice(4, n, p=_REPEAT_CHANNEL_P))
    # Some come back on a sibling sub-topic: same family, another topic (for `match: family`).
    sibling, u = topic[src].copy(), rng.random(n)
    for k_topic in range(len(_TOPIC)):
        sibs = np.flatnonzero((_FAMILY[k_topic] == _FAMILY) & (np.arange(len(_TOPIC)) != k_topic))
        m = topic[src] == k_topic
        sibling[m] = sibs[(u[m] * len(sibs)).astype(int)]
    rep_topic = np.where(rng.random(n) < 0.15, sibling, topic[src])
    rep_t = _snap_open(rng, cal, _after(t[src], np.floor(cum * _HOUR)), rep_channel)
    rows = _new_rows(
        len(live) + n,
        q=np.r_[live, live[src]],
        t=np.r_[t, rep_t],
        ch=np.r_[channel, rep_channel],
        topic=np.r_[topic, rep_topic],
        agent=np.r_[agent, _pick(rng, route, rep_topic)],
        seq=np.r_[np.zeros(len(live), int), seq],
        last=np.r_[fixed, seq == k[src]],
    )
    rows["cust"] = q["cust"][rows["q"]]
    rows["conv"] = np.arange(len(rows["t"]))
    # Agents leave the topic empty now and then (after routing, which used the real topic).
    rows["topic"] = np.where(rng.random(len(rows["t"])) < 0.025, -1, rows["topic"])
    return _phone_legs(rng, cal, rows)


def _phone_legs(rng, cal, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Transfers (two legs), abandoned calls, voicemails and callbacks sharing a conversation."""
    phone = np.flatnonzero(rows["ch"] == 0)
    u, n_rows = rng.random(len(phone)), len(rows["t"])
    transfer, missed = phone[u < 0.06], phone[(u >= 0.06) & (u < 0.115)]
    leg1 = _take(rows, transfer)
    leg1["agent"] = rng.integers(0, len(_AGENTS), len(transfer))  # often another team
    leg1["topic"] = np.where(rng.random(len(transfer)) < 0.3, -1, leg1["topic"])
    leg1["leg1"], leg1["last"] = np.ones(len(transfer), bool), np.zeros(len(transfer), bool)
    rows["t"][transfer] += np.floor(rng.uniform(90, 600, len(transfer)))
    kind = rng.random(len(missed))  # < .5 redial later, < .75 abandoned + callback, voicemail
    attempt = _take(rows, missed)
    attempt["topic"], attempt["agent"] = np.full(len(missed), -1), np.full(len(missed), -1)
    attempt["outcome"] = np.where(kind < 0.75, 1, 2)
    attempt["last"] = np.zeros(len(missed), bool)
    attempt["conv"] = np.where(kind < 0.5, n_rows + np.arange(len(missed)), rows["conv"][missed])
    callback = kind >= 0.5
    delay = np.where(callback, rng.uniform(20, 180, len(missed)), rng.uniform(3, 60, len(missed)))
    rows["t"][missed] = _snap_open(
        rng, cal, rows["t"][missed] + np.floor(delay * 60), np.zeros_like(missed)
    )
    rows["outbound"][missed] = callback
    return _cat(rows, leg1, attempt)


def _extra_rows(rng, cal, n_anon: int, n_out: int, customers: np.ndarray) -> dict:
    """Anonymous contacts (never linked) and the company's own outbound calls."""
    ch = rng.choice(4, n_anon, p=(0.3, 0.4, 0.1, 0.2))
    t = np.where(ch < 2, _times(rng, n_anon, cal["office"]), _times(rng, n_anon, cal["any"]))
    topic = np.where(rng.random(n_anon) < 0.2, -1, rng.choice(len(_TOPIC), n_anon))
    anon = _new_rows(n_anon, t=t, ch=ch, topic=topic)
    # Outage notices and payment reminders: outbound is not the customer coming back.
    reason = np.array([_TOPIC.index("internet/outage"), _TOPIC.index("billing/payment-failed"), -1])
    out = _new_rows(
        n_out,
        cust=rng.choice(customers, n_out) if len(customers) else np.zeros(n_out, int),
        t=_times(rng, n_out, cal["office"]),
        topic=reason[rng.choice(3, n_out, p=(0.4, 0.4, 0.2))],
        outbound=np.ones(n_out, bool),
    )
    rows = _cat(anon, out)
    rows["agent"] = _pick(rng, _routing(), np.where(rows["topic"] < 0, len(_TOPIC), rows["topic"]))
    rows["conv"] = np.where(rows["ch"] < 2, -2 - np.arange(len(rows["t"])), -1)
    return rows


_BOOLS = ("resolved", "survey_resolved", "online_first")


def _fields(rng, rows: dict, q: dict) -> dict[str, np.ndarray]:
    """What agents tick, what customers say, what handling took: correlated with the truth."""
    n, last, repeat = len(rows["t"]), rows["last"], rows["seq"] > 0
    agent_done = (rows["outcome"] == 0) & ~rows["leg1"]
    # The tick over-reports: most contacts that bring the customer back are ticked too.
    ticked = rng.random(n) < np.where(last, 0.99, 0.90)
    resolved = np.where(agent_done & (rng.random(n) >= 0.10), ticked.astype(int), -1)
    asked = agent_done & (rows["q"] >= 0) & (rng.random(n) < 0.17)
    said = rng.random(n) < np.where(last, 0.88, 0.35)
    answered = [asked & (rng.random(n) < 0.95) for _ in range(3)]
    ces_p = np.array([[30, 30, 18, 10, 6, 4, 2], [4, 8, 14, 22, 24, 18, 10]], float)
    ces = np.minimum(_pick(rng, ces_p, (~last).astype(int)) + 1 + repeat, 7)
    csat_p = np.array([[3, 5, 12, 35, 45], [15, 25, 30, 20, 10]], float)
    csat = _pick(rng, csat_p, (~last).astype(int)) + 1 - (repeat & (rng.random(n) < 0.5))
    # The online_first pilot: 20 agents log it on their calls for one week, imperfectly.
    was_online = (rows["q"] >= 0) & (rows["seq"] == 0) & ~rows["leg1"]
    was_online &= q["preview"][np.maximum(rows["q"], 0)]
    pilot = (rows["ch"] == 0) & (rows["outcome"] == 0) & np.isin(rows["agent"], _PILOT_AGENTS)
    pilot &= (rows["t"] >= _sec(_PILOT[0])) & (rows["t"] < _sec(_PILOT[1]))
    logged = rng.random(n) < np.where(was_online, 0.85, 0.10)
    online_first = np.where(pilot & (rng.random(n) >= 0.15), logged.astype(int), -1)
    median = np.array([h[0] for h in _HANDLE])[rows["ch"]] * np.where(rows["leg1"], 0.4, 1.0)
    sd = np.array([h[1] for h in _HANDLE])[rows["ch"]]
    handle = np.round(median * np.exp(sd * rng.standard_normal(n)), 1)
    return {
        "resolved": resolved,
        "survey_resolved": np.where(answered[0], said.astype(int), -1),
        "ces": np.where(answered[1], ces, -1),
        "csat": np.where(answered[2], np.maximum(csat, 1), -1),
        "online_first": online_first,
        "handle_seconds": np.where(rows["outcome"] == 0, handle, np.nan),
    }


def _code(col: str, prefix: str, width: int) -> pl.Expr:
    """Integer codes to ids like K0001234; negative codes are empty."""
    c = pl.col(col)
    return pl.when(c >= 0).then(pl.lit(prefix) + c.cast(pl.String).str.zfill(width))


def _label(col: str, names) -> pl.Expr:
    return pl.col(col).replace_strict(dict(enumerate(names)), default=None, return_dtype=pl.String)


def _datetime(col: str) -> pl.Expr:
    base = int((_WEB_START - datetime(1970, 1, 1)).total_seconds())
    return ((pl.col(col).cast(pl.Int64) + base) * 1_000_000).cast(pl.Datetime("us"))


def _contacts_frame(rng, rows: dict, fields: dict, cust_ids: np.ndarray, n_dup: int):
    order = np.lexsort((np.arange(len(rows["t"])), rows["t"]))
    rows, fields = _take(rows, order), _take(fields, order)
    # Conversation ids numbered in order of first appearance; email and social carry none.
    conv = np.where(rows["ch"] < 2, rows["conv"], -1)
    has = conv != -1
    _, first, inverse = np.unique(conv[has], return_index=True, return_inverse=True)
    conv_no = np.full(len(conv), -1)
    conv_no[has] = np.argsort(np.argsort(first))[inverse] + 1
    cust = np.where(rows["cust"] >= 0, cust_ids[np.maximum(rows["cust"], 0)], -1)
    raw = pl.DataFrame(
        rows | fields | {"n": np.arange(1, len(order) + 1), "cust": cust, "conv": conv_no}
    )
    team = np.where(rows["agent"] >= 0, _AGENT_TEAM[np.maximum(rows["agent"], 0)], -1)
    score = {c: pl.when(pl.col(c) >= 0).then(pl.col(c)).cast(pl.Int8) for c in ("ces", "csat")}
    flag = {c: pl.when(pl.col(c) >= 0).then(pl.col(c) == 1) for c in _BOOLS}
    agent_no = np.where(rows["agent"] >= 0, rows["agent"] + 1, -1)
    frame = raw.with_columns(team=team, agent_no=agent_no).select(
        contact_id=_code("n", "C", 8),
        customer_id=_code("cust", "K", 7),
        started_at=_datetime("t"),
        channel=_label("ch", _CHANNELS),
        topic=_label("topic", _TOPIC),
        agent_id=_code("agent_no", "A", 3),
        team=_label("team", [name for name, _ in _TEAMS]),
        resolved=flag["resolved"],
        direction=pl.when(pl.col("outbound")).then(pl.lit("outbound")).otherwise(pl.lit("inbound")),
        outcome=_label("outcome", _OUTCOMES),
        conversation_id=_code("conv", "V", 8),
        survey_resolved=flag["survey_resolved"],
        ces=score["ces"],
        csat=score["csat"],
        online_first=flag["online_first"],
        handle_seconds=pl.col("handle_seconds").fill_nan(None),
    )
    # Exact copies of some rows, next to their original (SPEC §2 rule 1, `duplicate`).
    copies = rng.choice(frame.height, n_dup, replace=False)
    return frame[np.sort(np.r_[np.arange(frame.height), copies])]


def _web_visits(rng, cal, q: dict, kept: np.ndarray, n_cust: int, contacts: int) -> dict:
    """Page views: sessions before contacts, help-page readers who never call, and browsing."""
    seen = np.flatnonzero(kept & q["preview"])
    cust, t, page = [q["cust"][seen]], [q["view_t"][seen]], [_TOPIC_PAGE[q["topic"][seen]]]
    for extra, share, before in (("/", 0.5, 6), ("/account", 0.3, 8)):
        m = seen[rng.random(len(seen)) < share]
        cust.append(q["cust"][m])
        t.append(q["view_t"][m] - np.floor(rng.uniform(0.5, before, len(m)) * 60))
        page.append(np.full(len(m), _PAGES.index(extra)))
    # Readers of a help page who do not call: as many as make the page's call rate its
    # planted level, counted on the phone questions that read it before the page change.
    for k, (_, _, _, help_page, call_rate) in enumerate(_TOPICS):
        readers = q["topic"][seen] == k
        callers = (readers & (q["channel"][seen] == 0)).sum()
        n = max(round(callers / call_rate - readers.sum()), 0)
        cust.append(n_cust + rng.integers(0, n_cust, n))  # web-only customers
        t.append(_times(rng, n, _volume(cal, k) * cal["web"]))
        page.append(np.full(n, _PAGES.index(help_page)))
    n = round(contacts * 4.8)
    cust.append(rng.integers(0, 2 * n_cust, n))
    t.append(_times(rng, n, cal["web"]))
    page.append(
        np.array([_PAGES.index(p) for p in _GENERAL_PAGES])[
            rng.choice(len(_GENERAL_PAGES), n, p=_GENERAL_P)
        ]
    )
    return {"cust": np.concatenate(cust), "t": np.concatenate(t), "page": np.concatenate(page)}


def make_sample(
    contacts: int = SAMPLE_CONTACTS, seed: int = SAMPLE_SEED
) -> dict[str, pl.DataFrame]:
    """The bundled synthetic sample: `contacts` rows of contacts, their web visits, page topics.

    Deterministic: the same arguments give identical frames (data/README.md lists the effects).
    """
    if contacts < 1:
        raise ValueError(f"contacts must be at least 1, got {contacts}")
    rng = np.random.default_rng(seed)
    cal = _calendar()
    n_root = int(contacts * 0.8) + 50  # a surplus of questions, trimmed to the exact row count
    n_cust = max(n_root * 2 // 5, 10)
    q = _questions(rng, cal, n_root, n_cust)
    rows = _question_contacts(rng, cal, q)
    rows = _take(rows, np.flatnonzero(rows["t"] < _sec(_END)))
    n_anon, n_dup, n_out = round(0.01 * contacts), round(0.002 * contacts), round(0.008 * contacts)
    budget = contacts - n_anon - n_dup - n_out
    # Keep whole questions (with their follow-ups) in random order while they fit the budget;
    # the few rows left over become outbound calls, which take no part in FCR.
    group = q["group"][rows["q"]]
    order = rng.permutation(n_root)
    fits = np.cumsum(np.bincount(group, minlength=n_root)[order]) <= budget
    kept_group = np.zeros(n_root, bool)
    kept_group[order[fits]] = True
    rows = _take(rows, np.flatnonzero(kept_group[group]))
    n_out += budget - len(rows["t"])
    rows = _cat(rows, _extra_rows(rng, cal, n_anon, n_out, np.unique(rows["cust"])))
    fields = _fields(rng, rows, q)
    cust_ids = rng.choice(max(9_999_999, 4 * n_cust), 2 * n_cust, replace=False) + 1
    frame = _contacts_frame(rng, rows, fields, cust_ids, n_dup)
    web = _web_visits(rng, cal, q, kept_group[q["group"]], n_cust, contacts)
    visits = (
        pl.DataFrame({"cust": cust_ids[web["cust"]], "t": web["t"], "page": web["page"]})
        .filter((pl.col("t") >= 0) & (pl.col("t") < _sec(_END)))
        .sort("t", "cust", "page")  # on the codes: the same order as the texts, but faster
        .select(
            customer_id=_code("cust", "K", 7),
            visited_at=_datetime("t"),
            page=_label("page", _PAGES),
        )
    )
    page_topics = pl.DataFrame(list(_PAGE_TOPICS), schema=["page", "topic"], orient="row")
    return {"contacts": frame, "web_visits": visits, "page_topics": page_topics}


def write_sample(
    out_dir: str | Path, contacts: int = SAMPLE_CONTACTS, seed: int = SAMPLE_SEED
) -> dict[str, Path]:
    """Write contacts.parquet, web_visits.parquet and page_topics.csv into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sample = make_sample(contacts=contacts, seed=seed)
    paths = {name: out / f"{name}.parquet" for name in ("contacts", "web_visits")}
    for name, path in paths.items():
        sample[name].write_parquet(path, compression="zstd", statistics=True)
    paths["page_topics"] = out / "page_topics.csv"
    sample["page_topics"].write_csv(paths["page_topics"])
    return paths
