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


def print_table(results: dict[str, dict[str, float]], against: Sequence[str] = ("duckdb",)) -> None:
    """Seconds, peak memory and the ratio to each contender in `against` (when it ran)."""
    width = max(len("contender"), *map(len, results)) + 2
    print(f"{'contender':<{width}}{'seconds':>9}{'peak GiB':>10}", end="")
    print("".join(f"{'÷ ' + other:>10}" for other in against))
    for name, r in results.items():
        ratios = (
            r["seconds"] / results[other]["seconds"] if other in results else float("nan")
            for other in against
        )
        print(f"{name:<{width}}{r['seconds']:>9.2f}{r['peak_gib']:>10.2f}", end="")
        print("".join(f"{ratio:>10.2f}" for ratio in ratios))
