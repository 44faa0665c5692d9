"""Knowledge gaps (SPEC §3 `fcrlab gaps`, decisions G1–G10): where customers keep coming back.

Per topic and team/agent the FCR against the unit's peers (an exact one-sided test, then
Benjamini–Hochberg over all tested cells) and shrunk toward the topic's rate; per unit the
topic-mix-adjusted observed/expected repeats with funnel limits; weekly FCR per topic against
its trailing baseline (binomial p-chart); the follow-up question that usually comes next; and
how well the agent's tick, the survey and CES predict a repeat.

Fast on tens of millions of contacts: one lazy query aggregates the episodes ONCE at (topic,
team, agent, week) and every table is rolled up from that small frame; the follow-up pass
value-sorts one packed 64-bit number per contact (customer hash, second, topic code) and
reads each contact's next one off its neighbour, with an exact string sort for the few
customers the packing cannot tell apart.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import numpy as np
import polars as pl

from fcrlab import __version__
from fcrlab.engine.repeats import label_repeats, observed_until
from fcrlab.errors import InputError, ParamsError
from fcrlab.followups import follow_ups
from fcrlab.params import Params, format_duration
from fcrlab.read.clock import to_utc_instant
from fcrlab.read.contacts import Contacts
from fcrlab.read.files import read_table
from fcrlab.stats import (
    auc_from_counts,
    auc_interval,
    benjamini_hochberg,
    beta_binomial_strength,
    binomial_lower_limit,
    binomial_p_at_most,
    fisher_p_worse,
    poisson_limits,
    prefetch_scipy,
    shrink_rates,
)

__all__ = [
    "INPUT_COLUMNS",
    "Gaps",
    "describe",
    "funnel_curve",
    "knowledge_gaps",
    "next_questions",
    "worst_weeks",
]


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# The columns of `label_repeats(..., contact_fields=True)` that this analysis reads.
INPUT_COLUMNS = _names(
    "contact_id customer_id started_at topic team agent_id counted in_period is_repeat "
    "pending first_contact_fix resolved survey_resolved ces"
)
_CELLS = _names(
    "level unit topic episodes fixes fcr peer_fcr expected_repeats observed_repeats shrunk_fcr "
    "p_value flagged"
)
_MIX = _names(
    "level unit episodes observed_repeats expected_repeats ratio low95 high95 low998 high998 "
    "flagged"
)
_WEEKLY = _names(
    "topic week week_start episodes fixes fcr baseline_fcr lower_limit spike change change_date"
)
_SPIKE_P = 0.001  # G5: the lower 99.8 % p-chart limit
_BASELINE_WEEKS, _MIN_BASELINE_WEEKS, _CHANGE_WEEKS = 8, 4, 8  # G5
_US_SECOND, _US_DAY = 1_000_000, 86_400_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Gaps:
    """The knowledge-gaps tables of SPEC §3, each sorted (notebooks stay deterministic).

    Each table is worked out when first asked for, then kept: `gaps.cells` alone (what
    `fcrlab gaps --out` writes) needs one aggregation of the episodes, not the follow-up pass
    over every contact. The labels may be a LazyFrame (`pl.scan_parquet` of `fcrlab repeats`
    output): each table then reads only the columns it needs.
    """

    def __init__(
        self, labels: pl.DataFrame | pl.LazyFrame, params: Params, until: dt.datetime | None
    ) -> None:
        self.params = params
        self._labels = labels
        self._until = until
        # Worked out now: a change naming a page without page_topics is an error at once.
        self._change_labels = _change_labels(params)

    @functools.cached_property
    def _every_week(self) -> pl.DataFrame:
        return _aggregate(self._labels, self.params)

    @functools.cached_property
    def _grid(self) -> pl.DataFrame:
        return self._every_week.filter("in_period")  # G1: the reported episodes

    @functools.cached_property
    def cells(self) -> pl.DataFrame:
        """Per (topic, team) and (topic, agent): FCR against the peers, test and shrinkage."""
        return _cells(self._grid, self.params)

    @functools.cached_property
    def mix_adjusted(self) -> pl.DataFrame:
        """Per team and agent: observed/expected repeats for their topic mix, funnel limits."""
        return _mix_adjusted(self._grid, self.params)

    @functools.cached_property
    def weekly(self) -> pl.DataFrame:
        """FCR per topic per ISO week against the trailing baseline (p-chart)."""
        return _weekly(self._every_week, self.params, self._change_labels)

    @property
    def spikes(self) -> pl.DataFrame:
        return self.weekly.filter("spike")

    @functools.cached_property
    def follow_ups(self) -> pl.DataFrame:
        """`topic → next_topic` with counts and shares (G6)."""
        return follow_ups(self._labels, self.params, self._until)

    @property
    def worth_answering(self) -> pl.DataFrame:
        """The follow-up pairs worth answering up front."""
        return self.follow_ups.filter(
            pl.col("topic").ne_missing(pl.col("next_topic"))  # G6: a same-topic one is a repeat
            & (pl.col("share") >= self.params.follow_up_min_share)
            & (pl.col("count") >= self.params.follow_up_count)
        )

    @functools.cached_property
    def signals(self) -> pl.DataFrame:
        """Per topic: agent-ticked, survey and behaviour FCR and mean CES (G7)."""
        return _signals(self._grid)

    @functools.cached_property
    def signal_auc(self) -> pl.DataFrame:
        """How well each signal predicts an actual repeat, as AUC with interval (G7)."""
        return _signal_auc(_signal_counts(self._labels))

    @functools.cached_property
    def training_needs(self) -> pl.DataFrame:
        """Per agent and topic: excess repeats, ranked (G8)."""
        return _training_needs(self.cells, self._grid, self.params)

    @property
    def flagged(self) -> pl.DataFrame:
        """The flagged cells, strongest evidence first."""
        return self.cells.filter("flagged").sort("p_value", "level", "unit", "topic")

    def to_json(self) -> dict[str, Any]:
        """SPEC §3's `gaps --json` object, as plain values ready for `json.dumps`."""
        pairs = ("topic", "next_topic", "count", "share")
        return {
            "flagged": self.flagged.select(
                "level", "unit", "topic", "episodes", "fcr", "peer_fcr", "p_value"
            ).to_dicts(),
            "mix_adjusted": self.mix_adjusted.select(*_MIX[:6], "flagged").to_dicts(),
            "spikes": self.spikes.select(
                "topic", "week", "fcr", "baseline_fcr", "episodes", "change"
            ).to_dicts(),
            "follow_ups": self.follow_ups.select(pairs).to_dicts(),
            "worth_answering": self.worth_answering.select(pairs).to_dicts(),
            "signal_auc": self.signal_auc.to_dicts(),
            "episodes": int(self.signals["episodes"].sum()),
            "params": self.params.to_dict(),
            "fcrlab_version": __version__,
        }


def knowledge_gaps(
    contacts: Contacts | None,
    params: Params | None = None,
    labels: pl.DataFrame | pl.LazyFrame | None = None,
) -> Gaps:
    """Every knowledge-gaps table of SPEC §3, over the reported, settled episodes (G1).

    Pass `labels` from `label_repeats(contacts, params, contact_fields=True)` (or a scan of
    them) to label only once; with labels, `contacts` may be None (`observed_until` then comes
    from the labels, D8). The tables are worked out when first used (see `Gaps`).
    """
    params = params or Params()
    prefetch_scipy()  # the tests need scipy.stats: import it while polars labels and reads
    if labels is None:
        if contacts is None:
            raise InputError("knowledge_gaps needs contacts or their labels")
        labels = label_repeats(contacts, params, columns=INPUT_COLUMNS)
    names = labels.collect_schema().names()
    missing = [c for c in INPUT_COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"labels lack {', '.join(missing)} (label with contact_fields=True)", column=missing[0]
        )
    return Gaps(labels, params, _until(contacts, labels, params))


# ---------------------------------------------------------------------------- episodes (G1)
def _until(
    contacts: Contacts | None, labels: pl.DataFrame | pl.LazyFrame, params: Params
) -> dt.datetime | None:
    if contacts is not None:
        return observed_until(contacts, params)
    if params.observed_until is not None:
        return to_utc_instant(params.observed_until, params.timezone)
    # D8: the latest start of any row read
    latest = labels.lazy().select(pl.col("started_at").max()).collect().item()
    return None if latest is None else latest.astimezone(dt.UTC)  # type: ignore[union-attr]


def _local_day(labels: pl.DataFrame | pl.LazyFrame, timezone: str) -> pl.Expr:
    """The local calendar day (days since 1970-01-01) of `started_at`, without a time-zone
    conversion per row: the UTC offsets over the data's span, sampled every 15 minutes (every
    offset in use is a multiple of that), their change points, and a binary search per row."""
    us = pl.col("started_at").dt.epoch("us")
    low, high = labels.lazy().select(us.min(), us.max().alias("high")).collect().row(0)
    if low is None:
        return us.cast(pl.Int32)
    step = 15 * 60 * _US_SECOND
    grid = pl.int_range(low // step * step, high + step, step, eager=True)
    zoned = pl.from_epoch(grid, time_unit="us").dt.replace_time_zone("UTC")
    offset = zoned.dt.convert_time_zone(timezone).dt.replace_time_zone(None).dt.epoch("us") - grid
    change = (offset != offset.shift()).fill_null(True)
    starts, offsets = grid.filter(change), offset.filter(change)
    if offsets.len() == 1:  # one offset over the whole span: no search per row
        return ((us + offsets[0]) // _US_DAY).cast(pl.Int32)
    local = us + pl.lit(offsets).gather(pl.lit(starts).search_sorted(us, side="right") - 1)
    return (local // _US_DAY).cast(pl.Int32)


def _settled(labels: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """G1: the episodes, by their first contact, whose window is fully observed."""
    settled = pl.col("counted") & ~pl.col("is_repeat") & ~pl.col("pending")
    return labels.lazy().filter(settled.fill_null(False))


def _aggregate(labels: pl.DataFrame | pl.LazyFrame, params: Params) -> pl.DataFrame:
    """The settled episodes aggregated ONCE per (topic, team, agent, ISO week, in the period)
    with the sums every table needs (G1; G9: the weekly baselines also use the weeks before
    the period)."""
    day = _local_day(labels, params.timezone)
    return (
        _settled(labels)
        .group_by(
            "topic",
            "team",
            "agent_id",
            "in_period",
            monday=day - (day + 3) % 7,  # 1970-01-01: Thu
        )
        .agg(
            episodes=pl.len().cast(pl.Int64),
            fixes=pl.col("first_contact_fix").sum().cast(pl.Int64),
            flag_n=pl.col("resolved").count().cast(pl.Int64),
            flag=pl.col("resolved").sum().cast(pl.Int64),
            survey_n=pl.col("survey_resolved").count().cast(pl.Int64),
            survey=pl.col("survey_resolved").sum().cast(pl.Int64),
            ces_n=pl.col("ces").count().cast(pl.Int64),
            ces_sum=pl.col("ces").cast(pl.Int64).sum(),
        )
        .collect()
    )


def _signal_counts(labels: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Reported episodes counted per value of each signal and the actual fix (G7)."""
    return (
        _settled(labels)
        .filter("in_period")
        .group_by("first_contact_fix", "resolved", "survey_resolved", "ces")
        .len()
        .collect()
    )


def _topics(grid: pl.DataFrame) -> pl.DataFrame:
    return grid.group_by("topic").agg(
        topic_episodes=pl.col("episodes").sum(), topic_fixes=pl.col("fixes").sum()
    )


# ---------------------------------------------------------------------------- cells (G2, G3)
def _unit_cells(grid: pl.DataFrame) -> pl.DataFrame:
    """Per (topic, team) and (topic, agent): episodes, fixes and the topic's totals. G1: an
    episode without a team (agent) is in its topic's totals but in no cell of that level."""
    parts = [
        grid.filter(pl.col(column).is_not_null())
        .group_by("topic", column)
        .agg(pl.col("episodes").sum(), pl.col("fixes").sum())
        .select(
            pl.lit(level).alias("level"), pl.col(column).alias("unit"), "topic", "episodes", "fixes"
        )
        for level, column in (("team", "team"), ("agent", "agent_id"))
    ]
    topics = _topics(grid).with_columns(topic_fcr=pl.col("topic_fixes") / pl.col("topic_episodes"))
    cells = pl.concat(parts).join(topics, on="topic", nulls_equal=True, maintain_order="left")
    # A fixed order, so that float sums over cells (G3, G4) come out the same to the last bit.
    return cells.sort(pl.col("level") == "agent", "topic", "unit", nulls_last=True)


def _cells(grid: pl.DataFrame, params: Params) -> pl.DataFrame:
    cells = _unit_cells(grid)
    groups = cells.select("level", "topic").unique(maintain_order=True).with_row_index("group")
    cells = cells.join(groups, on=["level", "topic"], nulls_equal=True, maintain_order="left")
    peer_episodes = pl.col("topic_episodes") - pl.col("episodes")
    cells = cells.with_columns(
        fcr=pl.col("fixes") / pl.col("episodes"),
        # G2: the peers are all other units of the level, episodes without a unit included.
        peer_fcr=pl.when(peer_episodes > 0).then(
            (pl.col("topic_fixes") - pl.col("fixes")) / peer_episodes
        ),
        observed_repeats=pl.col("episodes") - pl.col("fixes"),
        tested=(pl.col("episodes") >= params.min_episodes) & (peer_episodes > 0),
    ).with_columns(expected_repeats=pl.col("episodes") * (1 - pl.col("peer_fcr")))
    # G2: Fisher's exact test of the unit against its peers (their rate is not exact either).
    peer_n = (cells["topic_episodes"] - cells["episodes"]).to_numpy()
    peer_bad = peer_n - (cells["topic_fixes"] - cells["fixes"]).to_numpy()
    with np.errstate(invalid="ignore"):
        p_value = np.where(
            cells["tested"].to_numpy(),
            fisher_p_worse(cells["observed_repeats"], cells["episodes"], peer_bad, peer_n),
            np.nan,
        )
    # G2: one Benjamini–Hochberg over the tested cells of both levels; only worse is flagged.
    rejected = pl.Series(benjamini_hochberg(p_value, params.fdr))
    # G3: a Beta prior per (level, topic) with the topic's FCR over all its episodes as mean.
    x, n, mean = cells["fixes"], cells["episodes"], cells["topic_fcr"]
    strength = beta_binomial_strength(x, n, mean, cells["group"].to_numpy())
    return (
        cells.with_columns(
            p_value=pl.Series(p_value).fill_nan(None),
            flagged=rejected & (pl.col("fcr") < pl.col("peer_fcr")).fill_null(False),
            shrunk_fcr=pl.Series(shrink_rates(x, n, mean, strength)),
        )
        .select(_CELLS)
        .sort(pl.col("level") == "agent", "topic", "unit", nulls_last=True)
    )


# ---------------------------------------------------------------------------- mix (G4)
def _mix_adjusted(grid: pl.DataFrame, params: Params) -> pl.DataFrame:
    """G4: observed against expected repeats given the unit's own topics (indirect
    standardisation) with exact-Poisson funnel limits; only worse than 99.8 % is flagged."""
    units = (
        _unit_cells(grid)
        .group_by("level", "unit", maintain_order=True)
        .agg(
            episodes=pl.col("episodes").sum(),
            observed_repeats=(pl.col("episodes") - pl.col("fixes")).sum(),
            expected_repeats=(pl.col("episodes") * (1 - pl.col("topic_fcr"))).sum(),
        )
    )
    expected = units["expected_repeats"].to_numpy()
    limits = _funnel(expected)
    high = np.nan_to_num(poisson_limits(expected, 0.998)[1], nan=np.inf)
    above = pl.Series(units["observed_repeats"].to_numpy() > high)
    return (
        units.with_columns(
            ratio=pl.when(pl.col("expected_repeats") > 0).then(
                pl.col("observed_repeats") / pl.col("expected_repeats")
            ),
            flagged=above & (pl.col("episodes") >= params.min_episodes),
            **{k: pl.Series(v).fill_nan(None) for k, v in limits.items()},
        )
        .select(_MIX)
        .sort(pl.col("level") == "agent", "unit", nulls_last=True)
    )


def _funnel(expected: np.ndarray) -> dict[str, np.ndarray]:
    """G4: the exact-Poisson limits on the observed count, as ratios to the expected."""
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, coverage in (("95", 0.95), ("998", 0.998)):
            low, high = poisson_limits(expected, coverage)
            out[f"low{name}"], out[f"high{name}"] = low / expected, high / expected
    return out


def funnel_curve(mix_adjusted: pl.DataFrame, level: str = "team", points: int = 80) -> pl.DataFrame:
    """The funnel plot's limit lines over the range of one level's expected repeats (G4)."""
    units = mix_adjusted.filter((pl.col("level") == level) & (pl.col("expected_repeats") > 0))
    expected = units["expected_repeats"]
    grid = np.array([], dtype=float)
    if expected.len():
        low = max(0.5, 0.8 * float(expected.min()))  # type: ignore[arg-type]
        high = max(1.1 * float(expected.max()), 1.5 * low)  # type: ignore[arg-type]
        grid = np.unique(np.geomspace(low, high, points).round(3))
    return pl.DataFrame({"expected_repeats": grid, **_funnel(grid)}).cast(pl.Float64)


# ---------------------------------------------------------------------------- weekly (G5)
def _weekly(
    grid: pl.DataFrame, params: Params, change_labels: tuple[pl.Expr, pl.Expr]
) -> pl.DataFrame:
    """G5: FCR per topic and ISO week against the pooled FCR of the 8 weeks before it, over
    every settled episode; G9: only the weeks whose Monday is in the period are reported."""
    weeks = grid.group_by("topic", "monday").agg(pl.col("episodes").sum(), pl.col("fixes").sum())
    # A dense calendar per topic, so that "the 8 weeks before" is a fixed number of rows.
    first, last = weeks["monday"].min() or 0, weeks["monday"].max() or -1
    calendar = pl.int_range(first, last + 1, 7, eager=True, dtype=pl.Int32).alias("monday")  # type: ignore[operator]
    dense = (
        weeks.select("topic")
        .unique()
        .join(calendar.to_frame(), how="cross")
        .join(weeks, on=["topic", "monday"], how="left", nulls_equal=True)
        .with_columns(pl.col("episodes", "fixes").fill_null(0))
        .sort("topic", "monday", nulls_last=True)
        .with_columns(active=(pl.col("episodes") > 0).cast(pl.Int64))
    )
    trailing = {
        f"base_{c}": (
            pl.col(c).cum_sum().shift(1)
            - pl.col(c).cum_sum().shift(_BASELINE_WEEKS + 1).fill_null(0)
        ).over("topic")
        for c in ("episodes", "fixes", "active")
    }
    enough = (pl.col("base_active") >= _MIN_BASELINE_WEEKS) & (
        pl.col("base_episodes") >= params.min_episodes
    )
    weekly = (
        dense.with_columns(**trailing)
        .filter(pl.col("episodes") > 0)
        .with_columns(
            fcr=pl.col("fixes") / pl.col("episodes"),
            baseline_fcr=pl.when(enough).then(pl.col("base_fixes") / pl.col("base_episodes")),
            week_start=pl.col("monday").cast(pl.Date),
        )
    )
    n = weekly["episodes"].to_numpy()
    baseline = weekly["baseline_fcr"].fill_null(np.nan).to_numpy()
    spike = (binomial_p_at_most(weekly["fixes"], n, baseline) < _SPIKE_P) & (
        n >= params.min_episodes
    )
    monday = pl.col("week_start")
    weekly = weekly.with_columns(
        week=pl.format(
            "{}-W{}", monday.dt.iso_year(), monday.dt.week().cast(pl.String).str.zfill(2)
        ),
        lower_limit=pl.Series(binomial_lower_limit(n, baseline, _SPIKE_P)).fill_nan(None),
        spike=pl.Series(spike, dtype=pl.Boolean),
    )
    change, change_date = change_labels
    if params.period is not None:
        weekly = weekly.filter(
            monday.is_between(params.period.start, params.period.end, closed="left")
        )
    return (
        weekly.with_columns(change=change, change_date=change_date)
        .select(_WEEKLY)
        .sort("topic", "week_start", nulls_last=True)
    )


def _change_labels(params: Params) -> tuple[pl.Expr, pl.Expr]:
    """G5: a change labels the spikes of its topic and sub-topics in the weeks from its own
    week's Monday to 8 weeks later; the latest change wins (the later one listed on a tie)."""
    note, date = pl.lit(None, dtype=pl.String), pl.lit(None, dtype=pl.Date)
    pages = _page_topics(params) if any(c.page for c in params.changes) else {}
    ordered = sorted(enumerate(params.changes), key=lambda item: (item[1].date, item[0]))
    for index, change in ordered:
        topic = change.topic or _page_topic(change.page or "", pages, index)
        monday = change.date - dt.timedelta(days=change.date.weekday())
        hit = (
            pl.col("spike")
            & ((pl.col("topic") == topic) | pl.col("topic").str.starts_with(topic + "/"))
            & pl.col("week_start").is_between(monday, monday + dt.timedelta(weeks=_CHANGE_WEEKS))
        ).fill_null(False)
        note = pl.when(hit).then(pl.lit(change.note)).otherwise(note)
        date = pl.when(hit).then(pl.lit(change.date)).otherwise(date)
    return note, date


def _page_topics(params: Params) -> dict[str, str]:
    if params.page_topics is None:
        raise ParamsError("a change names a page, so page_topics must be set", key="page_topics")
    if isinstance(params.page_topics, tuple):
        return dict(params.page_topics)
    table = read_table(params.page_topics, params)
    frame = table.frame.rename({a: b for a, b in params.columns if a in table.frame.columns})
    for column in ("page", "topic"):
        if column not in frame.columns:
            raise InputError(
                f"needs a {column!r} column (has {', '.join(frame.columns)})",
                file=table.source,
                column=column,
            )
    rows = frame.select(pl.col("page", "topic").cast(pl.String).str.strip_chars()).drop_nulls()
    return dict(rows.iter_rows())


def _page_topic(page: str, pages: dict[str, str], index: int) -> str:
    """W3: the exact path wins, then the longest prefix ending in `*`."""
    if page in pages:
        return pages[page]
    prefixes = [p for p in pages if p.endswith("*") and page.startswith(p[:-1])]
    if not prefixes:
        raise ParamsError(f"page {page!r} is not in page_topics", key=f"changes[{index}].page")
    return pages[max(prefixes, key=len)]


# ---------------------------------------------------------------------------- signals (G7)
def _signals(grid: pl.DataFrame) -> pl.DataFrame:
    """G7: per topic what customers did, what agents ticked, what surveys said, mean CES."""
    sums = ("episodes", "fixes", "flag_n", "flag", "survey_n", "survey", "ces_n", "ces_sum")
    topics = grid.group_by("topic").agg(pl.col(c).sum() for c in sums)
    rate = lambda k, n: pl.when(pl.col(n) > 0).then(pl.col(k) / pl.col(n))  # noqa: E731
    return topics.select(
        "topic",
        "episodes",
        fcr=rate("fixes", "episodes"),
        fcr_flag=rate("flag", "flag_n"),
        fcr_survey=rate("survey", "survey_n"),
        mean_ces=rate("ces_sum", "ces_n"),
    ).sort("topic", nulls_last=True)


# Each signal's values in increasing order of suspicion: a higher score predicts a repeat.
_SIGNALS = {
    "resolved": [True, False],  # the agent did not tick resolved
    "survey_resolved": [True, False],  # the customer said it was not resolved
    "ces": list(range(1, 8)),  # more effort
}


def _signal_auc(counts: pl.DataFrame) -> pl.DataFrame:
    """G7: how well each signal tells a repeat (an episode that was not a fix) from a fix, as
    the AUC over the episodes where it is present, with a Hanley–McNeil 95 % interval."""
    rows = []
    for signal, values in _SIGNALS.items():
        table = (
            counts.filter(pl.col(signal).is_not_null())
            .group_by(signal, "first_contact_fix")
            .agg(pl.col("len").sum())
        )
        n = {(v, fix): k for v, fix, k in table.iter_rows()}
        repeats = np.array([n.get((v, False), 0) for v in values])
        fixes = np.array([n.get((v, True), 0) for v in values])
        auc = auc_from_counts(repeats, fixes)
        low, high = (None, None) if auc is None else auc_interval(auc, repeats.sum(), fixes.sum())
        rows.append((signal, int(repeats.sum() + fixes.sum()), int(repeats.sum()), auc, low, high))
    schema = ["signal", "n", "repeats", "auc", "ci_low", "ci_high"]
    return pl.DataFrame(rows, schema=schema, orient="row").cast(
        {
            "n": pl.Int64,
            "repeats": pl.Int64,
            "auc": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
        }
    )


# ---------------------------------------------------------------------------- training (G8)
def _training_needs(cells: pl.DataFrame, grid: pl.DataFrame, params: Params) -> pl.DataFrame:
    """G8: agent × topic cells with enough episodes and more repeats than their peers' rate
    predicts, largest excess first; `team` is the team of most of the agent's episodes."""
    teams = (
        grid.filter(pl.col("agent_id").is_not_null())
        .group_by("agent_id", "team")
        .agg(pl.col("episodes").sum())
        .sort("agent_id", "episodes", "team", descending=[False, True, False], nulls_last=True)
        .unique("agent_id", keep="first", maintain_order=True)
        .select(unit="agent_id", team="team")
    )
    excess = pl.col("observed_repeats") - pl.col("expected_repeats")
    return (
        cells.filter(
            (pl.col("level") == "agent")
            & (pl.col("episodes") >= params.min_episodes)
            & (excess > 0)
        )
        .join(teams, on="unit", how="left", maintain_order="left")
        .select(
            pl.col("unit").alias("agent_id"),
            "team",
            "topic",
            "episodes",
            "fcr",
            "peer_fcr",
            "observed_repeats",
            "expected_repeats",
            excess.alias("excess_repeats"),
            "p_value",
            "flagged",
        )
        .sort(
            "excess_repeats", "agent_id", "topic", descending=[True, False, False], nulls_last=True
        )
    )


# ---------------------------------------------------------------------------- for the notebook
def worst_weeks(gaps: Gaps, topics: int = 4) -> pl.DataFrame:
    """The weekly rows of the topics with the most spikes, then the deepest drop below their
    baseline: what the weekly control chart shows."""
    worst = (
        gaps.weekly.group_by("topic")
        .agg(spikes=pl.col("spike").sum(), drop=(pl.col("fcr") - pl.col("baseline_fcr")).min())
        .sort("spikes", "drop", "topic", descending=[True, False, False], nulls_last=True)
        .head(topics)
    )
    rank = worst.select("topic").with_row_index("rank")
    chosen = gaps.weekly.join(rank, on="topic", nulls_equal=True, maintain_order="left")
    return chosen.sort("rank", "week_start").drop("rank")


def next_questions(gaps: Gaps, top: int = 10) -> pl.DataFrame:
    """The most frequent follow-ups on another topic (a same-topic one is a repeat, in FCR)."""
    return gaps.follow_ups.filter(pl.col("topic").ne_missing(pl.col("next_topic"))).head(top)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def describe(gaps: Gaps, part: str) -> str:
    """Two or three plain sentences with the numbers of one part of the analysis: `cells`,
    `mix`, `weekly`, `follow_ups`, `signals` or `training`."""
    p = gaps.params
    if part == "cells":
        tested = gaps.cells["p_value"].count()
        text = f"Of {tested:,} team and agent cells with at least {p.min_episodes} questions, "
        if not gaps.flagged.height:
            return text + "none has clearly more repeat contacts than its peers on the topic."
        w = gaps.flagged.row(0, named=True)
        return text + (
            f"{gaps.flagged.height} clearly have more repeat contacts than their peers on the same "
            f"topic (false discovery rate {p.fdr:.0%}). The clearest: {w['level']} {w['unit']} on "
            f"{w['topic']}, FCR {_pct(w['fcr'])} against {_pct(w['peer_fcr'])} for the others "
            f"({w['episodes']:,} questions)."
        )
    if part == "mix":
        flagged = gaps.mix_adjusted.filter("flagged")
        teams = gaps.mix_adjusted.filter(pl.col("level") == "team").drop_nulls("ratio")
        text = "Each unit is compared with the repeats its own mix of topics predicts. "
        if teams.height:
            top = teams.sort("ratio", "unit", descending=[True, False]).row(0, named=True)
            text += f"The highest team ratio is {top['unit']}'s, {top['ratio']:.2f}. "
        if not flagged.height:
            return (
                text
                + "No team or agent lies above the 99.8% limit once its topics are allowed for."
            )
        units = ", ".join(f"{r['level']} {r['unit']}" for r in flagged.iter_rows(named=True))
        return text + f"Above the 99.8% limit even after their topic mix: {units}."
    if part == "weekly":
        if not gaps.spikes.height:
            return "No topic had a week clearly below its usual FCR (below the 99.8% limit)."
        items = "; ".join(
            f"{r['topic']} in {r['week']}: {_pct(r['fcr'])} against {_pct(r['baseline_fcr'])}"
            + (f" (after: {r['change']})" if r["change"] is not None else "")
            for r in gaps.spikes.iter_rows(named=True)
        )
        return f"{gaps.spikes.height} week(s) fell clearly below their topic's usual FCR: {items}."
    if part == "follow_ups":
        if not gaps.worth_answering.height:
            return "No follow-up question comes often enough to answer it up front."
        r = gaps.worth_answering.row(0, named=True)
        return (
            f"{gaps.worth_answering.height} follow-up question(s) come often enough to answer up "
            f"front. The most common: after {r['topic']}, {_pct(r['share'])} of contacts were "
            f"followed within {format_duration(p.window)} by {r['next_topic']} ({r['count']:,})."
        )
    if part == "signals":
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
    if part == "training":
        needs = gaps.training_needs
        if not needs.height:
            return "No agent has more repeats than their peers on a topic they handle often."
        r = needs.row(0, named=True)
        return (
            f"{needs.height} agent-topic pairs have more repeats than their peers' rate predicts, "
            f"{needs['flagged'].sum()} of them clearly (flagged). The largest: {r['agent_id']} on "
            f"{r['topic']}, {r['excess_repeats']:.0f} repeats more than expected."
        )
    raise ValueError(
        f"unknown part {part!r}; use cells, mix, weekly, follow_ups, signals or training"
    )
