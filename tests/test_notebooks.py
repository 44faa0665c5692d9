"""SPEC §4: notebooks take their parameters from one file, run headless, and only call fcrlab."""

from __future__ import annotations

import json
from pathlib import Path

import papermill
import pytest
import yaml

from fcrlab.params import Params, load_params
from fcrlab.present.report import KERNEL, NOTEBOOKS_DIR, notebook_parameters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("0*.ipynb"))
PARAMETER_FILES = sorted((ROOT / "parameters").glob("*.yaml"))
PATH_KEYS = ("contacts", "web_visits", "page_topics")


def parameters_cell(path: Path) -> dict:
    cells = json.loads(path.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell tagged parameters"
    namespace: dict = {}
    exec("".join(tagged[0]["source"]), {}, namespace)  # literals only, so this is safe
    return namespace


def test_there_are_notebooks_and_parameter_files():
    assert NOTEBOOKS and PARAMETER_FILES


@pytest.mark.parametrize("path", PARAMETER_FILES, ids=lambda p: p.name)
def test_every_parameters_file_validates(path):
    load_params(path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_declared_keys_are_known_parameters(path):
    # papermill only warns about unknown keys, so this test is what catches a typo.
    declared = papermill.inspect_notebook(str(path))
    unknown = sorted(set(declared) - set(Params.keys()))
    assert not unknown, f"{path.name} declares unknown parameters {unknown}"
    assert set(declared) == set(parameters_cell(path))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_defaults_are_the_bundled_sample(path):
    """Committed notebooks run on their defaults (make notebooks, nbval): those must be
    parameters/sample.yaml, with paths seen from notebooks/."""
    sample = yaml.safe_load((ROOT / "parameters" / "sample.yaml").read_text())
    defaults = parameters_cell(path)
    for key, value in defaults.items():
        if key in PATH_KEYS:
            assert (NOTEBOOKS_DIR / value).resolve() == (ROOT / sample[key]).resolve(), key
        elif key in sample:
            assert Params.from_mapping({key: value}) == Params.from_mapping({key: sample[key]}), key


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_only_call_fcrlab(path):
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "def " not in code and "class " not in code
    assert len(cells) <= 20


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_runs_with_the_sample_parameters_file(path, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # relative paths in a parameters file are from the project root
    values = load_params(ROOT / "parameters" / "sample.yaml").to_dict()
    for key in PATH_KEYS:
        values[key] = str((ROOT / values[key]).resolve())
    values["window"] = "72h"  # a value other than the default, to see it arrive
    executed = tmp_path / path.name
    papermill.execute_notebook(
        str(path),
        str(executed),
        parameters=notebook_parameters(path, values),
        kernel_name=KERNEL,
        cwd=str(NOTEBOOKS_DIR),
        progress_bar=False,
    )
    cells = json.loads(executed.read_text())["cells"]
    injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and 'window = "72h"' in "".join(injected[0]["source"])
    assert not [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
