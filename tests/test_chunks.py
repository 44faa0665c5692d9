"""Chunked labelling (for inputs larger than memory) gives exactly the whole-input labels."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fcrlab import Params, label_repeats, load_contacts
from fcrlab.engine.chunks import label_repeats_in_chunks
from fcrlab.engine.repeats import LABEL_COLUMNS
from fcrlab.errors import InputError
from fcrlab.sample import make_sample
from fcrlab.summary import ledger


@pytest.mark.parametrize("chunks", [1, 3, 8])
def test_chunks_give_the_whole_input_labels(tmp_path, chunks):
    source = tmp_path / "contacts.parquet"
    make_sample(contacts=4000, seed=5)["contacts"].write_parquet(source)
    params = Params.from_mapping({"window": "72h"})
    whole = label_repeats(load_contacts(str(source), params), params).select(LABEL_COLUMNS)
    book = label_repeats_in_chunks(source, tmp_path / "labels.parquet", params, chunks=chunks)
    chunked = pl.read_parquet(tmp_path / "labels.parquet")
    assert_frame_equal(chunked.sort("source_row"), whole.sort("source_row"))
    assert book["rows_read"] == whole.height
    assert {k: book[k] for k in ledger(whole)} == ledger(whole)
    assert book["rows_used"] == whole["excluded_reason"].null_count()


def test_a_glob_of_weekly_files_is_numbered_across_files(tmp_path):
    frame = make_sample(contacts=1200, seed=9)["contacts"].sort("started_at")
    frame.head(500).write_parquet(tmp_path / "w1.parquet")
    frame.tail(700).write_parquet(tmp_path / "w2.parquet")
    params = Params()
    whole = label_repeats(load_contacts(str(tmp_path / "w*.parquet"), params), params)
    label_repeats_in_chunks(tmp_path / "w*.parquet", tmp_path / "out.parquet", params, chunks=4)
    chunked = pl.read_parquet(tmp_path / "out.parquet").sort("source_row")
    assert_frame_equal(chunked, whole.select(LABEL_COLUMNS).sort("source_row"))


def test_an_id_shared_by_two_customers_is_an_error_across_chunks(tmp_path):
    source = tmp_path / "c.parquet"
    pl.DataFrame(
        {
            "contact_id": ["a", "b", "a"],
            "customer_id": ["k1", "k2", "k3"],
            "started_at": ["2026-03-02 10:00", "2026-03-02 11:00", "2026-03-02 12:00"],
            "topic": ["tv", "tv", "tv"],
        }
    ).write_parquet(source)
    with pytest.raises(
        InputError, match=r"contact_id 'a' appears for different customers.*rows 1, 3"
    ):
        label_repeats_in_chunks(source, tmp_path / "out.parquet", Params(), chunks=2)


def test_default_observed_until_in_the_repeated_autumn_hour_stays_exact(tmp_path):
    # The last contact is 02:30 winter time on 2026-10-25 (the second 02:30 that night); read
    # back as local time it would be the earlier, summer 02:30 and leave the last row out.
    source = tmp_path / "c.parquet"
    pl.DataFrame(
        {
            "contact_id": ["a", "b"],
            "customer_id": ["k1", "k2"],
            "started_at": ["2026-10-18T10:00:00+02:00", "2026-10-25T02:30:00+01:00"],
            "topic": ["tv", "tv"],
        }
    ).write_parquet(source)
    book = label_repeats_in_chunks(source, tmp_path / "out.parquet", Params(), chunks=2)
    assert book["outside_period"] == 0 and book["rows_used"] == 2
