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


def _modules() -> list[str]:
    """Every module of the package, as dotted names (`fcrlab.read.contacts`, `fcrlab.gaps`)."""
    names = []
    for path in sorted((ROOT / "fcrlab").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def test_importing_fcrlab_changes_nothing_in_the_process():
    """A library imported into someone's notebook: no environment variable, no exit handler,
    no thread, whatever of it is imported (every module, every name of the face). What the
    libraries it uses do when they load (polars sets its allocator's defaults) comes first."""
    code = (
        "import atexit, importlib, os, sys, threading\n"
        "import altair, ipywidgets, numpy, polars, scipy.stats, vl_convert, yaml\n"
        "env, handlers = dict(os.environ), atexit._ncallbacks()\n"
        "threads = threading.active_count()\n"
        "import fcrlab\n"
        "[getattr(fcrlab, name) for name in fcrlab.__all__]\n"
        f"for name in {_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "assert dict(os.environ) == env, set(os.environ.items()) ^ set(env.items())\n"
        "assert atexit._ncallbacks() == handlers, 'an exit handler was registered'\n"
        "assert threading.active_count() == threads, threading.enumerate()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_every_name_of_the_face_is_its_function_whatever_was_imported_before():
    # Submodules first: importing `fcrlab.online` sets the attribute `online` on the package,
    # so a name of `__all__` that were also a submodule's would turn into the module.
    code = (
        "import importlib, types\n"
        f"for name in {_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "import fcrlab\n"
        "for name in fcrlab.__all__:\n"
        "    value = getattr(fcrlab, name)\n"
        "    assert not isinstance(value, types.ModuleType), name\n"
        "    if name != '__version__':\n"
        "        assert value is getattr(importlib.import_module(fcrlab._HOME[name]), name)\n"
        "from fcrlab import deflection, knowledge_gaps\n"
        "assert callable(deflection) and callable(knowledge_gaps)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_top_level_names_load_on_first_use():
    code = (
        "import sys, fcrlab\n"
        "from fcrlab import label_repeats, load_contacts\n"
        "assert 'fcrlab.gaps' not in sys.modules and 'fcrlab.online' not in sys.modules\n"
        "assert 'polars' in sys.modules\n"
        "assert set(fcrlab.__all__) == {'__version__', *fcrlab._HOME}\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_version_is_the_package_metadata():
    import importlib.metadata

    import fcrlab

    assert fcrlab.__version__ == importlib.metadata.version("fcrlab")


# STYLE: data walks one way. A module may import only modules above it in this list (a module
# of a subpackage may also import the subpackage's modules above it); `fcrlab` itself, the
# face, is last: nothing inside the package imports from it.
LAYERS = [
    "fcrlab.errors",
    "fcrlab.version",
    "fcrlab.speed",
    "fcrlab.stats",
    "fcrlab.params",
    "fcrlab.read.files",
    "fcrlab.read.clock",
    "fcrlab.read._columns",
    "fcrlab.read.contacts",
    "fcrlab.read.web",
    "fcrlab.read",
    "fcrlab.privacy",
    "fcrlab.sample",
    "fcrlab.engine.grouping",
    "fcrlab.engine.input_order",
    "fcrlab.engine.repeats",
    "fcrlab.engine.chunks",
    "fcrlab.engine.sweep",
    "fcrlab.engine",
    "fcrlab.summary",
    "fcrlab.sensitivity",
    "fcrlab.gaps.cells",
    "fcrlab.gaps.signals",
    "fcrlab.gaps.weekly",
    "fcrlab.gaps.followups",
    "fcrlab.gaps",
    "fcrlab.online.pages",
    "fcrlab.online.callers",
    "fcrlab.online.impact",
    "fcrlab.online",
    "fcrlab.words",
    "fcrlab.present.charts",
    "fcrlab.present.widgets",
    "fcrlab.present.headline",
    "fcrlab.present.report",
    "fcrlab.present",
    "fcrlab.cli",
    "fcrlab",
]


def _imports(module: str) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import in `module`'s file, at any
    depth; `from fcrlab.x import y` where y is a submodule counts as importing that module."""
    path = ROOT / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.startswith("fcrlab")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fcrlab"):
            names = [alias.name for alias in node.names]
            submodules = [n for n in names if f"{node.module}.{n}" in LAYERS]
            found += [(f"{node.module}.{n}", []) for n in submodules]
            rest = [n for n in names if n not in submodules]
            if rest:
                found.append((node.module, rest))
    return found


def test_the_layer_list_names_every_module():
    assert sorted(LAYERS) == sorted(_modules())


def test_no_back_arrows_between_modules():
    for module in LAYERS:
        for imported, _ in _imports(module):
            assert imported in LAYERS, f"{module} imports {imported}, which is not a module"
            assert LAYERS.index(imported) < LAYERS.index(module), f"{module} imports {imported}"
    assert "from fcrlab" not in (ROOT / "fcrlab" / "stats.py").read_text(), "stats is alone"


def test_no_module_imports_an_underscore_name_or_another_package_s_private_module():
    for module in LAYERS:
        package = module.rsplit(".", 1)[0] if "." in module else module
        for imported, names in _imports(module):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{module} imports {private} from {imported}"
            home, _, last = imported.rpartition(".")
            if last.startswith("_"):
                assert home == package, f"{module} imports the private module {imported}"


def test_no_print_in_the_package():
    for path in (ROOT / "fcrlab").rglob("*.py"):
        if path.name == "cli.py":
            continue
        assert not re.search(r"^\s*print\(", path.read_text(), re.M), path.name
