"""What the `fcrlab` command does to its own process (and only there: importing the library
changes nothing, `test_project`): the allocator's decay, and a fast exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A child that runs the command as `fcrlab validate …` does (main() reading sys.argv), then
# reports the allocator settings polars started with and whether the exit froze the heap.
# The check at exit is registered first, so it runs after the command's own handler.
CHILD = """
import atexit, gc, os, sys
atexit.register(lambda: print("frozen", gc.get_freeze_count() > 0, flush=True))
sys.argv = ["fcrlab", "validate", "data/contacts.parquet"]
from fcrlab.cli import main
assert main() == 0
print("conf", os.environ.get("_RJEM_MALLOC_CONF", ""), flush=True)
"""


def _effective(conf: str) -> dict[str, str]:
    """jemalloc's options from a `_RJEM_MALLOC_CONF` string: the last value of a key wins
    (polars puts its own defaults in front of what it finds)."""
    return dict(pair.split(":", 1) for pair in conf.split(",") if pair)


def _child(env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"} | env
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stderr == "", out.stderr  # jemalloc warns on stderr about an unknown option
    lines = [
        line.split(" ", 1) for line in out.stdout.splitlines() if line[:5] in ("conf ", "froze")
    ]
    return dict(lines)


def test_the_command_keeps_freed_memory_for_ten_seconds_and_freezes_at_exit() -> None:
    seen = _child({})
    conf = _effective(seen["conf"])
    assert conf["dirty_decay_ms"] == "10000" and conf["muzzy_decay_ms"] == "0"
    assert "thp" not in conf  # transparent huge pages stay the system's choice
    assert seen["frozen"] == "True"


def test_the_allocator_setting_of_the_user_wins() -> None:
    conf = _effective(_child({"_RJEM_MALLOC_CONF": "muzzy_decay_ms:5"})["conf"])
    assert conf["muzzy_decay_ms"] == "5"
    assert conf["dirty_decay_ms"] == "500"  # polars' own, not fcrlab's


def test_main_called_from_python_leaves_the_process_alone(capsys) -> None:
    import polars  # noqa: F401  (polars sets its own allocator defaults when it loads)

    from fcrlab.cli import main

    before = os.environ.get("_RJEM_MALLOC_CONF")
    assert main(["validate", str(ROOT / "data" / "contacts.parquet")]) == 0
    assert os.environ.get("_RJEM_MALLOC_CONF") == before
