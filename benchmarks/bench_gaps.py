"""Benchmark: `gaps` on N contacts in fcrlab against the same per-cell aggregation written as an
analyst would in DuckDB SQL (episodes and fixes per (topic, team) and (topic, agent) with the
peers' FCR). Every contender is a whole process (imports included), Parquet in and out, timed
in the same run on the same file, best of N, interleaved; peak memory is the child's max RSS.
The cells of every contender are compared at the end.

    python benchmarks/bench_gaps.py                                 # 1M contacts
    python benchmarks/bench_gaps.py --contacts 10000000             # the issue's size
    python benchmarks/bench_gaps.py --contacts 10000000 --from labels

`--from contacts` (default, the issue's measure): both sides start from the raw contacts, so
both must find the repeats to know which episodes were fixed.
- `fcrlab`: `load_contacts` (every SPEC §1 check), `knowledge_gaps(...).cells` (repeat labels,
  then the cells with Fisher's test, BH and shrinkage); writes the cells.
- `duckdb`: `LAG`/`LEAD` over (customer, topic) for the 7-day rule, then the per-cell
  aggregation and peer FCR; writes the cells.
- `fcrlab_all`: every table of the analysis (mix adjustment, weekly spikes, follow-ups, signals
  and AUCs, training needs) besides the cells.

`--from labels`: the gaps step alone, on contacts labelled once beforehand with fcrlab.
- `fcrlab`: `knowledge_gaps(pl.scan_parquet(...), params).cells`.
- `duckdb`: the per-cell aggregation and peer FCR only.
- `polars_cells`: the same per-cell aggregation as a plain polars group_by (the issue's 1.6×).
- `fcrlab_all`: every table, as above.

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

TOPICS = [
    f"{family}/{sub}"
    for family, subs in {
        "billing": ["invoice-incorrect", "payment-failed", "refund"],
        "mobile": ["roaming", "data-bundle", "sim-activation"],
        "tv": ["no-signal", "decoder", "channels"],
        "internet": ["outage", "slow", "router"],
        "moving": ["new-address", "transfer-contract"],
    }.items()
    for sub in subs
]
TEAMS = ["north", "south", "east", "west", "care"]


def make_contacts(n: int, path: Path, seed: int = 1) -> None:
    """N contacts of N/4 customers over half a year: questions with a topic-dependent fix chance
    (0.60–0.86), an unfixed one coming back 10 minutes to 6 days later; 50 agents in 5 teams."""
    rng = np.random.default_rng(seed)
    questions = int(n / 1.2) + 10
    customer = rng.integers(0, max(1, n // 4), questions)
    start = rng.integers(0, 182 * 86_400, questions)
    topic = rng.integers(0, len(TOPICS), questions)
    agent = rng.integers(0, 50, questions)
    fixed = rng.random(questions) < 0.6 + 0.02 * topic
    back = np.flatnonzero(~fixed)
    rows = np.concatenate([np.arange(questions), back])
    seconds = np.concatenate([start, start[back] + rng.integers(600, 6 * 86_400, back.size)])
    pick = rng.permutation(rows.size)[:n]  # shuffled: the input is in no useful order
    rows, seconds = rows[pick], seconds[pick]
    was_fixed = fixed[rows]
    frame = pl.DataFrame(
        {
            "contact_id": pl.Series(np.arange(n)).cast(pl.String).str.pad_start(10, "0"),
            "customer_id": pl.Series(customer[rows]).cast(pl.String).str.pad_start(9, "0"),
            "started_at": pl.Series(
                np.datetime64("2026-06-01T00:00:00", "us") + seconds.astype("timedelta64[s]")
            ),
            "channel": pl.Series(rng.choice(["phone", "chat", "email"], n)),
            "topic": pl.Series(TOPICS).gather(pl.Series(topic[rows])),
            "agent_id": "A" + pl.Series(agent[rows] + 1).cast(pl.String).str.pad_start(3, "0"),
            "team": pl.Series(TEAMS).gather(pl.Series(agent[rows] // 10)),
            "resolved": pl.Series(rng.random(n) < 0.95),
            "survey_resolved": pl.Series(was_fixed | (rng.random(n) < 0.3)).set(
                pl.Series(rng.random(n) >= 0.15), None
            ),
            "ces": pl.Series(
                np.where(was_fixed, rng.integers(1, 5, n), rng.integers(3, 8, n))
            ).cast(pl.Int8),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, row_group_size=1_000_000)


def label_once(contacts: Path, labels: Path) -> None:
    """The labelled contacts both sides start from, as `fcrlab repeats --out` would write them."""
    from fcrlab import Params, label_repeats, load_contacts
    from fcrlab.read.files import write_frame

    params = Params(timezone="UTC")
    write_frame(label_repeats(load_contacts(contacts, params), params, contact_fields=True), labels)


# --from contacts (the measure: `gaps` on N contacts). Both sides start from the raw
# contacts and must find the repeats themselves to know which episodes were fixed; timestamps
# are taken as UTC on both sides so that a 7-day window means the same on both.
FCRLAB = """
import sys
from fcrlab.cli import tune_process
tune_process(scipy=True)
from fcrlab import Params, knowledge_gaps, load_contacts
from fcrlab.read.files import write_frame
params = Params(timezone="UTC")
gaps = knowledge_gaps(load_contacts(sys.argv[1], params), params)
write_frame(gaps.cells, sys.argv[2])
"""

# Every table (cells, mix, weekly spikes, follow-ups, signals and AUCs, training needs).
FCRLAB_ALL = FCRLAB.replace(
    "write_frame(gaps.cells", "gaps.to_json(); gaps.training_needs\nwrite_frame(gaps.cells"
)

_CELLS_SQL = """
  topics AS (SELECT topic, count(*) AS n, sum(fix) AS fixes FROM episodes GROUP BY topic),
  cells AS (
    SELECT 'team' AS level, team AS unit, topic, count(*) AS episodes, sum(fix) AS fixes
    FROM episodes WHERE team IS NOT NULL GROUP BY topic, team
    UNION ALL
    SELECT 'agent', agent_id, topic, count(*), sum(fix)
    FROM episodes WHERE agent_id IS NOT NULL GROUP BY topic, agent_id
  )
  SELECT c.*, c.fixes / c.episodes AS fcr,
         (t.fixes - c.fixes) / NULLIF(t.n - c.episodes, 0) AS peer_fcr
  FROM cells c JOIN topics t ON c.topic IS NOT DISTINCT FROM t.topic
  ORDER BY level, topic, unit
"""

DUCKDB = (
    """
import sys, duckdb
duckdb.sql("SET enable_progress_bar = false")
duckdb.sql(f'''
COPY (
  WITH contacts AS (
    SELECT topic, team, agent_id, started_at,
           started_at - LAG(started_at) OVER w <= INTERVAL 7 DAY AS is_repeat,
           LEAD(started_at) OVER w - started_at <= INTERVAL 7 DAY AS came_back
    FROM read_parquet('{sys.argv[1]}')
    WINDOW w AS (PARTITION BY customer_id, topic ORDER BY started_at, contact_id)
  ),
  episodes AS (  -- first contacts whose 7 days are observed; fixed when nobody came back
    SELECT topic, team, agent_id, (NOT coalesce(came_back, false))::INTEGER AS fix
    FROM contacts
    WHERE NOT coalesce(is_repeat, false)
      AND started_at <= (SELECT max(started_at) FROM read_parquet('{sys.argv[1]}'))
                        - INTERVAL 7 DAY
  ),"""
    + _CELLS_SQL
    + """
) TO '{sys.argv[2]}' (FORMAT parquet)
''')
"""
)

# --from labels: the gaps step alone, on contacts labelled once beforehand (a lazy scan: each
# table reads only the columns it needs).
FCRLAB_LABELS = """
import sys
from fcrlab.cli import tune_process
tune_process(scipy=True)
import polars as pl
from fcrlab import Params, knowledge_gaps
from fcrlab.read.files import write_frame
gaps = knowledge_gaps(pl.scan_parquet(sys.argv[1]), Params(timezone="UTC"))
write_frame(gaps.cells, sys.argv[2])
"""

FCRLAB_LABELS_ALL = FCRLAB_LABELS.replace(
    "write_frame(gaps.cells", "gaps.to_json(); gaps.training_needs\nwrite_frame(gaps.cells"
)

DUCKDB_LABELS = (
    """
import sys, duckdb
duckdb.sql(f'''
COPY (
  WITH episodes AS (
    SELECT topic, team, agent_id, first_contact_fix::INTEGER AS fix
    FROM read_parquet('{sys.argv[1]}')
    WHERE episode_seq = 1 AND in_period AND NOT pending
  ),"""
    + _CELLS_SQL
    + """
) TO '{sys.argv[2]}' (FORMAT parquet)
''')
"""
)

POLARS_CELLS = """
import sys, polars as pl
episodes = pl.scan_parquet(sys.argv[1]).filter(
    (pl.col("episode_seq") == 1) & pl.col("in_period") & ~pl.col("pending")
)
topics = episodes.group_by("topic").agg(n=pl.len(), topic_fixes=pl.col("first_contact_fix").sum())
cells = pl.concat([
    episodes.filter(pl.col(unit).is_not_null())
    .group_by("topic", unit)
    .agg(episodes=pl.len(), fixes=pl.col("first_contact_fix").sum())
    .select(pl.lit(level).alias("level"), pl.col(unit).alias("unit"), "topic", "episodes", "fixes")
    for level, unit in (("team", "team"), ("agent", "agent_id"))
])
out = cells.join(topics, on="topic", nulls_equal=True).with_columns(
    fcr=pl.col("fixes") / pl.col("episodes"),
    peer_fcr=(pl.col("topic_fixes") - pl.col("fixes")) / (pl.col("n") - pl.col("episodes")),
).sort("level", "topic", "unit")
out.collect().write_parquet(sys.argv[2])
"""

CONTENDERS = {
    "contacts": {"fcrlab": FCRLAB, "duckdb": DUCKDB, "fcrlab_all": FCRLAB_ALL},
    "labels": {
        "fcrlab": FCRLAB_LABELS,
        "duckdb": DUCKDB_LABELS,
        "polars_cells": POLARS_CELLS,
        "fcrlab_all": FCRLAB_LABELS_ALL,
    },
}


def run(mode: str, name: str, source: Path) -> dict[str, float]:
    out = DATA / f"gaps-out-{mode}-{name}.parquet"
    out.unlink(missing_ok=True)
    args = [sys.executable, "-c", textwrap.dedent(CONTENDERS[mode][name]), str(source), str(out)]
    return timed_process(args, name)


def check_same_cells(mode: str, names: list[str]) -> None:
    """The contenders' cells agree (episodes, fixes, FCR and peer FCR per cell)."""
    keys, columns = ["level", "unit", "topic"], ["episodes", "fixes", "fcr", "peer_fcr"]
    frames = {}
    for name in names:
        path = DATA / f"gaps-out-{mode}-{name}.parquet"
        if path.exists():
            frame = pl.read_parquet(path).select(*keys, *columns)
            frames[name] = frame.cast({"episodes": pl.Int64, "fixes": pl.Int64}).sort(keys)
    if "fcrlab" in frames:
        for name, frame in frames.items():
            same = frame.select(*keys).equals(frames["fcrlab"].select(*keys)) and all(
                np.allclose(frame[c].to_numpy(), frames["fcrlab"][c].to_numpy(), equal_nan=True)
                for c in columns
            )
            print(f"cells of {name} {'agree' if same else 'DIFFER'} with fcrlab's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender (best is kept)")
    parser.add_argument(
        "--from",
        dest="mode",
        choices=list(CONTENDERS),
        default="contacts",
        help="start from the raw contacts (default) or from labels made once beforehand",
    )
    parser.add_argument("--only", nargs="*", help="contenders to run (default: all of the mode)")
    args = parser.parse_args()
    contacts = DATA / f"gaps-contacts-{args.contacts}.parquet"
    labels = DATA / f"gaps-labels-{args.contacts}.parquet"
    if not contacts.exists() or (args.mode == "labels" and not labels.exists()):
        # In a child process: a child forked from a big parent would inherit its peak memory.
        print(f"generating {args.contacts:,} contacts and labelling them (not timed) …", flush=True)
        prepare = (
            f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_gaps as b; "
            f"from pathlib import Path; b.make_contacts({args.contacts}, Path({str(contacts)!r})); "
            f"b.label_once(Path({str(contacts)!r}), Path({str(labels)!r}))"
        )
        subprocess.run([sys.executable, "-c", prepare], check=True)
    names = args.only or list(CONTENDERS[args.mode])
    source = contacts if args.mode == "contacts" else labels
    results = best_of(names, args.repeat, lambda name: run(args.mode, name, source))
    what = "from the raw contacts" if args.mode == "contacts" else "labelled once beforehand"
    print(
        f"\n{args.contacts:,} contacts, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, best of {args.repeat}; {what}"
    )
    print_table(results)
    check_same_cells(args.mode, names)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"gaps-{args.mode}-{args.contacts}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
