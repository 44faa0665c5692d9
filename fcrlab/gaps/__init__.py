"""Knowledge gaps (SPEC §3 `fcrlab gaps`, decisions G1–G10): where customers keep coming back.

Per topic and team/agent the FCR against the unit's peers (an exact one-sided test, then
Benjamini–Hochberg over all tested cells) and shrunk toward the topic's rate; per unit the
topic-mix-adjusted observed/expected repeats with funnel limits (`cells`); weekly FCR per topic
against its trailing baseline (`weekly`); the follow-up question that usually comes next
(`followups`); and how well the agent's tick, the survey and CES predict a repeat (`signals`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from typing import Any

import polars as pl

from fcrlab.engine.repeats import Labels, labels_of, observed_until
from fcrlab.gaps import cells as _cells
from fcrlab.gaps import signals as _signals
from fcrlab.gaps import weekly as _weekly
from fcrlab.gaps.followups import follow_ups
from fcrlab.params import Params
from fcrlab.read.contacts import Contacts
from fcrlab.version import version

__all__ = ["GAPS_COLUMNS", "Gaps", "knowledge_gaps"]

# The label columns this analysis reads (`label_repeats(..., contact_fields=True)` has them).
GAPS_COLUMNS = (
    "contact_id",
    "customer_id",
    "started_at",
    "topic",
    "team",
    "agent_id",
    "counted",
    "in_period",
    "is_repeat",
    "pending",
    "first_contact_fix",
    "resolved",
    "survey_resolved",
    "ces",
)


@dataclasses.dataclass(frozen=True, eq=False)
class Gaps:
    """The knowledge-gaps tables of SPEC §3, each sorted (notebooks stay deterministic).

    Each table is worked out when first asked for, then kept: `gaps.cells` alone (what
    `fcrlab gaps --out` writes) needs one aggregation of the episodes, not the follow-up pass
    over every contact. The labels may be a LazyFrame (`pl.scan_parquet` of `fcrlab repeats`
    output): each table then reads only the columns it needs.
    """

    labels: Labels
    params: Params
    observed_until: dt.datetime | None
    changes: tuple[pl.Expr, pl.Expr]  # the note and date a `changes:` entry puts on a spike

    @functools.cached_property
    def _every_week(self) -> pl.DataFrame:
        return _cells.aggregate(self.labels, self.params)

    @functools.cached_property
    def _grid(self) -> pl.DataFrame:
        return self._every_week.filter("in_period")  # G1: the reported episodes

    @functools.cached_property
    def cells(self) -> pl.DataFrame:
        """Per (topic, team) and (topic, agent): FCR against the peers, test and shrinkage."""
        return _cells.cells(self._grid, self.params)

    @functools.cached_property
    def mix_adjusted(self) -> pl.DataFrame:
        """Per team and agent: observed/expected repeats for their topic mix, funnel limits."""
        return _cells.mix_adjusted(self._grid, self.params)

    @functools.cached_property
    def weekly(self) -> pl.DataFrame:
        """FCR per topic per ISO week against the trailing baseline (p-chart)."""
        return _weekly.weekly(self._every_week, self.params, self.changes)

    @property
    def spikes(self) -> pl.DataFrame:
        return self.weekly.filter("spike")

    @functools.cached_property
    def follow_ups(self) -> pl.DataFrame:
        """`topic → next_topic` with counts and shares (G6)."""
        return follow_ups(self.labels, self.params, self.observed_until)

    @property
    def worth_answering(self) -> pl.DataFrame:
        """The follow-up pairs worth answering up front."""
        return self.follow_ups.filter(
            pl.col("topic").ne_missing(pl.col("next_topic"))  # G6: a same-topic one is a repeat
            & (pl.col("share") >= self.params.follow_up_min_share)
            & (pl.col("count") >= self.params.follow_up_count)
        )

    def next_questions(self, top: int = 10) -> pl.DataFrame:
        """The most frequent follow-ups on another topic (a same-topic one is a repeat)."""
        return self.follow_ups.filter(pl.col("topic").ne_missing(pl.col("next_topic"))).head(top)

    @functools.cached_property
    def signals(self) -> pl.DataFrame:
        """Per topic: agent-ticked, survey and behaviour FCR and mean CES (G7)."""
        return _signals.signals(self._grid)

    @functools.cached_property
    def signal_auc(self) -> pl.DataFrame:
        """How well each signal predicts an actual repeat, as AUC with interval (G7)."""
        return _signals.signal_auc(_signals.signal_counts(self.labels))

    @functools.cached_property
    def training_needs(self) -> pl.DataFrame:
        """Per agent and topic: excess repeats, ranked (G8)."""
        return _cells.training_needs(self.cells, self._grid, self.params)

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
            "mix_adjusted": self.mix_adjusted.select(*_cells.MIX_COLUMNS[:6], "flagged").to_dicts(),
            "spikes": self.spikes.select(
                "topic", "week", "fcr", "baseline_fcr", "episodes", "change"
            ).to_dicts(),
            "follow_ups": self.follow_ups.select(pairs).to_dicts(),
            "worth_answering": self.worth_answering.select(pairs).to_dicts(),
            "signal_auc": self.signal_auc.to_dicts(),
            "episodes": int(self.signals["episodes"].sum()),
            "params": self.params.to_dict(),
            "fcrlab_version": version(),
        }


def knowledge_gaps(
    data: Contacts | Labels,
    params: Params | None = None,
    *,
    page_topics: pl.DataFrame | None = None,
) -> Gaps:
    """Every knowledge-gaps table of SPEC §3, over the reported, settled episodes (G1).

    `data` is contacts (labelled here) or their labels (`label_repeats(contacts, params,
    contact_fields=True)`, or a scan of labels written earlier). `page_topics`
    (`load_page_topics`) is needed only when a `changes:` entry names a page. The tables are
    worked out when first used (see `Gaps`).
    """
    params = params or Params()
    labels = labels_of(data, params, GAPS_COLUMNS)
    # Worked out now: a change naming a page that no page topic maps is an error at once.
    changes = _weekly.change_labels(params, page_topics)
    return Gaps(labels, params, observed_until(labels, params), changes)
