"""SPEC §4: `fcrlab report` writes self-contained HTML for one ISO week."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from fcrlab.errors import ParamsError
from fcrlab.params import load_params
from fcrlab.report import iso_week_period, latest_observed_week

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
    assert pages == ["01_repeat_contacts.html", "index.html"]
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
