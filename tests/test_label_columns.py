"""`label_repeats(columns=...)` works out only the columns asked for, and they equal the full
labelling's, under every rule option that changes how the labels are made."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from fcrlab import Params, label_repeats, load_contacts
from fcrlab.engine.repeats import CONTACT_FIELDS, LABEL_COLUMNS
from fcrlab.gaps import GAPS_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = [
    {},
    {"abandoned": "include", "transfers": "breaks_fcr"},
    {"match": "any", "window": "72h", "period": {"start": "2026-08-01", "end": "2026-10-01"}},
    {
        "after_hours": "follow_up_is_first",
        "office_hours": {day: "08:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        "channels": ["phone", "chat"],
    },
]
SUBSETS = [
    list(GAPS_COLUMNS),
    ["episode_id", "source_row"],
    ["repeat_of", "excluded_reason"],
    ["counted", "gap_hours", "episode_size", "is_repeat", "started_at"],
    # only flags: they go back to input order packed in a byte
    ["first_contact_fix", "pending", "in_period", "is_repeat", "counted", "excluded_reason"],
    ["pending", "source_row"],
]


@pytest.fixture(scope="module")
def contacts():
    return load_contacts(ROOT / "data" / "contacts.parquet", Params())


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_columns_asked_for_equal_the_full_labelling(contacts, options):
    params = Params.from_mapping(options)
    full = label_repeats(contacts, params, contact_fields=True)
    assert full.columns == [*LABEL_COLUMNS, *CONTACT_FIELDS]
    assert full["counted"].sum() > 0 and full["is_repeat"].sum() > 0
    for subset in SUBSETS:
        picked = label_repeats(contacts, params, columns=subset)
        assert picked.columns == subset
        assert picked.equals(full.select(subset)), subset


def test_an_unknown_column_is_refused(contacts):
    with pytest.raises(ValueError, match="no column 'episode'"):
        label_repeats(contacts, Params(), columns=["episode"])


def test_nothing_counted_still_gives_the_columns(contacts):
    params = Params.from_mapping({"channels": ["fax"]})
    picked = label_repeats(contacts, params, columns=["episode_id", "counted", "excluded_reason"])
    assert picked["counted"].sum() == 0 and picked["episode_id"].null_count() == picked.height
    assert set(picked["excluded_reason"].unique()) <= {
        "channel",
        "duplicate",
        "anonymous",
        "merged_leg",
        "outbound",
    }
    assert picked.schema["episode_id"] == pl.String
