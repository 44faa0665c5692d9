"""What every benchmark here shares: a contender is a whole child process, timed from start to
exit, with its peak memory; contenders run interleaved and the best of N is kept."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence


def timed_process(args: Sequence[str], name: str) -> dict[str, float]:
    """Run `args` as a child process; its wall time and peak resident memory (max RSS)."""
    began = time.perf_counter()
    process = subprocess.Popen(list(args))
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name} failed")
    return {"seconds": seconds, "peak_gib": usage.ru_maxrss / 1024 / 1024}


def best_of(
    names: Sequence[str], repeat: int, run: Callable[[str], dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Each contender's fastest of `repeat` runs, interleaved so that drift in the machine hits
    every contender alike."""
    results: dict[str, dict[str, float]] = {}
    for _ in range(repeat):
        for name in names:
            result = run(name)
            best = results.get(name)
            if best is None or result["seconds"] < best["seconds"]:
                results[name] = result
    return results
