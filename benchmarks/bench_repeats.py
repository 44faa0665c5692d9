"""Benchmark: fcrlab's full repeat labelling against the bare same-topic 7-day rule written as an
analyst would in DuckDB SQL (window LAG) and in pandas (groupby().shift()), and the floor (read +
sort by customer and time + write). Every contender is a whole process, Parquet in and out,
timed in the same run on the same file; peak memory is the child's max RSS.

    python benchmarks/bench_repeats.py                       # 1M contacts
    python benchmarks/bench_repeats.py --contacts 10000000   # the real run
    python benchmarks/bench_repeats.py --contacts 100000000 --only fcrlab_chunked
    python benchmarks/bench_repeats.py --contacts 5000000 --shape thin   # a thin export

`--shape thin` keeps the five columns most real exports have (id, customer, time, channel,
topic); `wide` (the default) adds team, resolved and conversation_id.

fcrlab's contenders start with `fcrlab.cli.tune_process()`, what the `fcrlab` command does for
its own process (the library itself never touches the process it is imported into).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
from harness import best_of, print_table, timed_process

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"

TOPICS = [
    f"{family}/{sub}"
    for family, subs in {
        "billing": ["invoice-incorrect", "payment-failed", "refund", "direct-debit"],
        "mobile": ["roaming", "data-bundle", "sim-activation", "coverage"],
        "tv": ["no-signal", "decoder", "channels"],
        "internet": ["outage", "slow", "router", "installation"],
        "moving": ["new-address", "transfer-contract"],
        "contract": ["cancel", "upgrade", "price"],
    }.items()
    for sub in subs
]


THIN = ("contact_id", "customer_id", "started_at", "channel", "topic")


def contacts_file(n: int, shape: str = "wide") -> Path:
    """The benchmark's input of `n` contacts in `shape` (made on first use)."""
    wide = DATA / f"contacts-{n}.parquet"
    if not wide.exists():
        print(f"generating {n:,} contacts …", flush=True)
        make_contacts(n, wide)
    if shape == "wide":
        return wide
    thin = DATA / f"thin-{n}.parquet"
    if not thin.exists():
        pl.read_parquet(wide, columns=list(THIN)).write_parquet(thin, row_group_size=1_000_000)
    return thin


def make_contacts(
    n: int, path: Path, seed: int = 1, first_id: int = 0, customers: int | None = None
) -> None:
    """N contacts of N/4 customers over a year: ~25 % of contacts come back within days.
    `first_id` and `customers` let several files form one input (a glob of exports)."""
    rng = np.random.default_rng(seed)
    customers = customers or max(1, n // 4)
    start = np.datetime64("2026-01-01T00:00:00", "us")
    seconds = rng.integers(0, 365 * 24 * 3600, n)
    # A quarter of the contacts follow another one of the same customer within hours to days.
    follow = rng.random(n) < 0.25
    customer = rng.integers(0, customers, n)
    customer[1:][follow[1:]] = customer[:-1][follow[1:]]
    seconds[1:][follow[1:]] = seconds[:-1][follow[1:]] + rng.integers(
        600, 9 * 24 * 3600, follow[1:].sum()
    )
    topic = rng.integers(0, len(TOPICS), n)
    topic[1:][follow[1:]] = topic[:-1][follow[1:]]
    conversation = np.where(rng.random(n) < 0.05, rng.integers(0, n, n), -1)
    frame = pl.DataFrame(
        {
            "contact_id": pl.Series(np.arange(first_id, first_id + n))
            .cast(pl.String)
            .str.pad_start(10, "0"),
            "customer_id": pl.Series(customer).cast(pl.String).str.pad_start(9, "0"),
            "started_at": pl.Series(start + seconds.astype("timedelta64[s]")).cast(
                pl.Datetime("us")
            ),
            "channel": pl.Series(rng.choice(["phone", "chat", "email", "social"], n)),
            "topic": pl.Series(TOPICS).gather(pl.Series(topic)),
            "team": pl.Series(rng.choice(["north", "south", "east", "west", "care"], n)),
            "resolved": pl.Series(rng.random(n) < 0.9),
            "conversation_id": pl.Series(conversation).cast(pl.String).replace("-1", None),
        }
    ).sample(fraction=1.0, shuffle=True, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, row_group_size=1_000_000)


FCRLAB = """
import sys
from fcrlab.cli import tune_process
tune_process()
from fcrlab import Params, label_repeats, load_contacts
from fcrlab.engine.repeats import LABEL_COLUMNS
from fcrlab.read.files import write_frame
params = Params()
contacts = load_contacts(sys.argv[1], params)
write_frame(label_repeats(contacts, params).select(LABEL_COLUMNS), sys.argv[2])
"""

FCRLAB_CHUNKED = """
import sys
from fcrlab.cli import tune_process
tune_process()
from fcrlab import Params
from fcrlab.engine.chunks import label_repeats_in_chunks
label_repeats_in_chunks(sys.argv[1], sys.argv[2], Params(), chunks=int(sys.argv[3]))
"""

DUCKDB = """
import sys, duckdb
duckdb.sql(f'''
COPY (
  SELECT *,
         started_at - LAG(started_at) OVER w <= INTERVAL 7 DAY AS is_repeat,
         LAG(contact_id) OVER w AS repeat_of
  FROM read_parquet('{sys.argv[1]}')
  WINDOW w AS (PARTITION BY customer_id, topic ORDER BY started_at, contact_id)
) TO '{sys.argv[2]}' (FORMAT parquet)
''')
"""

PANDAS = """
import sys, pandas as pd
df = pd.read_parquet(sys.argv[1])
df = df.sort_values(["customer_id", "topic", "started_at", "contact_id"])
previous = df.groupby(["customer_id", "topic"])["started_at"].shift()
df["is_repeat"] = (df["started_at"] - previous) <= pd.Timedelta(days=7)
df["repeat_of"] = df.groupby(["customer_id", "topic"])["contact_id"].shift().where(df["is_repeat"])
df.to_parquet(sys.argv[2])
"""

FLOOR = """
import sys, polars as pl
frame = pl.read_parquet(sys.argv[1]).sort("customer_id", "started_at")
frame.write_parquet(sys.argv[2], compression="uncompressed", statistics=False)
"""

CONTENDERS = {
    "fcrlab": FCRLAB,
    "duckdb": DUCKDB,
    "pandas": PANDAS,
    "floor": FLOOR,
    "fcrlab_chunked": FCRLAB_CHUNKED,
}


def run(name: str, source: Path, chunks: int) -> dict[str, float]:
    out = DATA / f"out-{name}.parquet"
    out.unlink(missing_ok=True)
    args = [sys.executable, "-c", textwrap.dedent(CONTENDERS[name]), str(source), str(out)]
    if name == "fcrlab_chunked":
        args.append(str(chunks))
    return timed_process(args, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (best is kept)")
    parser.add_argument("--only", nargs="*", choices=list(CONTENDERS))
    parser.add_argument("--chunks", type=int, default=8, help="chunks for fcrlab_chunked")
    parser.add_argument("--files", type=int, default=1, help="split the input in N files (a glob)")
    parser.add_argument("--shape", choices=["wide", "thin"], default="wide")
    args = parser.parse_args()
    if args.files == 1:
        source = contacts_file(args.contacts, args.shape)
    else:
        folder = DATA / f"contacts-{args.contacts}-in-{args.files}"
        source = folder / "part-*.parquet"
        per_file = args.contacts // args.files
        for i in range(args.files):
            part = folder / f"part-{i:03d}.parquet"
            if not part.exists():
                print(f"generating part {i + 1} of {args.files} …", flush=True)
                make_contacts(
                    per_file, part, seed=i + 1, first_id=i * per_file, customers=args.contacts // 4
                )
    names = args.only or ["floor", "fcrlab", "duckdb", "pandas"]
    if "pandas" in names and args.contacts > 20_000_000:
        names.remove("pandas")  # pandas needs far more memory than the machine has at this size
    results = best_of(names, args.repeat, lambda name: run(name, source, args.chunks))
    print(
        f"\n{args.contacts:,} contacts ({args.shape}), {platform.processor() or platform.machine()}"
        f", {os.cpu_count()} cores, best of {args.repeat}"
    )
    print_table(results, against=("duckdb", "fcrlab"))
    RESULTS.mkdir(exist_ok=True)
    name = f"repeats-{args.contacts}-{args.shape}.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
