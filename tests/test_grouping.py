"""The one grouping sort (`fcrlab.engine.grouping`): right order, ties by string, hash
collisions caught, and its exact path (the one test hook) giving every caller the same answer.
The sweep's and the follow-ups' own forced-exact tests are in test_deflection and test_gaps."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fcrlab import Params, label_repeats
from fcrlab.engine import grouping
from fcrlab.engine.grouping import Keys, sort_by_group
from fcrlab.read.contacts import contacts_from_frame
from fcrlab.sample import make_sample


def _random_rows(n: int = 5_000, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "customer": pl.Series(rng.integers(0, 300, n)).cast(pl.String),
            "topic": pl.Series(["a", "b", None]).gather(rng.integers(0, 3, n)),
            "t": rng.integers(0, 40, n),  # a coarse clock: many ties within a group
            "id": pl.Series(rng.permutation(n)).cast(pl.String),
        }
    )


def _plain_order(rows: pl.DataFrame) -> list[int]:
    """The positions in (customer, topic, t, id) order, ties by id as strings, nulls first."""
    records = rows.with_row_index("pos").to_dicts()
    key = lambda r: (r["customer"], r["topic"] or "", r["topic"] is not None, r["t"], r["id"])  # noqa: E731
    return [r["pos"] for r in sorted(records, key=key)]


def _groups_in(order: pl.DataFrame, rows: pl.DataFrame) -> list[list[int]]:
    """The runs of `same` as lists of positions, each run sorted by (t, id) as it came."""
    runs: list[list[int]] = []
    for row, same in zip(order["row"].to_list(), order["same"].to_list(), strict=True):
        if not same:
            runs.append([])
        runs[-1].append(row)
    return runs


@pytest.mark.parametrize("exact", [False, True], ids=["hashed", "exact"])
def test_each_group_together_ordered_by_time_then_by_the_tie_string(monkeypatch, exact):
    monkeypatch.setattr(grouping, "FORCE_EXACT", exact)
    rows = _random_rows()
    order = sort_by_group(
        Keys(rows["customer"], rows["topic"]), rows["t"], tie=lambda at: rows["id"].gather(at)
    )
    runs = _groups_in(order, rows)
    # Each run is one whole group, in (t, id) order; the runs together are the plain order.
    expected = _plain_order(rows)
    by_group: dict[tuple, list[int]] = {}
    for pos in expected:
        r = rows.row(pos, named=True)
        by_group.setdefault((r["customer"], r["topic"]), []).append(pos)
    assert sorted(map(tuple, runs)) == sorted(map(tuple, by_group.values()))
    assert order["by"].to_list() == rows["t"].gather(order["row"]).to_list()


def test_a_hash_collision_is_caught_and_the_exact_path_taken():
    rows = _random_rows(2_000, seed=4)
    keys = Keys(rows["customer"])
    # Every group gets the same first hash, as in a collision; the second still differs.
    colliding = Keys._derived(
        lambda: [rows["customer"]],
        rows.height,
        (pl.repeat(7, rows.height, eager=True), keys.second),
    )
    tie = lambda at: rows["id"].gather(at)  # noqa: E731
    got = sort_by_group(colliding, rows["t"], tie)
    exact = sort_by_group(
        Keys(rows["customer"]).gather(pl.int_range(rows.height, eager=True)), rows["t"], tie
    )
    runs = sorted(map(tuple, _groups_in(got, rows)))
    assert runs == sorted(map(tuple, _groups_in(exact, rows)))
    assert len(runs) == rows["customer"].n_unique()


def test_keys_of_a_subset_and_of_two_sides_hash_as_the_whole():
    rows = _random_rows(1_000)
    keys = Keys(rows["customer"], rows["topic"])
    rows_at = pl.Series([5, 1, 900], dtype=pl.UInt32)
    assert keys.gather(rows_at).first.to_list() == keys.first.gather(rows_at).to_list()
    both = Keys.concat(keys.gather(rows_at), keys)
    assert both.first.to_list() == [*keys.first.gather(rows_at), *keys.first]
    assert both.exact().to_list()[:3] == both.exact().gather([8, 4, 903]).to_list()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"match": "family", "window": "48h"},
        {"abandoned": "include", "transfers": "breaks_fcr"},  # the general path
        {
            "after_hours": "follow_up_is_first",
            "office_hours": {d: "08:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")},
        },
    ],
    ids=["topic", "family", "general", "after-hours"],
)
def test_the_repeat_engine_gives_the_same_labels_on_the_exact_path(monkeypatch, options):
    frames = make_sample(contacts=4_000, seed=9)
    params = Params.from_mapping(options)
    contacts = contacts_from_frame(frames["contacts"], params)
    hashed = label_repeats(contacts, params, contact_fields=True)
    monkeypatch.setattr(grouping, "FORCE_EXACT", True)
    assert_frame_equal(label_repeats(contacts, params, contact_fields=True), hashed)
