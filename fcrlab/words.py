"""Every plain-words sentence fcrlab writes, for the notebooks, the report and the CLI.

The analyses compute; this module turns their results into sentences, with one formatter for
percentages. Nothing here computes a number that a table does not already hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl

from fcrlab.gaps import Gaps
from fcrlab.online import Deflection
from fcrlab.params import format_duration

__all__ = [
    "assumptions_table",
    "cells_text",
    "change_text",
    "deflection_lines",
    "fcr_headline",
    "follow_ups_text",
    "gaps_lines",
    "mix_text",
    "money_text",
    "online_first_text",
    "pages_text",
    "percent",
    "signals_text",
    "spikes_text",
    "summary_lines",
    "training_text",
]


def percent(value: float | None, digits: int = 0, missing: str = "n/a") -> str:
    """A fraction as a percentage (`0.726` → `73%`, or `72.6%` with one digit)."""
    return missing if value is None else f"{100 * value:.{digits}f}%"


def _hours(window: dt.timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} hours" if hours != 1 else "1 hour"


# ---------------------------------------------------------------------------- repeat contacts
def fcr_headline(summary: Any) -> str:
    """The gap between what the organisation records and what customers do (a `Summary`)."""
    params = summary.params
    same = {"topic": "the same topic", "family": "the same topic family", "any": "anything"}
    parts = [
        f"Of {summary['episodes']:,} questions, {percent(summary['fcr'])} were solved at the "
        f"first contact: the customer did not come back about {same[params.match]} within "
        f"{format_duration(params.window)}."
    ]
    if summary["fcr_flag"] is not None and summary["fcr"] is not None:
        gap = summary["fcr_flag"] - summary["fcr"]
        parts.append(
            f"Agents ticked {percent(summary['fcr_flag'])} as resolved, "
            f"{abs(100 * gap):.0f} points {'more' if gap >= 0 else 'less'} than customers' "
            f"behaviour shows; only {percent(summary['fcr_strict'])} were both ticked and really "
            "solved."
        )
    if summary["fcr_survey"] is not None:
        parts.append(
            f"In surveys {percent(summary['fcr_survey'])} of customers said their question was "
            f"resolved (n = {summary['fcr_survey_n']:,})."
        )
    if summary["pending_episodes"]:
        parts.append(
            f"{summary['pending_episodes']:,} more questions are too recent to judge (pending)."
        )
    return " ".join(parts)


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """`fcrlab repeats` in the terminal: the ledger, the counts and each rate with its interval."""
    lines = [
        f"rows read {summary['rows_read']}, used {summary['rows_used']}; "
        + ", ".join(f"{k} {v}" for k, v in summary["ledger"].items() if v),
        f"episodes {summary['episodes']} (+{summary['pending_episodes']} pending), "
        f"contacts counted {summary['contacts_counted']}",
    ]
    for name, label in (
        ("fcr", "FCR (behaviour)"),
        ("fcr_flag", "FCR (agent ticked)"),
        ("fcr_strict", "FCR (ticked and no repeat)"),
        ("fcr_survey", "FCR (customer said)"),
        ("repeat_rate", "repeat rate"),
    ):
        low, high = percent(summary[name + "_ci_low"], 1), percent(summary[name + "_ci_high"], 1)
        lines.append(
            f"{label:<28} {percent(summary[name], 1):>7}  [{low} – {high}]  "
            f"n={summary[name + '_n']}"
        )
    return lines


# ---------------------------------------------------------------------------- knowledge gaps
def cells_text(gaps: Gaps) -> str:
    """Which team or agent cells are clearly worse than their peers on a topic."""
    p = gaps.params
    tested = gaps.cells["p_value"].count()
    text = f"Of {tested:,} team and agent cells with at least {p.min_episodes} questions, "
    if not gaps.flagged.height:
        return text + "none has clearly more repeat contacts than its peers on the topic."
    w = gaps.flagged.row(0, named=True)
    return text + (
        f"{gaps.flagged.height} clearly have more repeat contacts than their peers on the same "
        f"topic (false discovery rate {p.fdr:.0%}). The clearest: {w['level']} {w['unit']} on "
        f"{w['topic']}, FCR {percent(w['fcr'])} against {percent(w['peer_fcr'])} for the others "
        f"({w['episodes']:,} questions)."
    )


def mix_text(gaps: Gaps) -> str:
    """Which units have more repeats than their own mix of topics predicts."""
    flagged = gaps.mix_adjusted.filter("flagged")
    teams = gaps.mix_adjusted.filter(pl.col("level") == "team").drop_nulls("ratio")
    text = "Each unit is compared with the repeats its own mix of topics predicts. "
    if teams.height:
        top = teams.sort("ratio", "unit", descending=[True, False]).row(0, named=True)
        text += f"The highest team ratio is {top['unit']}'s, {top['ratio']:.2f}. "
    if not flagged.height:
        return text + "No team or agent lies above the 99.8% limit once its topics are allowed for."
    units = ", ".join(f"{r['level']} {r['unit']}" for r in flagged.iter_rows(named=True))
    return text + f"Above the 99.8% limit even after their topic mix: {units}."


def spikes_text(gaps: Gaps) -> str:
    """Which topics had a week clearly below their usual FCR, and what changed before."""
    if not gaps.spikes.height:
        return "No topic had a week clearly below its usual FCR (below the 99.8% limit)."
    items = "; ".join(
        f"{r['topic']} in {r['week']}: {percent(r['fcr'])} against {percent(r['baseline_fcr'])}"
        + (f" (after: {r['change']})" if r["change"] is not None else "")
        for r in gaps.spikes.iter_rows(named=True)
    )
    return f"{gaps.spikes.height} week(s) fell clearly below their topic's usual FCR: {items}."


def follow_ups_text(gaps: Gaps) -> str:
    """The follow-up question worth answering up front, if any."""
    if not gaps.worth_answering.height:
        return "No follow-up question comes often enough to answer it up front."
    r = gaps.worth_answering.row(0, named=True)
    return (
        f"{gaps.worth_answering.height} follow-up question(s) come often enough to answer up "
        f"front. The most common: after {r['topic']}, {percent(r['share'])} of contacts were "
        f"followed within {format_duration(gaps.params.window)} by {r['next_topic']} "
        f"({r['count']:,})."
    )


def signals_text(gaps: Gaps) -> str:
    """How well the agent's tick, the survey and the effort score predict a repeat."""
    names = {"resolved": "the agent's tick", "survey_resolved": "the survey", "ces": "effort"}
    said = [
        f"{names[r['signal']]} {r['auc']:.2f}"
        for r in gaps.signal_auc.iter_rows(named=True)
        if r["auc"] is not None
    ]
    return (
        "How well each signal tells a question that comes back from one that does not (AUC: "
        f"0.5 is a coin toss, 1.0 perfect): {', '.join(said) or 'no signal recorded'}."
    )


def training_text(gaps: Gaps) -> str:
    """The agent-topic pairs with more repeats than their peers' rate predicts."""
    needs = gaps.training_needs
    if not needs.height:
        return "No agent has more repeats than their peers on a topic they handle often."
    r = needs.row(0, named=True)
    return (
        f"{needs.height} agent-topic pairs have more repeats than their peers' rate predicts, "
        f"{needs['flagged'].sum()} of them clearly (flagged). The largest: {r['agent_id']} on "
        f"{r['topic']}, {r['excess_repeats']:.0f} repeats more than expected."
    )


def gaps_lines(gaps: Gaps) -> list[str]:
    """`fcrlab gaps` in the terminal: the flagged cells, the mix, the spikes, the follow-ups."""
    lines = [cells_text(gaps)]
    lines += [
        f"  {r['level']} {r['unit']} on {r['topic']}: FCR {percent(r['fcr'], 1)} vs peers "
        f"{percent(r['peer_fcr'], 1)}, {r['episodes']} episodes, p = {r['p_value']:.2g}"
        for r in gaps.flagged.iter_rows(named=True)
    ]
    lines += [mix_text(gaps), spikes_text(gaps), follow_ups_text(gaps)]
    lines += [
        f"  {r['topic']} → {r['next_topic']}: {r['count']} ({percent(r['share'], 1)} of "
        f"{r['contacts']})"
        for r in gaps.worth_answering.iter_rows(named=True)
    ]
    return lines


# ---------------------------------------------------------------------------- deflection
def online_first_text(result: Deflection) -> str:
    """How many callers were online first, and on a page about their very question."""
    s = result.summary
    window = result.params.web_window
    channels = " and ".join(result.params.assisted)
    if not s["contacts_judged"]:
        return f"No {channels} contacts could be judged: the web data does not cover them."
    parts = [
        f"Of {s['contacts_judged']:,} {channels} contacts we could judge, "
        f"{percent(s['share_online_first'])} (95% interval {percent(s['ci_low'])}–"
        f"{percent(s['ci_high'])}) came from a customer who had been on the website in the "
        f"{_hours(window)} before, and {percent(s['same_question_share'])} had read a page about "
        "the very question they then called about: a question the site did not answer."
    ]
    if s["pilot_share_n"]:
        parts.append(
            f"Agents logged 'online first' on {percent(s['pilot_share'])} of "
            f"{s['pilot_share_n']:,} calls in the pilot (interval "
            f"{percent(s['pilot_share_ci_low'])}–{percent(s['pilot_share_ci_high'])})."
        )
        if s["agreement_n"]:
            kappa = "n/a" if s["kappa"] is None else f"{s['kappa']:.2f}"
            parts.append(
                f"On the {s['agreement_n']:,} logged calls the web data could judge, agent and "
                f"data agree {percent(s['agreement'])} of the time (Cohen's kappa {kappa})."
            )
    return " ".join(parts)


def pages_text(result: Deflection, top: int = 3) -> str:
    """The pages after which most people call, and the help page with the highest call rate."""
    ranking = result.ranking
    if ranking.height == 0:
        return "No page views could be judged."
    window = _hours(result.params.web_window)
    busiest = ", ".join(
        f"{r['page']} ({r['followed_by_call']:,} of {r['views']:,} views)"
        for r in ranking.head(top).iter_rows(named=True)
    )
    parts = [f"Most calls within {window} of a page view follow a view of {busiest}."]
    mapped = ranking.filter(pl.col("topic").is_not_null()).sort(
        "call_rate", "page", descending=[True, False]
    )
    if mapped.height:
        worst = mapped.row(0, named=True)
        parts.append(
            f"Of the pages that answer a question, {worst['page']} sends the largest share of its "
            f"readers to the phone: {percent(worst['call_rate'])} of {worst['views']:,} views "
            f"were followed by a call (95% interval {percent(worst['ci_low'])}–"
            f"{percent(worst['ci_high'])})."
        )
    return " ".join(parts)


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f} points"


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f}"


def change_text(change: Mapping[str, Any] | None) -> str:
    """What the page change did, with its intervals, in plain words."""
    if change is None:
        return "No page change was given (parameter change: page and date)."
    if change["diff"] is None:
        return (
            f"The change of {change['page']} on {change['date']} cannot be measured here: the "
            "judged views do not fall on both sides of its date."
        )
    text = (
        f"Before the change of {change['page']} on {change['date']}, "
        f"{percent(change['before_rate'], 1)} of its {change['before_views']:,} views were "
        f"followed by a call; after it {percent(change['after_rate'], 1)} of "
        f"{change['after_views']:,}: {_points(change['diff'])} (95% interval "
        f"{_signed(change['ci_low'])} to {_signed(change['ci_high'])})."
    )
    if change["did"] is not None:
        text += (
            f" The other help pages moved {_points(change['others_diff'])} over the same time, so "
            f"the change itself accounts for {_points(change['did'])} (difference-in-differences, "
            f"interval {_signed(change['did_ci_low'])} to {_signed(change['did_ci_high'])})."
        )
    return text


def money_text(worth: Mapping[str, Any]) -> str:
    """The money with its assumptions, or why there is none."""
    a = worth["assumptions"]
    if worth["savings_per_year"] is None:
        return f"No money figure: {a['money']}."
    text = (
        f"At {a['calls_per_week']:,.0f} calls a week, of which "
        f"{percent(a['same_question_share'], 1)} had read a page about their question, a page "
        f"improvement that saves {percent(a['expected_reduction'], 1)} of those calls at "
        f"€{a['cost_per_call']:.2f} a call is worth about €{worth['savings_per_year']:,.0f} a "
        "year."
    )
    if worth["change_value_per_year"] is not None:
        text += (
            f" The measured page change is worth about €{worth['change_value_per_year']:,.0f} a "
            f"year ({a['change_views_per_week']:,.0f} views a week)."
        )
    else:
        text += f" The measured page change: {a['change_value']}."
    return text


def assumptions_table(worth: Mapping[str, Any]) -> pl.DataFrame:
    """The money and every assumption behind it, one readable row each (W7, W12; euros)."""
    a = worth["assumptions"]

    def number(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    shares = ", ".join(f"{c} {percent(s)}" for c, s in a["channel_shares"].items())
    costs = a["cost_per_contact"]
    rows = [
        ("judged calls", number(a["judged_calls"], ",d")),
        ("weeks", number(a["weeks"], ".1f")),
        ("calls per week", number(a["calls_per_week"], ",.1f")),
        ("share about a question a page answers", percent(a["same_question_share"], 1)),
        ("expected reduction (parameter)", percent(a["expected_reduction"], 1)),
        *(
            [("cost per contact (parameter)", "not given")]
            if costs is None
            else [(f"cost per {c} contact (parameter)", f"{v:.2f}") for c, v in costs.items()]
        ),
        ("calls by channel", shares or "none"),
        ("cost per call", number(a["cost_per_call"], ".2f")),
        ("weeks per year", str(a["weeks_per_year"])),
        ("savings per year", number(worth["savings_per_year"], ",.0f")),
        ("why", a["money"]),
        ("page change: views per week after", number(a["change_views_per_week"], ",.1f")),
        ("page change: value per year", number(worth["change_value_per_year"], ",.0f")),
        ("page change: why", a["change_value"]),
    ]
    return pl.DataFrame(rows, schema={"assumption": pl.String, "value": pl.String}, orient="row")


def deflection_lines(result: Deflection) -> list[str]:
    """`fcrlab deflection` in the terminal: the ledgers, who was online first, the pages, the
    page change and the money."""
    lines = [
        f"{side}: " + ", ".join(f"{k} {v}" for k, v in book.items() if v)
        for side, book in result.ledger.items()
    ]
    return [
        *lines,
        online_first_text(result),
        pages_text(result),
        change_text(result.change),
        money_text(result.money),
    ]
