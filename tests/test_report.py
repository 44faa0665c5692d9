"""SPEC §4: `fcrlab report` writes self-contained HTML for one ISO week."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from fcrlab.errors import ParamsError
from fcrlab.params import load_params
from fcrlab.present.report import NOTEBOOKS, iso_week_period, latest_observed_week

ROOT = Path(__file__).resolve().parents[1]


def test_iso_week_period_is_monday_to_monday():
    assert iso_week_period("2026-W47") == (dt.date(2026, 11, 16), dt.date(2026, 11, 23))
    assert iso_week_period("2026-w01") == (dt.date(2025, 12, 29), dt.date(2026, 1, 5))
    with pytest.raises(ParamsError, match="ISO week"):
        iso_week_period("week 47")


def test_latest_fully_observed_week_of_the_sample(monkeypatch):
    monkeypatch.chdir(ROOT)
    # The sample's last contact is on Sunday 2026-11-29: W47 ends 2026-11-23 00:00, and
    # 23-11 + 7 d = 30-11 00:00 is after it, so W46 (ending 16-11) is the latest complete week.
    assert latest_observed_week(load_params("parameters/sample.yaml")) == "2026-W46"


def test_report_is_offline_html_with_charts(sample_report):
    index = sample_report
    assert index.parent.name == "2026-W45" and index.name == "index.html"
    folder = index.parent
    pages = sorted(p.name for p in folder.glob("*.html"))
    assert pages == sorted([*(Path(n).stem + ".html" for n in NOTEBOOKS), "index.html"])
    assert (folder / "01_repeat_contacts.ipynb").exists()
    for page in folder.glob("*.html"):
        text = page.read_text()
        assert "<script" not in text
        external = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
        assert not external, f"{page.name} refers to another host"
    notebook_page = (folder / "01_repeat_contacts.html").read_text()
    images = re.findall(r'<img[^>]*\ssrc="data:image/png;base64,([A-Za-z0-9+/=]+)"', notebook_page)
    assert len(images) >= 3 and all(len(i) > 5000 for i in images)
    assert "week 2026-W45" in index.read_text()
    assert not list(folder.parent.glob(".*")), "no staging folder is left behind"


def test_a_failing_notebook_keeps_the_last_good_report(sample_report, tmp_path, monkeypatch):
    import json
    import shutil

    from fcrlab.errors import FcrlabError
    from fcrlab.present.report import run_report

    monkeypatch.chdir(ROOT)
    out = tmp_path / "reports"
    shutil.copytree(sample_report.parent, out / "2026-W45")
    good = (out / "2026-W45" / "index.html").read_bytes()
    broken = tmp_path / "99_broken.ipynb"
    broken.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "execution_count": None,
                        "outputs": [],
                        "source": "raise ValueError('no such column')",
                    }
                ],
                "metadata": {
                    "kernelspec": {"name": "fcrlab", "display_name": "fcrlab", "language": "python"}
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    with pytest.raises(FcrlabError, match=r"notebook 99_broken\.ipynb failed.*no such column"):
        run_report("parameters/sample.yaml", week="2026-W45", out=out, notebooks=(str(broken),))
    assert (out / "2026-W45" / "index.html").read_bytes() == good
    kept = out / "2026-W45-FAILED-99_broken.ipynb"
    assert kept.exists() and "no such column" in kept.read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no staging folder left"


def test_no_customer_id_appears_in_any_report_file(sample_report):
    import polars as pl

    ids = set(pl.read_parquet(ROOT / "data" / "contacts.parquet")["customer_id"].drop_nulls())
    ids |= set(pl.read_parquet(ROOT / "data" / "web_visits.parquet")["customer_id"].drop_nulls())
    assert ids and all(re.fullmatch(r"K\d{7}", i) for i in ids)  # the sample's id form
    files = [p for p in sample_report.parent.rglob("*") if p.is_file()]
    assert len(files) >= 3
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        found = set(re.findall(r"K\d{7}", text)) & ids
        assert not found, f"{path.name} shows customer ids in clear: {sorted(found)[:3]}"


def test_without_a_salt_the_run_says_so_and_uses_a_random_one(monkeypatch):
    from fcrlab.params import Params
    from fcrlab.privacy import salt_from_env

    monkeypatch.delenv("FCRLAB_SALT", raising=False)
    with pytest.warns(UserWarning, match=r"no pseudonymisation salt in \$FCRLAB_SALT"):
        first = salt_from_env(Params())
    with pytest.warns(UserWarning):
        second = salt_from_env(Params())
    assert first != second
    monkeypatch.setenv("FCRLAB_SALT", "geheim")
    assert salt_from_env(Params()) == "geheim"


def test_index_shows_the_week_and_the_week_before(sample_report, monkeypatch):
    import polars as pl

    from fcrlab import fcr_summary, load_contacts
    from fcrlab.params import load_params
    from fcrlab.present.headline import week_numbers

    monkeypatch.chdir(ROOT)
    params = load_params("parameters/sample.yaml")
    text = sample_report.read_text()
    for start, label in ((dt.date(2026, 11, 2), "2026-W45"), (dt.date(2026, 10, 26), "before")):
        week = params.replace(
            period={"start": start.isoformat(), "end": str(start + dt.timedelta(7))}
        )
        expected = fcr_summary(load_contacts(params.contacts, week), week)
        numbers = week_numbers(params, start, salt="any")
        assert numbers.rates["fcr"][0] == pytest.approx(expected["fcr"]), label
        assert numbers.rates["fcr"][3] == expected["fcr_n"]
        assert f"{100 * expected['fcr']:.1f}%" in text, label
    this = week_numbers(params, dt.date(2026, 11, 2), salt="any")
    before = week_numbers(params, dt.date(2026, 10, 26), salt="any")
    change = 100 * (this.rates["fcr"][0] - before.rates["fcr"][0])
    assert f"{change:+.1f} pts" in text
    assert isinstance(this.flagged, pl.DataFrame) and "Flagged" in text


def test_agent_ids_follow_pseudonymise_agents():
    from fcrlab import Params, load_contacts
    from fcrlab.privacy import pseudonymise

    contacts = load_contacts(str(ROOT / "data" / "contacts.parquet"))
    kept = pseudonymise(contacts, Params(), salt="s").frame
    hidden = pseudonymise(contacts, Params.from_mapping({"pseudonymise_agents": True}), salt="s")
    agents = hidden.frame["agent_id"].drop_nulls()
    assert kept["agent_id"].equals(contacts.frame["agent_id"])
    assert agents.len() and all(re.fullmatch(r"a[0-9a-f]{16}", a) for a in agents)
    # Same agent, same pseudonym: the analyses still group by agent.
    assert agents.n_unique() == contacts.frame["agent_id"].drop_nulls().n_unique()
    assert not (set(agents) & set(contacts.frame["agent_id"].drop_nulls()))
