"""The window curve is computed from one labelling per match mode; it must equal labelling every
window anew (SPEC §2 rules 7–9), for every definition the workshop can choose."""

from __future__ import annotations

import polars as pl
import pytest

from fcrlab import Params, fcr_summary, label_repeats
from fcrlab.read.contacts import contacts_from_frame
from fcrlab.sample import make_sample
from fcrlab.sensitivity import window_sensitivity
from fcrlab.summary import episodes_table

WINDOWS = ("90m", "24h", "72h", "7d", "30d")


@pytest.fixture(scope="module")
def contacts():
    return contacts_from_frame(make_sample(contacts=6000, seed=11)["contacts"], Params())


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"abandoned": "include"},
        {"transfers": "breaks_fcr", "channels": ["phone", "chat"]},
        {"period": {"start": "2026-08-03", "end": "2026-09-07"}},
        {"observed_until": "2026-10-01T12:00", "abandoned": "include"},
        {
            "after_hours": "follow_up_is_first",
            "office_hours": {"mon": "08:00-20:00", "tue": "08:00-20:00", "sat": "09:00-17:00"},
        },
    ],
    ids=["default", "abandoned", "transfers-channels", "period", "observed-until", "after-hours"],
)
def test_curve_equals_relabelling_every_window(contacts, options):
    params = Params.from_mapping(options)
    curve = window_sensitivity(contacts, params, windows=WINDOWS)
    for row in curve.iter_rows(named=True):
        expected = fcr_summary(contacts, params.replace(window=row["window"], match=row["match"]))
        assert row["episodes"] == expected["episodes"], row
        assert row["pending_episodes"] == expected["pending_episodes"], row
        assert row["fcr"] == pytest.approx(expected["fcr"]), row
    assert curve.height == len(WINDOWS) * 3


def test_curve_for_one_team_equals_its_episodes(contacts):
    params = Params.from_mapping({"abandoned": "include"})
    curve = window_sensitivity(
        contacts, params, windows=WINDOWS, episodes=pl.col("team") == "team-east"
    )
    for row in curve.iter_rows(named=True):
        variant = params.replace(window=row["window"], match=row["match"])
        firsts = episodes_table(label_repeats(contacts, variant, contact_fields=True))
        team = firsts.filter((pl.col("team") == "team-east") & ~pl.col("pending"))
        assert row["episodes"] == team.height
        assert row["fcr"] == pytest.approx(team["first_contact_fix"].mean())
