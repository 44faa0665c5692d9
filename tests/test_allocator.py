"""What `import fcrlab` sets up for the whole process: the allocator, and a fast exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# A child that reports the allocator settings polars starts with.
CHILD = """
import os
import fcrlab, polars as pl
assert pl.select(pl.int_range(1000).sum()).item() == 499500
print(os.environ.get("_RJEM_MALLOC_CONF", ""))
"""


def _effective(conf: str) -> dict[str, str]:
    """jemalloc's options from a `_RJEM_MALLOC_CONF` string: the last value of a key wins
    (polars puts its own defaults in front of what it finds)."""
    return dict(pair.split(":", 1) for pair in conf.split(",") if pair)


def _child(env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"} | env
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    assert out.stderr == "", out.stderr  # jemalloc warns on stderr about an unknown option
    return _effective(out.stdout.strip())


def test_allocator_keeps_freed_memory_for_ten_seconds() -> None:
    conf = _child({})
    assert conf["dirty_decay_ms"] == "10000" and conf["muzzy_decay_ms"] == "0"
    # Transparent huge pages stay the system's choice: in November they caused compaction
    # stalls here (benchmarks/README.md).
    assert "thp" not in conf


def test_allocator_setting_of_the_user_wins() -> None:
    conf = _child({"_RJEM_MALLOC_CONF": "muzzy_decay_ms:5"})
    assert conf["muzzy_decay_ms"] == "5"
    assert conf["dirty_decay_ms"] == "500"  # polars' own, not fcrlab's


# A child that registers a check before `import fcrlab` (so it runs after fcrlab's handler:
# atexit runs last-registered first) and a temporary directory that must still be removed.
EXIT_CHILD = """
import atexit, gc, os, sys, tempfile
atexit.register(lambda: print("frozen", gc.get_freeze_count() > 0, flush=True))
import fcrlab
folder = tempfile.TemporaryDirectory()
print("folder", folder.name, flush=True)
"""


def test_exit_skips_the_last_collections_and_still_cleans_up() -> None:
    out = subprocess.run(
        [sys.executable, "-c", EXIT_CHILD], capture_output=True, text=True, check=True
    )
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["frozen"] == "True"
    assert not Path(lines["folder"]).exists()
