"""Issue 16's property: whatever file and parameters a user hands `fcrlab repeats`, it either
succeeds with every row read accounted for (rows read = rows used + rows left out, one label row
per row read) or stops with exactly one `error:` line, never a traceback and never the last net's
"a bug in fcrlab" (every bad input has its own message)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
from pathlib import Path

import polars as pl
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fcrlab.cli import main

COLUMNS = ["contact_id", "customer_id", "started_at", "channel", "topic", "resolved", "outcome",
           "direction", "conversation_id", "team"]  # fmt: skip
GOOD = {
    "contact_id": st.sampled_from(["c1", "c2", "c3", "c4", "123", "c1 "]),
    "customer_id": st.sampled_from(["k1", "k2", "", "K1", "31612345678"]),
    "started_at": st.sampled_from(
        [
            "2026-03-02 10:00",
            "2026/03/03 09:15:00",
            "04-03-2026 11:00",
            "2026-03-05T10:00:00Z",
            "2026-03-29 02:30",
            "2026-10-25 02:30",
            "2026-03-06",
        ]
    ),
    "channel": st.sampled_from(["phone", " Chat ", "", "EMAIL"]),
    "topic": st.sampled_from(["billing", "billing/refund", "tv", "", "café"]),
    "resolved": st.sampled_from(["yes", "nee", "", "1", "J"]),
    "outcome": st.sampled_from(["handled", "abandoned", "", "Voicemail"]),
    "direction": st.sampled_from(["inbound", "outbound", ""]),
    "conversation_id": st.sampled_from(["", "v1", "v2"]),
    "team": st.sampled_from(["north", "", "south"]),
}
HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "?",
        "=1+1",
        '"quoted"',
        "a;b",
        "a,b",
        "line\nbreak",
        "x\x00y",
        "ü" * 90,
        "2026-02-30 10:00",
        "gisteren",
        "2026-03-02T10:00+25:00",
        "0001-01-01 00:00",
        "-1",
        "7",
    ]
)


@st.composite
def exports(draw: st.DrawFn) -> dict:
    required = draw(st.sampled_from([COLUMNS[:3]] * 8 + [COLUMNS[1:3]]))
    optional = draw(st.lists(st.sampled_from(COLUMNS[3:]), unique=True, max_size=4))
    header = [*required, *optional]
    if draw(st.booleans()):
        header.append(draw(st.sampled_from(["junk", "customer_id", " topic ", "Notes"])))
    header = [f" {h}" if draw(st.integers(0, 9)) == 0 else h for h in header]
    rows = []
    hostility = draw(st.sampled_from([0, 0, 0, 60, 15, 4]))  # 1 in N cells hostile (0: none)
    for number in range(draw(st.sampled_from([0, 1, 2, 3, 5, 8, 8, 8]))):
        if rows and draw(st.integers(0, 9)) == 0:
            rows.append(list(rows[-1]))  # an exact copy of the row before
            continue
        row = []
        for name in header:
            strategy = GOOD.get(name.strip(), HOSTILE)
            if name.strip() == "contact_id":
                strategy = st.just(f"c{number}")
            if hostility and draw(st.integers(1, hostility)) == 1:
                strategy = HOSTILE
            row.append(draw(strategy))
        rows.append(row)
    return {
        "header": header,
        "rows": rows,
        "separator": draw(st.sampled_from([",", ";", "\t"])),
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"])),
        "blank_tail": draw(st.booleans()),
        "form": draw(st.sampled_from(["csv", "csv", "csv", "glob", "xlsx"])),
    }


GOOD_PARAMS = st.lists(
    st.sampled_from(
        [
            "match: any",
            "window: 24h",
            "abandoned: include",
            "transfers: breaks_fcr",
            "observed_until: 2026-03-20T00:00",
            "defaults: {channel: phone}",
            "channels: [phone, chat]",
            "period: {start: 2026-03-02, end: 2026-03-09}",
        ]
    ),
    max_size=3,
)
BAD_PARAMS = st.lists(
    st.sampled_from(
        [
            "match: any",
            "match: family",
            "match: topics",
            "window: 24h",
            "window: 0d",
            "window: 99999999999d",
            "abandoned: include",
            "transfers: breaks_fcr",
            "period: {start: 2026-03-02, end: 2026-03-09}",
            "period: {start: 2026-02-30, end: 2026-03-09}",
            "observed_until: 2026-03-20T00:00",
            "columns: {Klant: customer_id}",
            "defaults: {channel: phone}",
            "defaults: {outcome: abandonned}",
            "channels: [phone, chat]",
            "window: 7d",
        ]
    ),
    max_size=4,
)
PARAMS = st.sampled_from([GOOD_PARAMS] * 3 + [BAD_PARAMS]).flatmap(lambda strategy: strategy)


def _csv_bytes(header: list[str], rows: list[list[str]], separator: str, encoding: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding, errors="replace")


def _write(folder: Path, export: dict) -> tuple[str, int]:
    header, rows = export["header"], export["rows"]
    if export["form"] == "xlsx":
        book = xlsxwriter.Workbook(str(folder / "export.xlsx"))
        sheet = book.add_worksheet()
        for r, row in enumerate([header, *rows]):
            for c, value in enumerate(row):
                sheet.write_string(r, c, value)
        book.close()
        return str(folder / "export.xlsx"), len(rows)
    tail = "\n\n" + export["separator"] * 2 + "\n" if export["blank_tail"] else ""
    if export["form"] == "glob":
        half = len(rows) // 2
        for name, part in (("w1.csv", rows[:half]), ("w2.csv", rows[half:])):
            data = _csv_bytes(header, part, export["separator"], "utf-8")
            (folder / name).write_bytes(data + tail.encode())
        return str(folder / "w*.csv"), len(rows)
    data = _csv_bytes(header, rows, export["separator"], export["encoding"])
    (folder / "export.csv").write_bytes(data + tail.encode(export["encoding"]))
    return str(folder / "export.csv"), len(rows)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(export=exports(), params=PARAMS)
def test_any_export_is_accounted_for_or_one_error_line(export: dict, params: list[str]) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        path, written = _write(folder, export)
        if "topic" not in export["header"] and not any(p.startswith("match") for p in params):
            params = [*params, "match: any"]  # most exports without a topic are read so
        (folder / "p.yaml").write_text("\n".join(params) + "\n")
        out = folder / "labels.parquet"
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["repeats", path, "--params", str(folder / "p.yaml"), "--json",
                         "--out", str(out)])  # fmt: skip
        err = stderr.getvalue()
        if code == 0:
            assert err == "", err
            summary = json.loads(stdout.getvalue())
            assert summary["rows_read"] == summary["rows_used"] + sum(summary["ledger"].values())
            labels = pl.read_parquet(out)
            assert labels.height == summary["rows_read"] == written
            assert sorted(labels["source_row"].to_list()) == list(range(1, written + 1))
        else:
            lines = err.strip().splitlines()
            assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
            assert "Traceback" not in err and "a bug in fcrlab" not in err, err
