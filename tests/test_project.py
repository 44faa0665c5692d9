"""Repository rules that a test can keep: pyproject ↔ environment.yml, imports, layering."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _requirement(text: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", text)
    assert match, text
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        wanted += extra
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [d for d in env["dependencies"] if isinstance(d, dict)]
    conda_reqs = dict(_requirement(d) for d in conda if not d.startswith(("python", "pip")))
    assert conda_reqs == dict(_requirement(d) for d in wanted)
    python = next(d for d in conda if d.startswith("python"))
    assert python.replace("python", "") == project["requires-python"]
    assert pip == [{"pip": ["-e ."]}]


def test_constraints_pin_every_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [_requirement(d)[0] for d in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        names += [_requirement(d)[0] for d in extra]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    missing = [n for n in names if n not in pins]
    assert not missing, f"constraints.txt lacks {missing}: run make lock"


def test_package_imports_without_pandas():
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import fcrlab, fcrlab.cli, fcrlab.summary\n"
        "[getattr(fcrlab, name) for name in fcrlab.__all__]\n"  # the lazily loaded ones too
        "assert 'pandas' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_top_level_names_load_on_first_use_and_are_the_modules_own():
    # `from fcrlab import label_repeats` loads only what it needs; every name of __all__ is
    # the object of the module it comes from, and the lazy table and __all__ agree.
    code = (
        "import sys, importlib, fcrlab\n"
        "from fcrlab import label_repeats, load_contacts\n"
        "assert 'fcrlab.gaps' not in sys.modules and 'fcrlab.online' not in sys.modules\n"
        "assert set(fcrlab.__all__) == {'__version__', *fcrlab._HOME}\n"
        "for name, home in fcrlab._HOME.items():\n"
        "    assert getattr(fcrlab, name) is getattr(importlib.import_module(home), name)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# STYLE: data walks one way. A module may import only modules to its left.
LAYERS = [
    "errors",
    "version",
    "speed",
    "stats",
    "params",
    "read",
    "privacy",
    "engine",
    "summary",
    "sensitivity",
    "gaps",
    "online",
    "words",
    "present",
    "sample",
    "cli",
]


def test_no_back_arrows_between_modules():
    for path in sorted((ROOT / "fcrlab").glob("*.py")):
        name = path.stem
        if name not in LAYERS:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("fcrlab.")
            ):
                other = node.module.split(".")[1]
                if other in LAYERS:
                    assert LAYERS.index(other) < LAYERS.index(name), f"{name} imports {other}"
        if name == "stats":
            assert "from fcrlab" not in path.read_text(), "stats imports nothing of ours"


def test_no_print_in_the_package():
    for path in (ROOT / "fcrlab").glob("*.py"):
        if path.name == "cli.py":
            continue
        assert not re.search(r"^\s*print\(", path.read_text(), re.M), path.name
