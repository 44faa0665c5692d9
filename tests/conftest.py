"""Shared fixtures: one report run on the bundled sample serves every test that reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots of the browser tests (git-ignored)


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`fcrlab report` on parameters/sample.yaml for 2026-W45; returns its index.html."""
    import os

    from fcrlab.present.report import run_report

    out = tmp_path_factory.mktemp("reports")
    here = Path.cwd()
    os.chdir(ROOT)  # relative paths in a parameters file are from the project root
    try:
        return run_report("parameters/sample.yaml", week="2026-W45", out=out)
    finally:
        os.chdir(here)
