"""Reading web page views and the page → topic map (SPEC §1 `web_visits`, `page_topics`).

The canonical visits frame has `source_row` (1-based over the data rows read), `customer_id`
(null = anonymous), `visited_at` (a UTC instant), `page` (trimmed) and `duplicate` (an exact copy
of an earlier row). Nothing is dropped here: every row read reaches the deflection ledger
(decisions W8). Timestamps, `columns:` mapping and error messages follow the contacts loader.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from fcrlab.errors import InputError, ParamsError, quote
from fcrlab.params import Params
from fcrlab.read._columns import (
    check,
    check_instants,
    exact_copies,
    id_text,
    instants,
    label_text,
    map_columns,
    refuse_nested,
    require,
    text,
)
from fcrlab.read.clock import UTC_TYPE
from fcrlab.read.files import Loaded, Locator, Table, expected, read_table

__all__ = [
    "VISIT_SCHEMA",
    "WebVisits",
    "load_page_topics",
    "load_web_visits",
    "page_topic_expr",
    "topic_of_page",
    "web_visits_from_frame",
]

VISIT_SCHEMA: dict[str, pl.DataType] = {
    "source_row": pl.Int64(),
    "customer_id": pl.String(),
    "visited_at": UTC_TYPE,
    "page": pl.String(),
    "duplicate": pl.Boolean(),
}
_REQUIRED = ("customer_id", "visited_at", "page")


@dataclasses.dataclass(frozen=True)
class WebVisits(Loaded):
    """Page views as read: the canonical frame and where it came from."""


def web_visits_from_frame(
    raw: pl.DataFrame, params: Params, *, origin: Table | None = None
) -> WebVisits:
    """Normalise a raw page-view frame (columns as in the export) into the canonical frame;
    `origin` is the table it was read as, for error messages and the ledger."""
    origin = origin or Table(raw, ("<frame>",), (raw.height,), "<frame>")
    where, file_label = origin.locator(), origin.label
    if raw.height == 0:
        raise InputError("has a header but no data rows", file=file_label)
    frame = map_columns(raw, params, _REQUIRED, file_label)
    refuse_nested(frame, _REQUIRED, file_label)
    require(_REQUIRED, frame.columns, raw.columns, file_label)
    raw_columns = list(frame.columns)
    frame = frame.with_row_index("source_row", offset=1).with_columns(
        pl.col("source_row").cast(pl.Int64)
    )
    visited, _ = instants(frame, "visited_at", params)
    canonical = frame.select(
        "source_row",
        customer_id=id_text(frame, "customer_id"),
        visited_at=pl.lit(visited),
        page=text("page"),
    )
    both = canonical.with_columns(
        __raw_visited_at=frame["visited_at"], __raw_page=frame["page"].cast(pl.String)
    )
    check_instants(both, "visited_at", params, where)
    check(both, pl.col("page").is_null(), "__raw_page", "empty page", "page", where)
    canonical = canonical.with_columns(duplicate=exact_copies(frame.select(raw_columns)))
    return WebVisits(
        frame=canonical.select(list(VISIT_SCHEMA)),
        source=origin.source,
        files=origin.files,
        rows_per_file=origin.rows_per_file,
    )


def load_web_visits(path: str | Path, params: Params | None = None) -> WebVisits:
    """Read page views (CSV, Parquet, .xlsx or a glob of them) into canonical web visits."""
    params = params or Params()
    table = read_table(path, params, expected(params, _REQUIRED, _REQUIRED))
    return web_visits_from_frame(table.frame, params, origin=table)


# ---------------------------------------------------------------------------- page topics
_PAGE_TOPIC_SCHEMA = {"page": pl.String, "topic": pl.String, "is_prefix": pl.Boolean}


def load_page_topics(
    source: str | Path | Mapping[str, str] | Sequence[tuple[str, str]] | None,
    params: Params | None = None,
) -> pl.DataFrame:
    """Which page answers which contact reason: `page, topic, is_prefix` sorted by page.

    `source` is a CSV/Parquet/.xlsx file with columns page and topic, a mapping
    `{"/help/invoice": "billing/invoice", "/help/tv/*": "tv"}`, or None for `params.page_topics`.
    A page ending in `*` is a prefix (decisions W3, W13).
    """
    params = params or Params()
    if source is None:
        source = params.page_topics
    if source is None:
        raise ParamsError(
            "no page_topics given (a file or a mapping page: topic)", key="page_topics"
        )
    if isinstance(source, (Mapping, tuple, list)):
        pairs = list(source.items()) if isinstance(source, Mapping) else list(source)
        label = "page_topics"
        raw = pl.DataFrame(
            {"page": [str(p) for p, _ in pairs], "topic": [str(t) for _, t in pairs]},
            schema={"page": pl.String, "topic": pl.String},
        )
        where = Locator([label], [raw.height], label)
    else:
        table = read_table(str(source), params)
        label = table.label
        raw = map_columns(table.frame, params, ("page", "topic"), label)
        where = table.locator()
        require(("page", "topic"), raw.columns, table.frame.columns, label)
    # NFC like the contacts' topics (SPEC §6.8 item 11), so a topic typed two ways still matches.
    frame = raw.with_row_index("source_row", offset=1).with_columns(
        pl.col("source_row").cast(pl.Int64), page=label_text("page"), topic=label_text("topic")
    )
    both = frame.with_columns(__raw_page=raw["page"].cast(pl.String))
    check(both, pl.col("page").is_null(), "__raw_page", "empty page", "page", where)
    check(
        both, pl.col("topic").is_null(), "__raw_page", "empty topic for this page", "topic", where
    )
    conflicts = (
        frame.group_by("page")
        .agg(pl.col("topic").n_unique().alias("n"), pl.col("source_row"), pl.col("topic"))
        .filter(pl.col("n") > 1)
        .sort("page")
    )
    if conflicts.height:
        first = conflicts.row(0, named=True)
        where.raise_for(
            f"page {quote(first['page'])} is mapped to different topics (one topic per page)",
            "topic",
            sorted(first["source_row"]),
            sorted(set(first["topic"])),
        )
    return (
        frame.unique("page")
        .select(
            page="page",
            topic="topic",
            is_prefix=pl.col("page").str.ends_with("*"),
        )
        .sort("page")
    )


def page_topic_expr(page: pl.Expr, page_topics: pl.DataFrame) -> pl.Expr:
    """The topic a page answers (decisions W3): the exact page wins, then the longest prefix;
    null when none. Apply it to distinct pages: it is a chain of `starts_with` per prefix."""
    exact = page_topics.filter(~pl.col("is_prefix"))
    prefixes = page_topics.filter(pl.col("is_prefix")).with_columns(
        prefix=pl.col("page").str.slice(0, pl.col("page").str.len_chars() - 1)
    )
    result: pl.Expr = pl.lit(None, dtype=pl.String)
    # Built from the shortest prefix up, so the longest matching prefix is tested first.
    ordered = prefixes.sort(pl.col("prefix").str.len_chars(), "prefix")
    for prefix, topic in ordered.select("prefix", "topic").iter_rows():
        result = pl.when(page.str.starts_with(prefix)).then(pl.lit(topic)).otherwise(result)
    if exact.height:
        mapped = page.replace_strict(
            dict(exact.select("page", "topic").iter_rows()), default=None, return_dtype=pl.String
        )
        result = pl.coalesce(mapped, result)
    return result


def topic_of_page(page: str, page_topics: pl.DataFrame) -> str | None:
    """The topic one page answers (decisions W3), or None: `page_topic_expr` on one value."""
    return pl.select(page_topic_expr(pl.lit(page, dtype=pl.String), page_topics)).item()
