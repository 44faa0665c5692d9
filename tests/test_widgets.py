"""The workshop's callbacks, driven in plain Python: set a control, the shown numbers follow
what the repeat engine says for that definition."""

from __future__ import annotations

import polars as pl
import pytest

from fcrlab import Params, fcr_summary, label_repeats, load_contacts
from fcrlab.online.impact import savings_per_year
from fcrlab.present.widgets import ALL, workshop
from fcrlab.summary import episodes_table

SAMPLE = "data/contacts.parquet"


@pytest.fixture(scope="module")
def app_and_contacts(request):
    root = request.config.rootpath
    params = Params.from_mapping({"cost_per_contact": {"phone": 6.5}})
    contacts = load_contacts(str(root / SAMPLE), params)
    return workshop(contacts, params), contacts, params


def test_starts_with_the_parameters_definition(app_and_contacts):
    app, contacts, params = app_and_contacts
    assert app.state["fcr"] == pytest.approx(fcr_summary(contacts, params)["fcr"])
    assert bytes(app.variants.value).startswith(b"\x89PNG") and len(app.curve.value) > 5000


@pytest.mark.parametrize(
    ("control", "value", "changes"),
    [
        ("window", "24h", {"window": "24h"}),
        ("match", "any", {"match": "any"}),
        ("abandoned", "include", {"abandoned": "include"}),
        ("transfers", "breaks_fcr", {"transfers": "breaks_fcr"}),
        ("channels", ("chat", "phone"), {"channels": ["chat", "phone"]}),
    ],
)
def test_each_definition_control_gives_the_engines_fcr(app_and_contacts, control, value, changes):
    app, contacts, params = app_and_contacts
    before = app.state["fcr"]
    old = app.controls[control].value
    try:
        app.controls[control].value = value
        expected = fcr_summary(contacts, params.replace(**changes))
        assert app.state["fcr"] == pytest.approx(expected["fcr"])
        assert app.state["fcr_flag"] == pytest.approx(expected["fcr_flag"])
        assert app.state["episodes"] == expected["episodes"]
        assert app.state["fcr"] != pytest.approx(before)
    finally:
        app.controls[control].value = old
    assert app.state["fcr"] == pytest.approx(before)


def test_team_and_topic_show_only_their_episodes(app_and_contacts):
    app, contacts, params = app_and_contacts
    firsts = episodes_table(label_repeats(contacts, params, contact_fields=True))
    team = firsts.filter((pl.col("team") == "team-east") & ~pl.col("pending"))
    app.controls["team"].value = "team-east"
    try:
        assert app.state["episodes"] == team.height
        assert app.state["fcr"] == pytest.approx(team["first_contact_fix"].mean())
        curve = app.state["curve"].filter((pl.col("match") == "topic") & (pl.col("window") == "7d"))
        assert curve["fcr"].item() == pytest.approx(app.state["fcr"])
        app.controls["topic"].value = "billing/invoice-incorrect"
        both = team.filter(pl.col("topic") == "billing/invoice-incorrect")
        assert app.state["episodes"] == both.height
        assert app.state["fcr"] == pytest.approx(both["first_contact_fix"].mean())
    finally:
        app.controls["topic"].value = ALL
        app.controls["team"].value = ALL


def test_heatmap_table_is_the_topic_team_breakdown(app_and_contacts):
    app, contacts, params = app_and_contacts
    firsts = episodes_table(label_repeats(contacts, params, contact_fields=True))
    cell = firsts.filter(
        (pl.col("topic") == "tv/decoder") & (pl.col("team") == "team-north") & ~pl.col("pending")
    )
    row = app.state["heatmap"].filter(
        (pl.col("topic") == "tv/decoder") & (pl.col("team") == "team-north")
    )
    assert row["episodes"].item() == cell.height
    assert row["fcr"].item() == pytest.approx(cell["first_contact_fix"].mean())


def test_whatif_panel_is_the_money_formula(app_and_contacts):
    app, _, _ = app_and_contacts
    c = app.controls
    c["calls_per_week"].value = 2000
    c["share"].value = 0.4
    c["reduction"].value = 0.1
    c["cost"].value = 6.5
    assert app.state["savings_per_year"] == pytest.approx(2000 * 0.4 * 0.1 * 6.5 * 52)
    c["cost"].value = 13.0
    assert app.state["savings_per_year"] == pytest.approx(2 * 2000 * 0.4 * 0.1 * 6.5 * 52)
    assert "€ 54,080 a year" in app.whatif.value
    assert savings_per_year(100, 0.5, 0.2, 5) == pytest.approx(100 * 0.5 * 0.2 * 5 * 52)
