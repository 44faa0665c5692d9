"""Two checkouts of fcrlab timed in the same run: each one's own `fcrlab` contender of a
benchmark (repeats, gaps or deflection), interleaved with DuckDB, on the same input.

    git worktree add ../fcrlab-before <commit>
    python benchmarks/versions.py --before ../fcrlab-before --bench repeats --contacts 5000000
    python benchmarks/versions.py --before ../fcrlab-before --bench repeats --shape thin
    python benchmarks/versions.py --before ../fcrlab-before --bench gaps --contacts 10000000

Each contender is a whole process with `PYTHONPATH` set to its checkout. The machines here
drift by ±15 % over minutes, so it prints the minimum, the median and the CPU time (user +
system) of every contender over `--repeat` interleaved runs, and each as a ratio to `before`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def _bench(root: Path, name: str) -> ModuleType:
    """A checkout's own benchmark module (its `harness` imported from beside it)."""
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        path = root / "benchmarks" / f"bench_{name}.py"
        spec = importlib.util.spec_from_file_location(f"bench_{name}_{id(root)}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.pop(0)


def _snippet(module: ModuleType, bench: str, contender: str) -> str:
    contenders = module.CONTENDERS
    return contenders["contacts"][contender] if bench == "gaps" else contenders[contender]


def _inputs(module: ModuleType, bench: str, n: int, shape: str) -> list[str]:
    data = module.DATA
    if bench == "repeats":
        return [str(module.contacts_file(n, shape))]
    if bench == "gaps":
        path = data / f"gaps-contacts-{n}.parquet"
        if not path.exists():
            module.make_contacts(n, path)
        return [str(path)]
    contacts = data / f"deflection-contacts-utc-{n}.parquet"
    visits = data / f"deflection-visits-utc-{n}.parquet"
    if not contacts.exists() or not visits.exists():
        module.make_data(n, contacts, visits)
    return [str(contacts), str(visits)]


def _outputs(bench: str, name: str) -> list[str]:
    out = HERE / "data" / f"versions-{bench}-{name}"
    return (
        [f"{out}-calls.parquet", f"{out}-views.parquet"]
        if bench == "deflection"
        else [f"{out}.parquet"]
    )


def _run(code: str, args: list[str], root: Path | None) -> dict[str, float]:
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = str(root)
    began = time.perf_counter()
    # Run from the data folder: `python -c` puts the working folder first on the path, and a
    # checkout's root there would shadow the other one.
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args], env=env, cwd=HERE / "data"
    )
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("a contender failed")
    return {
        "seconds": time.perf_counter() - began,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_gib": usage.ru_maxrss / 1024 / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, type=Path, help="the older checkout")
    parser.add_argument("--after", type=Path, default=HERE.parent, help="default: this one")
    parser.add_argument("--bench", choices=["repeats", "gaps", "deflection"], required=True)
    parser.add_argument("--contacts", type=int, default=5_000_000)
    parser.add_argument("--shape", choices=["wide", "thin"], default="wide")
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args()
    before, after = _bench(args.before.resolve(), args.bench), _bench(args.after, args.bench)
    inputs = _inputs(after, args.bench, args.contacts, args.shape)
    contenders = {
        "before": (_snippet(before, args.bench, "fcrlab"), args.before.resolve()),
        "after": (_snippet(after, args.bench, "fcrlab"), args.after.resolve()),
        "duckdb": (_snippet(after, args.bench, "duckdb"), None),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, (code, root) in contenders.items():
            if args.bench == "deflection":
                call = [inputs[0], inputs[1], *_outputs(args.bench, name)]
            else:
                call = [*inputs, *_outputs(args.bench, name)]
            runs[name].append(_run(code, call, root))
    print(
        f"\n{args.bench}, {args.contacts:,} contacts"
        f"{f' ({args.shape})' if args.bench == 'repeats' else ''}, {args.repeat} runs each"
    )
    header = ("contender", "min s", "median s", "cpu s", "peak GiB", "min ÷", "median ÷", "cpu ÷")
    print(f"{header[0]:<10}" + "".join(f"{h:>10}" for h in header[1:]))
    base = runs["before"]
    base_min = min(r["seconds"] for r in base)
    base_median = statistics.median(r["seconds"] for r in base)
    base_cpu = min(r["cpu"] for r in base)
    for name, results in runs.items():
        low = min(r["seconds"] for r in results)
        median = statistics.median(r["seconds"] for r in results)
        cpu = min(r["cpu"] for r in results)
        peak = max(r["peak_gib"] for r in results)
        row = (low, median, cpu, peak, low / base_min, median / base_median, cpu / base_cpu)
        print(f"{name:<10}" + "".join(f"{v:>10.2f}" for v in row))


if __name__ == "__main__":
    main()
