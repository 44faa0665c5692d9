"""Issue 16, nothing opened against the user: formulas defused in every CSV fcrlab writes, no
link followed where the report writes, salts used whole, staging folders of killed runs
removed, and a successful report silent on stderr (decisions I8–I10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from fcrlab.cli import main
from fcrlab.privacy import pseudonymise_ids

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"]


def _csv_cells(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n")


# ---------------------------------------------------------------------------- CSV formulas
def _hostile_contacts(tmp_path: Path) -> Path:
    rows = []
    for i, text in enumerate(HOSTILE):
        customer = "+31612345678" if i == 0 else f"k{i}"  # a phone-number id is text too
        rows.append((f"c{i}", customer, f"2026-03-0{i + 2} 10:00", "phone", text))
    frame = pl.DataFrame(
        rows, schema=["contact_id", "customer_id", "started_at", "channel", "topic"], orient="row"
    )
    path = tmp_path / "hostile.parquet"
    frame.write_parquet(path)
    return path


def _assert_defused(path: Path, values: list[str]) -> None:
    frame = pl.read_csv(path, infer_schema=False)
    cells = [v for column in frame.columns for v in frame[column].drop_nulls().to_list()]
    for value in values:
        assert value not in cells, f"{value!r} written as is"
        assert "'" + value in cells, f"{value!r} not defused"
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_I8_labels_csv_defuses_formulas_ids_included(tmp_path):
    out = tmp_path / "labels.csv"
    assert main(["repeats", str(_hostile_contacts(tmp_path)), "--out", str(out)]) == 0
    _assert_defused(out, [*HOSTILE, "+31612345678"])
    # Numbers and times are not text: a negative gap or a date is written as it is.
    labels = pl.read_csv(out, infer_schema=False)
    assert labels["started_at"][0].startswith("2026-03-02")


def test_I8_gaps_csv_defuses_formulas(tmp_path):
    out = tmp_path / "cells.csv"
    assert main(["gaps", str(_hostile_contacts(tmp_path)), "--out", str(out)]) == 0
    frame = pl.read_csv(out, infer_schema=False)
    assert frame.height == 0 or not any(
        str(v).startswith(("=", "+", "@")) for v in frame["topic"].drop_nulls()
    )
    big = tmp_path / "big.csv"
    contacts = ["contact_id,customer_id,started_at,topic,team"]
    for i in range(80):  # enough episodes for cells to be written
        contacts.append(f"c{i},k{i},2026-03-02 10:{i % 60:02d},=1+1,@team")
    big.write_text("\n".join(contacts) + "\n")
    assert main(["gaps", str(big), "--out", str(out), "--observed-until", "2026-04-01"]) == 0
    _assert_defused(out, ["=1+1", "@team"])


def test_I8_a_tab_or_carriage_return_first_is_defused_too():
    from fcrlab.read.files import defused

    frame = pl.DataFrame({"text": ["\tx", "\rx", "plain", None], "n": [-1, 2, 3, 4]})
    assert defused(frame).to_dict(as_series=False) == {
        "text": ["'\tx", "'\rx", "plain", None],
        "n": [-1, 2, 3, 4],  # numbers are not text: a negative number stays a number
    }


def test_I8_deflection_csv_defuses_formulas(tmp_path):
    contacts = tmp_path / "c.csv"
    contacts.write_text(
        "contact_id,customer_id,started_at,channel,topic\n"
        "e1,edge,2026-03-01 00:00,email,x\nc1,k1,2026-03-10 10:00,phone,=evil()\n"
        "e2,edge,2026-03-31 00:00,email,x\n"
    )
    visits = tmp_path / "v.csv"
    visits.write_text(
        "customer_id,visited_at,page\nedge,2026-03-01 00:00,/\nk1,2026-03-10 09:00,@page\n"
        "edge,2026-03-31 00:00,/\n"
    )
    pages = tmp_path / "pt.csv"
    pages.write_text("page,topic\n/help/*,help\n")
    out = tmp_path / "per-contact.csv"
    code = main(["deflection", str(contacts), str(visits), "--page-topics", str(pages),
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    _assert_defused(out, ["=evil()", "@page"])


# ---------------------------------------------------------------------------- links and staging
def _notebook(path: Path, source: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "id": "only",
                        "metadata": {},
                        "execution_count": None,
                        "outputs": [],
                        "source": source,
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
    return path


def test_I9_a_link_planted_at_a_failed_notebook_s_place_is_not_followed(tmp_path, monkeypatch):
    from fcrlab.errors import FcrlabError
    from fcrlab.present.report import run_report

    monkeypatch.chdir(ROOT)
    out = tmp_path / "reports"
    out.mkdir()
    victim = tmp_path / "precious.txt"
    victim.write_text("do not touch")
    (out / "2026-W45-FAILED-99_broken.ipynb").symlink_to(victim)
    broken = _notebook(tmp_path / "99_broken.ipynb", "raise ValueError('no such column')")
    with pytest.raises(FcrlabError, match="no such column"):
        run_report("parameters/sample.yaml", week="2026-W45", out=out, notebooks=(str(broken),))
    assert victim.read_text() == "do not touch"
    kept = out / "2026-W45-FAILED-99_broken.ipynb"
    assert not kept.is_symlink() and "no such column" in kept.read_text()


def test_I9_stale_staging_folders_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    from fcrlab.errors import FcrlabError
    from fcrlab.present.report import run_report

    monkeypatch.chdir(ROOT)
    out = tmp_path / "reports"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    stale, live, foreign = out / ".fcrlab-staging-dead", out / ".fcrlab-staging-live", out / "keep"
    for folder, pid in ((stale, dead), (live, str(os.getpid())), (foreign, dead)):
        folder.mkdir()
        (folder / "pid").write_text(pid)
    broken = _notebook(tmp_path / "99_broken.ipynb", "raise ValueError('stop')")
    with pytest.raises(FcrlabError):
        run_report("parameters/sample.yaml", week="2026-W45", out=out, notebooks=(str(broken),))
    assert not stale.exists() and live.exists() and foreign.exists()


def test_I9_a_successful_report_is_silent_on_stderr_and_replaces_a_planted_link(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    victim = tmp_path / "elsewhere"
    victim.mkdir()
    (victim / "index.html").write_text("someone else's page")
    (out / "2026-W45").symlink_to(victim, target_is_directory=True)
    quiet = _notebook(tmp_path / "01_quiet.ipynb", "print('hello')")
    code = (
        "import sys\n"
        "from fcrlab.present.report import run_report\n"
        f"run_report('parameters/sample.yaml', week='2026-W45', out={str(out)!r}, "
        f"notebooks=({str(quiet)!r},))\n"
    )
    env = {**os.environ, "FCRLAB_SALT": "fcrlab-public-sample-salt"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no kernel transport warning, nothing else
    assert (victim / "index.html").read_text() == "someone else's page"
    week = out / "2026-W45"
    assert week.is_dir() and not week.is_symlink() and (week / "index.html").exists()


# ---------------------------------------------------------------------------- salts
def test_I10_salts_that_differ_after_64_bytes_give_different_pseudonyms():
    ids = pl.Series(["K0000001", "K0000002"])
    first = pseudonymise_ids(ids, "s" * 64 + "A").to_list()
    second = pseudonymise_ids(ids, "s" * 64 + "B").to_list()
    assert first != second and len(set(first)) == 2
    # Up to 64 bytes the salt is the key itself, as before (committed outputs keep their ids).
    assert (
        pseudonymise_ids(ids, "fcrlab-public-sample-salt").to_list()
        == pseudonymise_ids(ids, "fcrlab-public-sample-salt").to_list()
    )
