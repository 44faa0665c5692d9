"""`fcrlab` on the command line: a thin argparse layer over the same public functions.

Bad input prints one line `error: …` on stderr and exits 2; `--json` prints exactly one JSON
object on stdout (the analysis result's own `to_json()`) and nothing else.

This is the one process fcrlab owns, so process-level tuning lives here (`tune_process`),
never in the library: polars is only imported once that is done.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from fcrlab.errors import FcrlabError, InputError
from fcrlab.errors import path as shown_path
from fcrlab.params import Params, load_params
from fcrlab.version import version

__all__ = ["main", "tune_process"]


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _answer(args: argparse.Namespace, result: Any, lines: list[str], written: str) -> int:
    """`--json`: the result's JSON object alone; else its lines, and what --out wrote."""
    if args.json:
        print(_json(result))
        return 0
    print("\n".join(lines))
    if args.out:
        print(f"{written} written to {args.out}")
    return 0


def _definition_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", help="repeat window, e.g. 24h, 72h, 7d (default 7d)")
    parser.add_argument("--match", help="topic | family | any (default topic)")
    parser.add_argument("--channels", help="comma-separated channels that take part (default all)")
    parser.add_argument("--abandoned", help="exclude | include (default exclude)")
    parser.add_argument("--transfers", help="same_contact | breaks_fcr (default same_contact)")
    parser.add_argument("--after-hours", help="as_is | follow_up_is_first (needs office_hours)")
    parser.add_argument(
        "--period", nargs=2, metavar=("START", "END"), help="local dates, end exclusive"
    )
    parser.add_argument("--observed-until", help="local date-time up to which data is complete")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", help="parameters file (YAML); flags override it")
    parser.add_argument(
        "--timezone", help="time zone of naive timestamps (default Europe/Amsterdam)"
    )


def _params(args: argparse.Namespace) -> Params:
    overrides = {
        "window": getattr(args, "window", None),
        "match": getattr(args, "match", None),
        "channels": getattr(args, "channels", None),
        "abandoned": getattr(args, "abandoned", None),
        "transfers": getattr(args, "transfers", None),
        "after_hours": getattr(args, "after_hours", None),
        "observed_until": getattr(args, "observed_until", None),
        "timezone": getattr(args, "timezone", None),
    }
    period = getattr(args, "period", None)
    if period:
        overrides["period"] = {"start": period[0], "end": period[1]}
    if isinstance(overrides["channels"], str):
        overrides["channels"] = overrides["channels"].split(",")
    return load_params(args.params, **overrides)


# ---------------------------------------------------------------------------- commands
def _cmd_repeats(args: argparse.Namespace) -> int:
    from fcrlab.engine.repeats import LABEL_COLUMNS, label_repeats
    from fcrlab.read.contacts import load_contacts
    from fcrlab.read.files import check_out, write_frame
    from fcrlab.summary import SUMMARY_COLUMNS, fcr_summary
    from fcrlab.words import summary_lines

    params = _params(args)
    if args.out:
        check_out(args.out)
    if args.chunks:
        return _repeats_in_chunks(args, params)
    contacts = load_contacts(args.file, params)
    if args.out:
        check_out(args.out, contacts.rows_read)  # before any labelling
    columns = list(dict.fromkeys([*LABEL_COLUMNS, *SUMMARY_COLUMNS]))
    labels = label_repeats(contacts, params, columns=columns)
    if args.out:
        write_frame(labels.select(LABEL_COLUMNS), args.out)
    summary = fcr_summary(labels, params)
    return _answer(args, summary.to_json(), summary_lines(summary), "labels")


def _repeats_in_chunks(args: argparse.Namespace, params: Params) -> int:
    """Inputs larger than memory: label chunk by chunk into --out; report the ledger."""
    from fcrlab.engine.chunks import label_repeats_in_chunks

    if not args.out or not str(args.out).lower().endswith(".parquet"):
        raise InputError("--chunks writes its labels to a .parquet file: give --out FILE.parquet")
    book = label_repeats_in_chunks(args.file, args.out, params, chunks=args.chunks)
    if args.json:
        print(_json({**book, "params": params.to_dict(), "fcrlab_version": version()}))
    else:
        print(", ".join(f"{k} {v}" for k, v in book.items() if v or k.startswith("rows")))
        print(f"labels written to {args.out}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from fcrlab.engine.repeats import REASONS
    from fcrlab.read.contacts import load_contacts

    params = _params(args)
    contacts = load_contacts(args.file, params)
    frame = contacts.frame
    lines = [f"file(s): {', '.join(contacts.files)} — {contacts.rows_read} rows read"]
    if len(contacts.files) > 1:
        lines += [
            f"  {f}: {n} rows" for f, n in zip(contacts.files, contacts.rows_per_file, strict=True)
        ]
    lines.append(f"columns found: {', '.join(contacts.columns_found)}")
    repeated = [c for c in contacts.columns_found if f"{c}_2" in contacts.columns_found]
    if repeated:  # decisions I1
        lines.append(
            "header names given more than once, read as: "
            + "; ".join(
                ", ".join(n for n in contacts.columns_found if n == c or n.startswith(f"{c}_"))
                for c in repeated
            )
        )
    if contacts.mapped:
        lines.append("mapped: " + ", ".join(f"{a} → {b}" for a, b in contacts.mapped))
    if contacts.defaulted:
        lines.append("defaulted: " + ", ".join(f"{a} = {b}" for a, b in contacts.defaulted))
    lines.append("parsed:")
    lines += [f"  {c}: {how}" for c, how in contacts.parsed]
    first, last = frame["started_at"].min(), frame["started_at"].max()
    tz = params.timezone
    lines.append(
        f"started_at from {first.astimezone(params.tz):%Y-%m-%d %H:%M} to "  # type: ignore[union-attr]
        f"{last.astimezone(params.tz):%Y-%m-%d %H:%M} ({tz})"  # type: ignore[union-attr]
    )
    channels = frame.group_by("channel").len().sort("len", "channel", descending=[True, False])
    lines.append("channels: " + ", ".join(f"{c} {n}" for c, n in channels.iter_rows()))
    if contacts.has("topic"):
        lines.append(
            f"topics: {frame['topic'].n_unique()} distinct, {frame['topic'].null_count()} empty"
        )
    customers = frame["customer_id"].drop_nulls().n_unique()
    lines.append(f"customers: {customers}")
    known = {
        "duplicate": int(frame["duplicate"].sum()),
        "anonymous": int((frame["customer_id"].is_null() & ~frame["duplicate"]).sum()),
    }
    lines.append(
        "ledger at load (the other reasons are decided by `fcrlab repeats`): "
        + ", ".join(f"{r} {known.get(r, '–')}" for r in REASONS[:2])
        + f"; rows left for labelling {contacts.rows_read - sum(known.values())}"
    )
    print("\n".join(lines))
    return 0


def _cmd_deflection(args: argparse.Namespace) -> int:
    from fcrlab.online import PER_CONTACT_COLUMNS, deflection
    from fcrlab.read.contacts import load_contacts
    from fcrlab.read.files import check_out, write_frame
    from fcrlab.read.web import load_page_topics, load_web_visits
    from fcrlab.words import deflection_lines

    params = _params(args)
    flags = {
        "assisted": args.assisted.split(",") if args.assisted else None,
        "web_window": args.web_window,
        "expected_reduction": args.expected_reduction,
    }
    if any(v is not None for v in flags.values()):
        params = params.replace(**{k: v for k, v in flags.items() if v is not None})
    if args.out:
        check_out(args.out)
    contacts = load_contacts(args.contacts, params)
    if args.out:
        check_out(args.out, contacts.rows_read)
    visits = load_web_visits(args.visits, params)
    page_topics = load_page_topics(args.page_topics, params)
    result = deflection(contacts, params, visits=visits, page_topics=page_topics)
    if args.out:
        write_frame(result.per_contact.select(PER_CONTACT_COLUMNS), args.out)
    return _answer(args, result.to_json(), deflection_lines(result), "per-contact table")


def _cmd_gaps(args: argparse.Namespace) -> int:
    from fcrlab.gaps import knowledge_gaps
    from fcrlab.read.contacts import load_contacts
    from fcrlab.read.files import check_out, write_frame
    from fcrlab.read.web import load_page_topics
    from fcrlab.words import gaps_lines

    params = _params(args)
    if args.out:
        check_out(args.out)
    pages = load_page_topics(None, params) if params.page_topics else None
    gaps = knowledge_gaps(load_contacts(args.file, params), params, page_topics=pages)
    if args.out:
        write_frame(gaps.cells, args.out)
    return _answer(args, gaps.to_json(), gaps_lines(gaps), "cells")


def _cmd_sample(args: argparse.Namespace) -> int:
    from fcrlab.sample import SAMPLE_CONTACTS, SAMPLE_SEED, write_sample

    written = write_sample(
        args.out,
        contacts=args.contacts or SAMPLE_CONTACTS,
        seed=SAMPLE_SEED if args.seed is None else args.seed,
    )
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from fcrlab.present.report import run_report

    def progress(message: str) -> None:
        if sys.stderr.isatty():  # a scheduler's log stays clean
            print(message, file=sys.stderr)

    index = run_report(args.params, week=args.week, out=args.out, progress=progress)
    print(f"report: {index}")
    return 0


class _Version(argparse.Action):
    """`--version`, read from the package metadata only when asked for."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        parser.exit(0, f"fcrlab {version()}\n")


def _positive(text: str) -> int:
    """A whole number of at least 1 (a usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are bad input too: one line on stderr, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fcrlab",
        description="First Contact Resolution from contact logs: repeats, knowledge gaps, "
        "online-to-phone deflection.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    parser.add_argument(
        "--debug", action="store_true", help="on an unexpected problem, print the traceback"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    repeats = commands.add_parser("repeats", help="label repeat contacts and compute FCR")
    repeats.add_argument("file", help="contacts: .csv, .parquet, .xlsx or a glob of them")
    _common(repeats)
    _definition_flags(repeats)
    repeats.add_argument("--out", help="write the per-row labels (.parquet, .csv or .xlsx)")
    repeats.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    repeats.add_argument(
        "--chunks",
        type=_positive,
        help="label a large Parquet input in N chunks by customer (needs --out; prints the ledger)",
    )
    repeats.set_defaults(run=_cmd_repeats)

    validate = commands.add_parser("validate", help="read a contacts file and say what was found")
    validate.add_argument("file")
    _common(validate)
    validate.set_defaults(run=_cmd_validate)

    online = commands.add_parser(
        "deflection", help="callers who were online first, and pages that send people to the phone"
    )
    online.add_argument("contacts", help="contacts: .csv, .parquet, .xlsx or a glob of them")
    online.add_argument("visits", help="web page views: .csv, .parquet, .xlsx or a glob")
    online.add_argument(
        "--page-topics", help="page,topic file (default: page_topics in the parameters file)"
    )
    _common(online)
    _definition_flags(online)
    online.add_argument("--assisted", help="comma-separated assisted channels (default phone)")
    online.add_argument("--web-window", help="how long before a call a page view counts (24h)")
    online.add_argument("--expected-reduction", help="share of same-question calls a fix saves")
    online.add_argument("--out", help="write the per-contact table (.parquet, .csv or .xlsx)")
    online.add_argument("--json", action="store_true", help="print the result as one JSON object")
    online.set_defaults(run=_cmd_deflection)

    gaps = commands.add_parser(
        "gaps", help="knowledge gaps: weak topic × team/agent cells, spikes, follow-up questions"
    )
    gaps.add_argument("file", help="contacts: .csv, .parquet, .xlsx or a glob of them")
    _common(gaps)
    _definition_flags(gaps)
    gaps.add_argument("--out", help="write the topic × team/agent cells (.parquet, .csv, .xlsx)")
    gaps.add_argument("--json", action="store_true", help="print the result as one JSON object")
    gaps.set_defaults(run=_cmd_gaps)

    sample = commands.add_parser("sample", help="write the synthetic sample data")
    sample.add_argument("--out", default="data", help="folder (default data/)")
    sample.add_argument("--contacts", type=int, help="number of contacts (default 50000)")
    sample.add_argument("--seed", type=int, help="random seed (default 20261123)")
    sample.set_defaults(run=_cmd_sample)

    report = commands.add_parser("report", help="run the notebooks into an offline HTML report")
    report.add_argument("--params", required=True, help="parameters file (YAML)")
    report.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: latest fully observed)")
    report.add_argument("--out", default="reports", help="folder (default reports/)")
    report.set_defaults(run=_cmd_report)
    return parser


def tune_process(*, scipy: bool = False) -> None:
    """What a process that is fcrlab's own does for speed: the `fcrlab` command, and the
    benchmarks that time fcrlab as a process. Never done on import: a notebook's kernel is the
    user's (measured in benchmarks/README.md).

    - Before polars loads, its allocator (jemalloc on Linux) keeps freed memory for 10 s
      (jemalloc's own default) instead of polars' 0.5 s: on millions of rows each step frees
      what the next allocates, and memory returned too soon is faulted in afresh. A value the
      user set wins; other platforms ignore it.
    - At exit the objects still alive are frozen, so Python's last collections do not walk
      them (0.25-0.3 s with scipy.stats loaded). Handlers registered later still run first.
    - `scipy`: import scipy.stats in a thread at the lowest CPU priority (Linux), so the
      import (0.4-1.3 s) overlaps polars' work, which releases the GIL; `fcrlab gaps` needs it.
    """
    import atexit
    import gc
    import threading

    if "polars" not in sys.modules:
        os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:10000,muzzy_decay_ms:0")
    atexit.register(gc.freeze)

    def load() -> None:
        if sys.platform == "linux":  # per thread there; elsewhere the id is not a thread's
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        import scipy.stats  # noqa: F401

    if scipy and "scipy.stats" not in sys.modules:
        threading.Thread(target=load, name="fcrlab-scipy", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if argv is None:  # the command itself, not a call from Python: the process is ours
        tune_process(scipy=args.command == "gaps")
        warnings.showwarning = _warning_line
    try:
        return int(args.run(args))
    except FcrlabError as err:
        print(f"error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # the last net (decisions I11): a bug, still one line
        if args.debug:
            raise
        named = [getattr(args, k, None) for k in ("file", "contacts", "visits", "params")]
        inputs = ", ".join(shown_path(v) for v in named if v)
        print(
            f"error: {inputs or 'fcrlab'}: an unexpected problem (a bug in fcrlab; please report "
            f"it, with --debug for the traceback): {type(err).__name__}: "
            f"{_one_line(str(err))[:200]}",
            file=sys.stderr,
        )
        return 2


def _warning_line(message: Warning | str, *_: object, **__: object) -> None:
    """A warning of the command as one line of its own (`warning: …`), not Python's two."""
    print(f"warning: {_one_line(str(message))}", file=sys.stderr)


def _one_line(text: str) -> str:
    """An error as one line: control characters (a newline in a message) escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


if __name__ == "__main__":
    sys.exit(main())
