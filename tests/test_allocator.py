"""What `import fcrlab` sets up for the whole process: the allocator, and a fast exit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")

# A child that allocates ~400 MB through polars and reports its allocator settings and how
# much of its memory sits in huge pages.
CHILD = """
import os, sys
import fcrlab, polars as pl
frame = pl.select(a=pl.int_range(50_000_000)).with_columns(b=pl.col("a") * 2)
huge = 0
if sys.platform == "linux":
    rollup = open("/proc/self/smaps_rollup").read()
    huge = int(rollup.split("AnonHugePages:")[1].split()[0])
print(os.environ.get("_RJEM_MALLOC_CONF", ""), huge, frame["b"].sum())
"""


def _effective(conf: str) -> dict[str, str]:
    """jemalloc's options from a `_RJEM_MALLOC_CONF` string: the last value of a key wins
    (polars puts its own defaults in front of what it finds)."""
    return dict(pair.split(":", 1) for pair in conf.split(",") if pair)


def _child(env: dict[str, str]) -> tuple[str, int, int]:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"} | env
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    assert out.stderr == "", out.stderr  # jemalloc warns on stderr about an unknown option
    conf, huge, total = out.stdout.split()
    return conf, int(huge), int(total)


def test_allocator_keeps_memory_and_asks_for_huge_pages() -> None:
    conf, huge, total = _child({})
    assert _effective(conf) == {"dirty_decay_ms": "10000", "muzzy_decay_ms": "0", "thp": "always"}
    assert total == 2 * sum(range(50_000_000))
    enabled = THP.read_text() if THP.exists() else ""
    if sys.platform == "linux" and re.search(r"\[(always|madvise)\]", enabled):
        assert huge > 100 * 1024, f"only {huge} kB in huge pages"  # of ~800 MB touched


def test_allocator_setting_of_the_user_wins() -> None:
    conf, huge, _ = _child({"_RJEM_MALLOC_CONF": "thp:never"})
    assert _effective(conf)["thp"] == "never"
    assert _effective(conf)["dirty_decay_ms"] == "500"  # polars' own, not fcrlab's
    if sys.platform == "linux":
        assert huge == 0 or "[always]" in (THP.read_text() if THP.exists() else "")


@pytest.mark.skipif(sys.platform != "linux", reason="jemalloc and /proc are Linux's here")
def test_without_fcrlab_polars_uses_small_pages() -> None:
    # The check above would pass vacuously if polars asked for huge pages by itself.
    code = CHILD.replace("import fcrlab, polars", "import polars")
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    huge = int(out.stdout.split()[1])
    enabled = THP.read_text() if THP.exists() else ""
    if "[always]" not in enabled:
        assert huge == 0


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
