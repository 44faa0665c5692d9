"""Online-to-phone deflection: which callers were on the site first, and which pages send people
to the phone (SPEC §3 `fcrlab deflection`, decisions W1–W13).

Page views outnumber contacts many times, so nothing here is a cross join: every time question
is a *merge sweep* (`fcrlab.engine.sweep`). The analysis on top is plain polars: who was
online first (`callers`), page call rates with cluster-robust intervals (`pages`), a page
change's before/after and difference-in-differences, and the money (`impact`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

import polars as pl

from fcrlab.engine.repeats import (
    CONTACT_FIELDS,
    LABEL_COLUMNS,
    REASONS,
    Labels,
    labels_of,
    observed_until,
)
from fcrlab.engine.sweep import calls_and_views
from fcrlab.online.callers import callers_summary, pilot_plan, shares
from fcrlab.online.impact import money, page_change
from fcrlab.online.pages import cluster_rates, matrix
from fcrlab.params import Params
from fcrlab.read.clock import local_date
from fcrlab.read.contacts import Contacts
from fcrlab.read.web import WebVisits, page_topic_expr
from fcrlab.version import version

__all__ = [
    "CONTACT_REASONS",
    "PAGE_COLUMNS",
    "PER_CONTACT_COLUMNS",
    "VIEW_REASONS",
    "Deflection",
    "deflection",
    "ledger_table",
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
_LABELS_READ = (*LABEL_COLUMNS, *CONTACT_FIELDS)


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
    params: Params

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
        out["params"] = self.params.to_dict()
        out["fcrlab_version"] = version()
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
    data: Contacts | Labels,
    params: Params | None = None,
    *,
    visits: WebVisits,
    page_topics: pl.DataFrame,
) -> Deflection:
    """SPEC §3 `fcrlab deflection` over the counted assisted contacts (decisions W1–W13).

    `data` is contacts (labelled here) or their labels (`label_repeats(contacts, params,
    contact_fields=True)`); `visits` from `load_web_visits`, `page_topics` from
    `load_page_topics`.
    """
    params = params or Params()
    labels = labels_of(data, params, _LABELS_READ).lazy().collect()
    until = observed_until(labels, params)
    web_first, web_last = visits.frame["visited_at"].min(), visits.frame["visited_at"].max()
    calls, contact_rows = _contact_side(labels, params, web_first, web_last)
    contact_first = labels["started_at"].dt.convert_time_zone("UTC").min()
    view_rows = _view_side(visits, params, contact_first, until)

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
    summary = callers_summary(per_contact, calls, judged, views, params)
    change, change_weekly = page_change(change_views, params)
    worth = money(per_contact, summary, change, params)
    return Deflection(
        per_contact=per_contact,
        pages=pages.select(PAGE_COLUMNS),
        ranking=ranking,
        by_topic=shares(per_contact, "topic"),
        by_week=shares(
            per_contact.with_columns(week=pl.col("started_at").dt.strftime("%G-W%V")), "week"
        ),
        matrix=matrix(views, pages, page_map, calls["topic"]),
        change_weekly=change_weekly,
        pilot_plan=pilot_plan(summary),
        summary=summary,
        change=change,
        money=worth,
        ledger=ledger,
        params=params,
    )


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
