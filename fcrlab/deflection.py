"""Online-to-phone deflection: which callers were on the site first, and which pages send people
to the phone (SPEC §3 `fcrlab deflection`, decisions W1–W13).

Page views outnumber contacts many times, so nothing here is a cross join: every time question
is a *merge sweep* (`fcrlab.engine.sweep`). The analysis on top is plain polars: shares with Wilson
intervals, page call rates with cluster-robust intervals (a customer's views are one cluster),
a page change's before/after and difference-in-differences, and the money.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

import polars as pl

from fcrlab import __version__
from fcrlab.engine.repeats import LABEL_COLUMNS, REASONS, label_repeats, observed_until
from fcrlab.engine.sweep import calls_and_views
from fcrlab.impact import cluster_rates, money, page_change
from fcrlab.params import Params, parse_duration
from fcrlab.read.clock import local_date
from fcrlab.read.contacts import Contacts
from fcrlab.read.web import WebVisits, load_page_topics, load_web_visits, page_topic_expr
from fcrlab.stats import Z95, rate_summary, wilson_exprs, wilson_interval

__all__ = [
    "CONTACT_REASONS",
    "PER_CONTACT_COLUMNS",
    "VIEW_REASONS",
    "Deflection",
    "answers_expr",
    "deflection",
    "headline",
    "ledger_table",
    "load_page_topics",
    "load_web_visits",
    "pages_text",
    "pilot_size",
    "shares_long",
]

# Decisions W8: the ledgers, in the order the reasons are tested.
CONTACT_REASONS = (*REASONS, "not_assisted", "outside_web_span")
VIEW_REASONS = ("duplicate", "anonymous", "outside_period", "outside_contact_span")
PER_CONTACT_COLUMNS = (
    *LABEL_COLUMNS[:6],  # source_row … topic, as `fcrlab repeats` writes them
    "online_before",
    "last_page",
    "minutes_since_web",
    "same_question",
    "same_family",
)
PAGE_COLUMNS = ("page", "views", "followed_by_call", "call_rate", "ci_low", "ci_high")
PILOT_MARGINS = (0.01, 0.02, 0.03, 0.05, 0.10)


def pilot_size(share: float, margin: float) -> int:
    """Calls a pilot needs to estimate a share to ± `margin` at 95 % (decisions W10)."""
    if not 0 < margin < 1:
        raise ValueError("margin must be between 0 and 1")
    return max(1, math.ceil(Z95 * Z95 * share * (1 - share) / (margin * margin)))


def answers_expr(page_topic: pl.Expr, contact_topic: pl.Expr) -> pl.Expr:
    """SPEC §3 / decisions W2: a page's topic answers a contact topic when it is that topic or a
    level above it (`tv` answers `tv/no-signal`, not `tvx`); false when either is empty."""
    same = page_topic == contact_topic
    above = contact_topic.str.starts_with(page_topic + "/")
    return (same | above).fill_null(False)


# ---------------------------------------------------------------------------- the result
@dataclasses.dataclass(frozen=True)
class Deflection:
    """Everything `fcrlab deflection` reports; frames are sorted, so outputs are stable."""

    per_contact: pl.DataFrame  # judged contacts (W4), PER_CONTACT_COLUMNS, by source_row
    pages: pl.DataFrame  # per page: PAGE_COLUMNS, most calls first
    ranking: pl.DataFrame  # pages with their topic, rate and volume, most calls first
    by_topic: pl.DataFrame  # shares online first / same question per contact topic
    by_week: pl.DataFrame  # the same per ISO week
    matrix: pl.DataFrame  # page × contact topic (W9)
    change_weekly: pl.DataFrame  # weekly call rate of the changed page and the others (W6)
    pilot_plan: pl.DataFrame  # calls and agent-days per margin (W10)
    summary: dict[str, Any]  # headline shares, pilot, agreement
    change: dict[str, Any] | None  # before/after, diff and did with intervals (W6)
    money: dict[str, Any]  # savings_per_year and every assumption beside it (W7, W12)
    ledger: dict[str, dict[str, int]]  # {"contacts": {...}, "views": {...}} (W8)
    params: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """SPEC §3 `--json`: one JSON-ready object (floats rounded to 12 significant digits)."""
        out: dict[str, Any] = {**self.summary}
        out["topics"] = self.by_topic.to_dicts()
        out["pages"] = self.pages.select(PAGE_COLUMNS).to_dicts()
        out["pilot_plan"] = self.pilot_plan.to_dicts()
        out["change"] = self.change
        out["savings_per_year"] = self.money["savings_per_year"]
        out["change_value_per_year"] = self.money["change_value_per_year"]
        out["assumptions"] = self.money["assumptions"]
        out["ledger"] = self.ledger
        out["params"] = self.params
        out["fcrlab_version"] = __version__
        return _plain(out)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.12g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------- statistics
def _shares(per_contact: pl.DataFrame, by: str) -> pl.DataFrame:
    """Shares of judged contacts online first / with a same-question view, per `by`."""
    table = per_contact.group_by(by).agg(
        contacts=pl.len(),
        online_before=pl.col("online_before").sum(),
        same_question=pl.col("same_question").sum(),
    )
    low, high = wilson_exprs(pl.col("online_before"), pl.col("contacts"))
    sq_low, sq_high = wilson_exprs(pl.col("same_question"), pl.col("contacts"))
    return table.with_columns(
        share_online_first=pl.col("online_before") / pl.col("contacts"),
        ci_low=low,
        ci_high=high,
        same_question_share=pl.col("same_question") / pl.col("contacts"),
        same_question_ci_low=sq_low,
        same_question_ci_high=sq_high,
    ).sort(by, nulls_last=True)


def _kappa(a: pl.Series, b: pl.Series) -> tuple[float | None, float | None]:
    """Agreement share and Cohen's kappa of two yes/no series (decisions W10)."""
    n = a.len()
    if n == 0:
        return None, None
    p_o = float((a == b).sum()) / n
    pa, pb = float(a.sum()) / n, float(b.sum()) / n
    p_e = pa * pb + (1 - pa) * (1 - pb)
    return p_o, (p_o - p_e) / (1 - p_e) if p_e < 1 else None


# ---------------------------------------------------------------------------- judging (W1, W4, W8)
def _contact_side(
    labels: pl.DataFrame, params: Params, web_first: Any, web_last: Any
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All counted assisted contacts (the calls that can follow a view, any period: W1), and
    every contact row with its deflection ledger reason (W8)."""
    assisted = list(params.assisted)
    rows = labels.with_columns(pl.col("started_at").dt.convert_time_zone("UTC"))
    reason = pl.col("excluded_reason")
    reason = reason.fill_null(
        pl.when(~pl.col("channel").is_in(assisted)).then(pl.lit("not_assisted"))
    )
    if web_first is None:
        inside = pl.lit(False)
    else:
        start = pl.col("started_at")
        inside = (start - params.web_window >= web_first) & (start <= web_last)
    rows = rows.with_columns(
        reason=reason.fill_null(pl.when(~inside).then(pl.lit("outside_web_span")))
    )
    calls = rows.filter(pl.col("counted") & pl.col("channel").is_in(assisted))
    return calls, rows


def _view_side(visits: WebVisits, params: Params, contact_first: Any, until: Any) -> pl.DataFrame:
    """Every web row with its ledger reason (W8) and its local date."""
    frame = visits.frame.with_columns(day=local_date(pl.col("visited_at"), params.timezone))
    reason = (
        pl.when(pl.col("duplicate"))
        .then(pl.lit("duplicate"))
        .when(pl.col("customer_id").is_null())
        .then(pl.lit("anonymous"))
    )
    if params.period is not None:
        outside = (pl.col("day") < params.period.start) | (pl.col("day") >= params.period.end)
        reason = reason.when(outside).then(pl.lit("outside_period"))
    seen = pl.col("visited_at")
    inside = (seen >= contact_first) & (seen + params.web_window <= until)
    reason = reason.when(~inside).then(pl.lit("outside_contact_span"))
    return frame.with_columns(reason=reason, in_span=inside)


def _count(rows: pl.DataFrame, reasons: tuple[str, ...], used: str) -> dict[str, int]:
    counts = dict(rows.group_by("reason").len().drop_nulls("reason").iter_rows())
    out = {"rows_read": rows.height, used: int(rows["reason"].null_count())}
    out.update({reason: int(counts.get(reason, 0)) for reason in reasons})
    return out


# ---------------------------------------------------------------------------- public
def deflection(
    contacts: Contacts,
    visits: WebVisits,
    page_topics: pl.DataFrame | None,
    params: Params | None = None,
    labels: pl.DataFrame | None = None,
) -> Deflection:
    """SPEC §3 `fcrlab deflection` over the counted assisted contacts (decisions W1–W13).

    `page_topics` comes from `load_page_topics` (None: `params.page_topics`); `labels` from
    `label_repeats(contacts, params, contact_fields=True)` when already at hand.
    """
    params = params or Params()
    if labels is None:
        labels = label_repeats(contacts, params, contact_fields=True)
    if page_topics is None:
        page_topics = load_page_topics(None, params)
    until = observed_until(contacts, params)
    web_first, web_last = visits.frame["visited_at"].min(), visits.frame["visited_at"].max()
    calls, contact_rows = _contact_side(labels, params, web_first, web_last)
    view_rows = _view_side(visits, params, contacts.frame["started_at"].min(), until)

    ledger = {
        "contacts": _count(contact_rows, CONTACT_REASONS, "judged"),
        "views": _count(view_rows, VIEW_REASONS, "judged"),
    }

    # One sweep over every call and every known view answers both time questions (W1, W8);
    # the judged contacts and views are then taken from the answers.
    known = view_rows.filter(~pl.col("duplicate") & pl.col("customer_id").is_not_null())
    per_call, per_view = calls_and_views(calls, known, params.web_window, page_topics)
    calls = calls.with_columns(per_call)
    judged = calls.filter(pl.col("reason").is_null())
    per_contact = (
        judged.select(PER_CONTACT_COLUMNS)
        .with_columns(pl.col("started_at").dt.convert_time_zone(params.timezone))
        .sort("source_row")
    )
    page_map = (
        known.select(pl.col("page").unique())
        .with_columns(page_topic=page_topic_expr(pl.col("page"), page_topics))
        .sort("page")
    )
    mapped_pages = page_map.filter(pl.col("page_topic").is_not_null())["page"]
    changed_page = params.change.page if params.change is not None else None
    # Only what the page statistics need, small: the page as an Enum code, the customer (one
    # cluster, W5) as a hash.
    views = known.select(
        "day",
        "reason",
        page=pl.col("page").cast(pl.Enum(page_map["page"])),
        cluster=pl.col("customer_id").hash(seed=7),
        mapped=pl.col("page").is_in(mapped_pages.implode()),
        changed=(pl.col("page") == changed_page) if changed_page else pl.lit(False),
        in_span="in_span",
    ).with_columns(per_view.select("followed_by_call", "call_row"))
    # W14: the page change looks at every judged view, in the period or not.
    change_views = views.filter("in_span").drop("reason", "in_span")
    views = views.filter(pl.col("reason").is_null()).drop("reason", "in_span")
    pages = (
        cluster_rates(views, ["page"])
        .with_columns(pl.col("page").cast(pl.String))
        .sort("followed_by_call", "page", descending=[True, False])
    )
    total_calls = max(1, int(pages["followed_by_call"].sum()))
    ranking = pages.join(page_map, on="page", how="left", maintain_order="left").select(
        "page",
        topic="page_topic",
        views="views",
        followed_by_call="followed_by_call",
        share_of_calls=pl.col("followed_by_call") / total_calls,
        call_rate="call_rate",
        ci_low="ci_low",
        ci_high="ci_high",
        customers="customers",
    )
    summary = _summary(per_contact, calls, judged, views, params)
    change, change_weekly = page_change(change_views, params)
    worth = money(per_contact, summary, change, params)
    return Deflection(
        per_contact=per_contact,
        pages=pages.select(PAGE_COLUMNS),
        ranking=ranking,
        by_topic=_shares(per_contact, "topic"),
        by_week=_shares(
            per_contact.with_columns(week=pl.col("started_at").dt.strftime("%G-W%V")), "week"
        ),
        matrix=_matrix(views, pages, page_map, calls["topic"]),
        change_weekly=change_weekly,
        pilot_plan=_pilot_plan(summary),
        summary=summary,
        change=change,
        money=worth,
        ledger=ledger,
        params=params.to_dict(),
    )


def _summary(
    per_contact: pl.DataFrame,
    calls: pl.DataFrame,
    judged: pl.DataFrame,
    views: pl.DataFrame,
    params: Params,
) -> dict[str, Any]:
    n = per_contact.height
    online = int(per_contact["online_before"].sum())
    low, high = wilson_interval(online, n)
    out: dict[str, Any] = {
        "contacts_judged": n,
        "online_before": online,
        "share_online_first": online / n if n else None,
        "ci_low": low,
        "ci_high": high,
    }
    out.update(rate_summary("same_question_share", int(per_contact["same_question"].sum()), n))
    out.update(rate_summary("same_family_share", int(per_contact["same_family"].sum()), n))
    followed = int(views["followed_by_call"].sum())
    out.update(views_judged=views.height, views_followed_by_call=followed)
    out["view_call_rate"] = followed / views.height if views.height else None
    # Decisions W10: the agent-logged pilot flag, and how well it agrees with the data.
    period_calls = calls.filter(pl.col("excluded_reason").is_null())
    logged = period_calls["online_first"].drop_nulls()
    out.update(rate_summary("pilot_share", int(logged.sum()), logged.len()))
    both = pl.DataFrame(
        {"flag": judged["online_first"], "data": per_contact["same_question"]}
    ).drop_nulls()
    agreement, kappa = _kappa(both["flag"], both["data"])
    out.update(agreement=agreement, agreement_n=both.height, kappa=kappa)
    agents = period_calls.filter(pl.col("agent_id").is_not_null())
    pairs = agents.select(
        pl.struct("agent_id", local_date(pl.col("started_at"), params.timezone)).n_unique()
    ).item()
    out["calls_per_agent_day"] = agents.height / pairs if pairs else None
    return out


def _pilot_plan(summary: dict[str, Any]) -> pl.DataFrame:
    """Decisions W10: calls (and agents × days) to estimate the share to ± each margin."""
    share = summary["same_question_share"]
    share = 0.5 if share is None else share
    per_day = summary["calls_per_agent_day"]
    rows = []
    for margin in PILOT_MARGINS:
        calls = pilot_size(share, margin)
        rows.append(
            {
                "margin": margin,
                "assumed_share": share,
                "calls": calls,
                "agent_days": math.ceil(calls / per_day) if per_day else None,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "margin": pl.Float64,
            "assumed_share": pl.Float64,
            "calls": pl.Int64,
            "agent_days": pl.Int64,
        },
    )


def _matrix(
    views: pl.DataFrame, pages: pl.DataFrame, page_map: pl.DataFrame, call_topics: pl.Series
) -> pl.DataFrame:
    """Decisions W9: per page and topic of the first call after a view, calls and share."""
    followed = views.filter(pl.col("followed_by_call"))
    cells = (
        followed.select("page", call_topic=call_topics.gather(followed["call_row"]))
        .group_by("page", "call_topic")
        .agg(calls=pl.len())
        .with_columns(pl.col("page").cast(pl.String))
    )
    return (
        cells.join(pages.select("page", "views"), on="page", how="left")
        .join(page_map, on="page", how="left")
        .with_columns(
            share=pl.col("calls") / pl.col("views"),
            answers=answers_expr(pl.col("page_topic"), pl.col("call_topic")),
        )
        .select("page", "page_topic", "call_topic", "calls", "views", "share", "answers")
        .sort("page", "call_topic", nulls_last=True)
    )


# ---------------------------------------------------------------------------- plain words
def _pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"


def headline(result: Deflection) -> str:
    """How many callers were online first, in plain words (for the notebook and the CLI)."""
    s = result.summary
    window = result.params["web_window"]
    channels = " and ".join(result.params["assisted"])
    if not s["contacts_judged"]:
        return f"No {channels} contacts could be judged: the web data does not cover them."
    parts = [
        f"Of {s['contacts_judged']:,} {channels} contacts we could judge, "
        f"{_pct(s['share_online_first'])} (95% interval {_pct(s['ci_low'])}–"
        f"{_pct(s['ci_high'])}) came from a customer who had been on the website in the "
        f"{_hours(window)} before, and {_pct(s['same_question_share'])} had read a page about "
        "the very question they then called about: a question the site did not answer."
    ]
    if s["pilot_share_n"]:
        parts.append(
            f"Agents logged 'online first' on {_pct(s['pilot_share'])} of "
            f"{s['pilot_share_n']:,} calls in the pilot (interval {_pct(s['pilot_share_ci_low'])}–"
            f"{_pct(s['pilot_share_ci_high'])})."
        )
        if s["agreement_n"]:
            kappa = "n/a" if s["kappa"] is None else f"{s['kappa']:.2f}"
            parts.append(
                f"On the {s['agreement_n']:,} logged calls the web data could judge, agent and "
                f"data agree {_pct(s['agreement'])} of the time (Cohen's kappa {kappa})."
            )
    return " ".join(parts)


def pages_text(result: Deflection, top: int = 3) -> str:
    """The pages after which most people call, and the help page with the highest call rate."""
    ranking = result.ranking
    if ranking.height == 0:
        return "No page views could be judged."
    window = _hours(result.params["web_window"])
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
            f"readers to the phone: {_pct(worst['call_rate'])} of {worst['views']:,} views were "
            f"followed by a call (95% interval {_pct(worst['ci_low'])}–{_pct(worst['ci_high'])})."
        )
    return " ".join(parts)


def _hours(window: str) -> str:
    hours = parse_duration(window).total_seconds() / 3600
    return f"{hours:g} hours" if hours != 1 else "1 hour"


# ---------------------------------------------------------------------------- tables to show
_MEASURES = {
    "share_online_first": ("on the site (any page)", "ci_low", "ci_high"),
    "same_question_share": (
        "read a page about the question",
        "same_question_ci_low",
        "same_question_ci_high",
    ),
}


def shares_long(table: pl.DataFrame, by: str = "topic") -> pl.DataFrame:
    """`Deflection.by_topic` (or `.by_week`) as one row per (`by`, measure), for a chart."""
    parts = [
        table.select(
            by,
            "contacts",
            measure=pl.lit(label),
            share=pl.col(share),
            ci_low=pl.col(low),
            ci_high=pl.col(high),
        )
        for share, (label, low, high) in _MEASURES.items()
    ]
    return pl.concat(parts).sort(by, "measure", nulls_last=True)


def ledger_table(result: Deflection) -> pl.DataFrame:
    """Contact and web rows read, judged and left out per reason (decisions W8)."""
    rows = []
    for side, book in result.ledger.items():
        for key, count in book.items():
            label = key.replace("_", " ") if key in ("rows_read", "judged") else f"left out: {key}"
            rows.append((side, label, count))
    return pl.DataFrame(
        rows, schema={"data": pl.String, "rows": pl.String, "count": pl.Int64}, orient="row"
    )
