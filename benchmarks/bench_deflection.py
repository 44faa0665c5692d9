"""Benchmark: the two time questions of online-to-phone deflection — was the caller online in the
24 h before the call (and on which page last), and was each page view followed by a call within
24 h — in fcrlab against the same two questions written as an analyst would in DuckDB SQL
(`ASOF JOIN`s). Every contender is a whole process, Parquet in and out, timed in the same run on
the same files; peak memory is the child's max RSS. The answers are compared at the end.

    python benchmarks/bench_deflection.py                       # 1M contacts, 2M page views
    python benchmarks/bench_deflection.py --contacts 10000000   # 10M contacts, 20M page views
    python benchmarks/bench_deflection.py --only fcrlab_full    # the whole `deflection()` too

Contenders:
- `fcrlab`: the public loaders (every check of SPEC §1: ids, time zones, duplicates, errors)
  and `fcrlab.engine.sweep.calls_and_views` (one sort for both questions), written with
  `write_frame`.
- `fcrlab_kernel`: the same two sweeps on frames read with plain `pl.read_parquet` (the floor of
  the approach, without the loaders' checks).
- `duckdb`: two `ASOF LEFT JOIN`s and the 24 h test, `COPY … TO` Parquet.
- `fcrlab_20m_chunks`: `fcrlab` with the sweep in customer-hash chunks of at most 20M events.
- `import`: start Python and import fcrlab, nothing else (the fixed cost in each fcrlab time).
- `fcrlab_full`: the whole `deflection()` (repeat labels, ledgers, page rates with intervals,
  matrix, money) for reference; not part of the default set.

fcrlab's contenders start with `fcrlab.cli.tune_process()`, what the `fcrlab` command does for
its own process (the library itself never touches the process it is imported into).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
from harness import best_of, print_table, timed_process

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"

PAGES = [
    "/",
    "/account",
    "/account/invoices",
    "/contact",
    "/help",
    *[f"/help/{p}" for p in ("invoice", "payment", "refund", "roaming", "data-bundle", "sim")],
    *[f"/help/tv/{p}" for p in ("no-signal", "decoder", "channels")],
    *[f"/help/internet/{p}" for p in ("outage", "slow", "router")],
    "/help/moving",
    *[f"/shop/{p}" for p in ("mobile", "tv", "internet", "deals")],
]
TOPICS = [
    "billing/invoice-incorrect",
    "billing/payment-failed",
    "billing/refund",
    "mobile/roaming",
    "mobile/data-bundle",
    "mobile/sim-activation",
    "tv/no-signal",
    "tv/decoder",
    "tv/channels",
    "internet/outage",
    "internet/slow",
    "internet/router",
    "moving/new-address",
]
PAGE_TOPICS = {
    "/help/invoice": "billing/invoice-incorrect",
    "/help/payment": "billing/payment-failed",
    "/help/refund": "billing/refund",
    "/help/roaming": "mobile/roaming",
    "/help/data-bundle": "mobile/data-bundle",
    "/help/sim": "mobile/sim-activation",
    "/help/tv/*": "tv",
    "/help/internet/*": "internet",
    "/help/moving": "moving",
}
YEAR_SECONDS = 365 * 24 * 3600


def make_data(n: int, contacts_path: Path, visits_path: Path, seed: int = 1) -> None:
    """N phone contacts of N/4 customers over a year and 2N page views: a session of one or two
    views before half of the contacts (minutes to hours before), the rest browsing by contacting
    and web-only customers. Times are UTC instants (Parquet timestamps adjusted to UTC), which
    both contenders read as such: no local-time conversion on either side."""
    rng = np.random.default_rng(seed)
    customers = max(1, n // 4)
    start = np.datetime64("2026-01-01T00:00:00", "us")
    contact_customer = rng.integers(0, customers, n)
    contact_seconds = rng.integers(0, YEAR_SECONDS, n)
    contacts = pl.DataFrame(
        {
            "contact_id": pl.Series(np.arange(n)).cast(pl.String).str.pad_start(10, "0"),
            "customer_id": pl.Series(contact_customer).cast(pl.String).str.pad_start(9, "0"),
            "started_at": pl.Series(
                start + contact_seconds.astype("timedelta64[s]")
            ).dt.replace_time_zone("UTC"),
            "channel": pl.Series(["phone"]).gather(pl.Series(np.zeros(n, dtype=np.uint32))),
            "topic": pl.Series(TOPICS).gather(pl.Series(rng.integers(0, len(TOPICS), n))),
        }
    ).sample(fraction=1.0, shuffle=True, seed=seed)
    m = 2 * n
    before = rng.random(n) < 0.5
    k = int(before.sum())
    session_customer = contact_customer[before]
    session_seconds = contact_seconds[before] - rng.integers(60, 6 * 3600, k)
    rest = m - k
    browse_customer = rng.integers(0, customers * 3, rest)  # two thirds web-only customers
    browse_seconds = rng.integers(0, YEAR_SECONDS, rest)
    visits = pl.DataFrame(
        {
            "customer_id": pl.Series(np.concatenate([session_customer, browse_customer]))
            .cast(pl.String)
            .str.pad_start(9, "0"),
            "visited_at": pl.Series(
                start + np.concatenate([session_seconds, browse_seconds]).astype("timedelta64[s]")
            ).dt.replace_time_zone("UTC"),
            "page": pl.Series(PAGES).gather(pl.Series(rng.integers(0, len(PAGES), m))),
        }
    ).sample(fraction=1.0, shuffle=True, seed=seed + 1)
    contacts_path.parent.mkdir(parents=True, exist_ok=True)
    contacts.write_parquet(contacts_path, row_group_size=1_000_000)
    visits.write_parquet(visits_path, row_group_size=1_000_000)


FCRLAB = """
import sys
from fcrlab.cli import tune_process
tune_process()
import datetime as dt
import polars as pl
from fcrlab import Params, load_contacts, load_web_visits
from fcrlab.engine.sweep import calls_and_views
from fcrlab.read.files import write_frame
params = Params(timezone="UTC")
calls = load_contacts(sys.argv[1], params).frame
views = load_web_visits(sys.argv[2], params).frame
window = dt.timedelta(hours=24)
per_call, per_view = calls_and_views(calls, views, window)
write_frame(calls.select("contact_id").with_columns(per_call), sys.argv[3])
followed = per_view["followed_by_call"]
views = views.select("customer_id", "visited_at", "page", followed_by_call=followed)
write_frame(views, sys.argv[4])
"""

FCRLAB_KERNEL = """
import sys
from fcrlab.cli import tune_process
tune_process()
import datetime as dt
import polars as pl
from fcrlab.engine.sweep import calls_and_views
from fcrlab.read.files import write_frame
calls = pl.read_parquet(sys.argv[1]).rechunk()
views = pl.read_parquet(sys.argv[2]).rechunk()
window = dt.timedelta(hours=24)
per_call, per_view = calls_and_views(calls, views, window)
write_frame(calls.select("contact_id").with_columns(per_call), sys.argv[3])
write_frame(views.with_columns(followed_by_call=per_view["followed_by_call"]), sys.argv[4])
"""

DUCKDB = """
import sys, duckdb
contacts, visits, out_calls, out_views = sys.argv[1:5]
duckdb.sql("SET enable_progress_bar = false")
duckdb.sql(f'''
COPY (
  SELECT c.contact_id,
         coalesce(v.visited_at >= c.started_at - INTERVAL 24 HOUR, false) AS online_before,
         CASE WHEN v.visited_at >= c.started_at - INTERVAL 24 HOUR THEN v.page END AS last_page,
         CASE WHEN v.visited_at >= c.started_at - INTERVAL 24 HOUR
              THEN epoch_us(c.started_at - v.visited_at) / 60e6 END AS minutes_since_web
  FROM read_parquet('{contacts}') c
  ASOF LEFT JOIN read_parquet('{visits}') v
    ON c.customer_id = v.customer_id AND c.started_at > v.visited_at
) TO '{out_calls}' (FORMAT parquet)
''')
duckdb.sql(f'''
COPY (
  SELECT v.*,
         coalesce(c.started_at <= v.visited_at + INTERVAL 24 HOUR, false) AS followed_by_call
  FROM read_parquet('{visits}') v
  ASOF LEFT JOIN read_parquet('{contacts}') c
    ON v.customer_id = c.customer_id AND v.visited_at < c.started_at
) TO '{out_views}' (FORMAT parquet)
''')
"""

FCRLAB_FULL = """
import sys
from fcrlab.cli import tune_process
tune_process()
from fcrlab import Params, deflection, load_contacts, load_page_topics, load_web_visits
from fcrlab.read.files import write_frame
PAGE_TOPICS = {page_topics}
change = {{"page": "/help/invoice", "date": "2026-07-01"}}
params = Params.from_mapping({{"timezone": "UTC", "change": change}})
result = deflection(
    load_contacts(sys.argv[1], params),
    params,
    visits=load_web_visits(sys.argv[2], params),
    page_topics=load_page_topics(PAGE_TOPICS, params),
)
write_frame(result.per_contact, sys.argv[3])
write_frame(result.pages, sys.argv[4])
"""

# The same as `fcrlab`, with the sweep in chunks by customer hash of at most 20M events (the
# default chunk is 5M events; this shows what larger chunks cost in time and memory).
FCRLAB_20M_CHUNKS = FCRLAB.replace(
    "from fcrlab.engine.sweep import calls_and_views",
    "from fcrlab.engine import sweep\nfrom fcrlab.engine.sweep import calls_and_views\n"
    "sweep.CHUNK_ROWS = 20_000_000",
)

# Starting Python and importing fcrlab alone: the fixed cost inside every fcrlab time above.
IMPORT = """
import fcrlab, fcrlab.cli, fcrlab.engine.sweep
"""

CONTENDERS = {
    "import": IMPORT,
    "fcrlab": FCRLAB,
    "fcrlab_20m_chunks": FCRLAB_20M_CHUNKS,
    "fcrlab_kernel": FCRLAB_KERNEL,
    "duckdb": DUCKDB,
    "fcrlab_full": FCRLAB_FULL.format(page_topics=repr(PAGE_TOPICS)),
}


def run(name: str, contacts: Path, visits: Path) -> dict[str, float]:
    outs = [
        DATA / f"deflection-out-{name}-calls.parquet",
        DATA / f"deflection-out-{name}-views.parquet",
    ]
    for out in outs:
        out.unlink(missing_ok=True)
    source = textwrap.dedent(CONTENDERS[name])
    args = [sys.executable, "-c", source, str(contacts), str(visits), *map(str, outs)]
    return timed_process(args, name)


def answers(name: str) -> dict[str, int]:
    """What a contender found: calls online before, views followed by a call."""
    calls = pl.scan_parquet(DATA / f"deflection-out-{name}-calls.parquet")
    views = pl.scan_parquet(DATA / f"deflection-out-{name}-views.parquet")
    return {
        "calls": calls.select(pl.len()).collect().item(),
        "online_before": calls.select(pl.col("online_before").sum()).collect().item(),
        "views": views.select(pl.len()).collect().item(),
        "followed_by_call": views.select(pl.col("followed_by_call").sum()).collect().item(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (best is kept)")
    parser.add_argument("--only", nargs="*", choices=list(CONTENDERS))
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    contacts = DATA / f"deflection-contacts-utc-{args.contacts}.parquet"
    visits = DATA / f"deflection-visits-utc-{args.contacts}.parquet"
    if args.generate_only:
        make_data(args.contacts, contacts, visits)
        return
    if not contacts.exists() or not visits.exists():
        print(f"generating {args.contacts:,} contacts and {2 * args.contacts:,} views", flush=True)
        # In a child process: a forked child's peak RSS would include this process's memory.
        subprocess.run(
            [sys.executable, __file__, "--contacts", str(args.contacts), "--generate-only"],
            check=True,
        )
    names = args.only or ["import", "fcrlab", "fcrlab_kernel", "fcrlab_20m_chunks", "duckdb"]
    results = best_of(names, args.repeat, lambda name: run(name, contacts, visits))
    print(
        f"\n{args.contacts:,} contacts, {2 * args.contacts:,} page views, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"best of {args.repeat}"
    )
    print_table(results)
    found = {name: answers(name) for name in results if name not in ("import", "fcrlab_full")}
    for name, counts in found.items():
        print(f"{name:<19}" + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if len({json.dumps(c, sort_keys=True) for c in found.values()}) > 1:
        print("warning: the contenders disagree")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"deflection-{args.contacts}.json").write_text(
        json.dumps({"timings": results, "answers": found}, indent=2)
    )


if __name__ == "__main__":
    main()
