"""The weekly report's front page: the week's headline numbers beside the week before's.

One function computes the numbers of a week (the FCR readings with intervals, the repeat rate,
the share of callers online first, the flagged gaps and the spikes) from the parameters file's
inputs, pseudonymised like the notebooks; another writes them as a plain HTML page with no
script and nothing fetched from elsewhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from collections.abc import Sequence

import polars as pl

from fcrlab.engine.repeats import label_repeats
from fcrlab.gaps import knowledge_gaps
from fcrlab.online import deflection
from fcrlab.params import Params
from fcrlab.privacy import pseudonymise, salt_from_env
from fcrlab.read.contacts import Contacts, load_contacts
from fcrlab.read.web import WebVisits, load_page_topics, load_web_visits
from fcrlab.summary import fcr_summary
from fcrlab.words import percent

__all__ = ["WeekNumbers", "index_html", "week_numbers", "weeks_numbers"]

_RATES = (
    ("fcr", "FCR: customers did not come back"),
    ("fcr_flag", "Agent ticked resolved"),
    ("fcr_strict", "Ticked and did not come back"),
    ("fcr_survey", "Customer said resolved"),
    ("repeat_rate", "Repeat rate"),
    ("share_online_first", "Callers online first"),
)


@dataclasses.dataclass(frozen=True)
class WeekNumbers:
    """A week's headline numbers (`rates[name] = (value, ci_low, ci_high, n)`)."""

    start: dt.date
    rates: dict[str, tuple[float | None, float | None, float | None, int]]
    counts: dict[str, int]
    flagged: pl.DataFrame
    spikes: pl.DataFrame


def week_numbers(params: Params, start: dt.date, salt: str | None = None) -> WeekNumbers:
    """The headline numbers of the ISO week starting on `start` (earlier data is history)."""
    return weeks_numbers(params, [start], salt)[0]


def weeks_numbers(
    params: Params, starts: Sequence[dt.date], salt: str | None = None
) -> list[WeekNumbers]:
    """`week_numbers` for several weeks, reading and pseudonymising the inputs once."""
    salt = salt if salt is not None else salt_from_env(params)
    assert params.contacts is not None
    contacts = pseudonymise(load_contacts(params.contacts, params), params, salt)
    pages = load_page_topics(params.page_topics, params) if params.page_topics else None
    visits = None
    if params.web_visits and pages is not None:
        visits = pseudonymise(load_web_visits(params.web_visits, params), params, salt)
    return [_numbers(contacts, visits, pages, params, start) for start in starts]


def _numbers(
    contacts: Contacts,
    visits: WebVisits | None,
    pages: pl.DataFrame | None,
    params: Params,
    start: dt.date,
) -> WeekNumbers:
    period = {"start": start.isoformat(), "end": (start + dt.timedelta(days=7)).isoformat()}
    week = Params.from_mapping({**params.to_dict(), "period": period})
    labels = label_repeats(contacts, week, contact_fields=True)
    summary = fcr_summary(labels, week)
    rates = {
        name: (
            summary[name],
            summary[f"{name}_ci_low"],
            summary[f"{name}_ci_high"],
            summary[f"{name}_n"],
        )
        for name, _ in _RATES
        if name in summary
    }
    if visits is not None and pages is not None:
        online = deflection(labels, week, visits=visits, page_topics=pages).to_json()
        rates["share_online_first"] = (
            online["share_online_first"],
            online["ci_low"],
            online["ci_high"],
            int(online["contacts_judged"]),
        )
    gaps = knowledge_gaps(labels, week, page_topics=pages)
    counts = {
        "questions settled": summary["episodes"],
        "questions still pending": summary["pending_episodes"],
        "flagged gaps": gaps.flagged.height,
        "spikes": gaps.spikes.height,
    }
    return WeekNumbers(start, rates, counts, gaps.flagged, gaps.spikes)


def _pct(value: float | None) -> str:
    return percent(value, 1, missing="–")


def _change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "–"
    points = 100 * (now - before)
    return f"{points:+.1f} pts"


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def index_html(
    week: str, this: WeekNumbers, before: WeekNumbers, pages: list[tuple[str, str]]
) -> str:
    """The front page of `reports/<week>/`: numbers, their change, links to the notebooks."""
    rate_rows = []
    for name, label in _RATES:
        if name not in this.rates:
            continue
        value, low, high, n = this.rates[name]
        previous = before.rates.get(name, (None, None, None, 0))
        rate_rows.append(
            [
                html.escape(label),
                f"<b>{_pct(value)}</b>",
                f"{_pct(low)} – {_pct(high)}",
                f"{n:,}",
                _pct(previous[0]),
                _change(value, previous[0]),
            ]
        )
    count_rows = [
        [
            html.escape(name),
            f"<b>{n:,}</b>",
            f"{before.counts.get(name, 0):,}",
            f"{n - before.counts.get(name, 0):+,}",
        ]
        for name, n in this.counts.items()
    ]
    flagged = [
        [
            html.escape(str(r["level"])),
            html.escape(str(r["unit"])),
            html.escape(str(r["topic"])),
            _pct(r["fcr"]),
            _pct(r["peer_fcr"]),
            f"{r['episodes']:,}",
        ]
        for r in this.flagged.head(10).iter_rows(named=True)
    ]
    spikes = [
        [
            html.escape(str(r["topic"])),
            html.escape(str(r["week"])),
            _pct(r["fcr"]),
            _pct(r["baseline_fcr"]),
            html.escape(str(r.get("change") or "")),
        ]
        for r in this.spikes.iter_rows(named=True)
    ]
    links = "".join(f'<li><a href="{href}">{html.escape(title)}</a></li>' for title, href in pages)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fcrlab report {week}</title>
<style>body{{font-family:Segoe UI,Helvetica,Arial,sans-serif;margin:2em;max-width:64em;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}
td,th{{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:left}}
th{{background:#f4f4f4}}</style></head><body>
<h1>First contact resolution — week {week}</h1>
<p>Questions that started in {week} (Monday to Sunday), against the week before. A question is
solved at the first contact when the customer did not come back about it within the window;
the interval is 95%.</p>
{_table(rate_rows, ["measure", week, "95% interval", "n", "week before", "change"])}
{_table(count_rows, ["count", week, "week before", "change"])}
<h2>Flagged: worse than peers on a topic</h2>
{
        _table(flagged, ["level", "unit", "topic", "FCR", "peers", "questions"])
        if flagged
        else "<p>No team or agent is clearly worse than its peers this week.</p>"
    }
<h2>Topics that suddenly got worse</h2>
{
        _table(spikes, ["topic", "week", "FCR", "usual", "after change"])
        if spikes
        else "<p>No topic fell below its usual FCR this week.</p>"
    }
<h2>Notebooks</h2><ul>{links}</ul>
</body></html>
"""
