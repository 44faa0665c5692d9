"""Issue 16: odd and bad inputs as real exports and hand-made files bring them. Each test names
the decision (docs/decisions.md I1–I11) it pins; every failure is one `error:` line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from fcrlab import Params, label_repeats, load_contacts
from fcrlab.cli import main
from tests.test_bad_input import GOOD_HEADER, GOOD_ROWS, assert_one_line_error, run_cli, write


def good(tmp_path: Path, name: str = "contacts.csv") -> str:
    return write(tmp_path, name, GOOD_HEADER + "".join(GOOD_ROWS))


def summary(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, err = run_cli([*args, "--json"], capsys)
    assert code == 0 and err == "", err
    return json.loads(out)


# ---------------------------------------------------------------------------- silently wrong
def _workbook(path: Path, rows: list[list[object]]) -> str:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Contacten")
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, dt.datetime):
                sheet.write_datetime(r, c, value, stamp)
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    return str(path)


def test_I2_xlsx_types_come_from_every_row_not_the_first_thousand(tmp_path):
    start = dt.datetime(2026, 3, 2, 9, 0)
    rows: list[list[object]] = [["contact_id", "customer_id", "started_at", "topic"]]
    for i in range(1, 1201):
        # Numbers for 1,100 rows, then text ids; date cells, then dates typed as text.
        customer = 5000 + i % 40 if i <= 1100 else f"K{i % 40}"
        when = start + dt.timedelta(minutes=10 * i)
        rows.append([i, customer, when if i <= 1100 else when.strftime("%Y-%m-%d %H:%M"), "tv"])
    contacts = load_contacts(_workbook(tmp_path / "export.xlsx", rows), Params())
    frame = contacts.frame
    assert frame["customer_id"].null_count() == 0  # none turned anonymous
    assert frame["started_at"].null_count() == 0
    assert frame["customer_id"][0] == "5001" and frame["customer_id"][-1] == "K0"
    assert frame["contact_id"][0] == "1"  # a number read as text, never "1.0"


def test_I2_a_glob_file_naming_the_customer_otherwise_is_an_error_naming_that_file(
    tmp_path, capsys
):
    write(tmp_path, "week-01.csv", GOOD_HEADER + GOOD_ROWS[0])
    write(tmp_path, "week-02.csv", GOOD_HEADER.replace("customer_id", "klant") + GOOD_ROWS[1])
    code, _, err = run_cli(["repeats", str(tmp_path / "week-*.csv")], capsys)
    assert code == 2
    assert_one_line_error(err, "week-02.csv", "'customer_id'", "missing", "klant")


def test_I2_float_and_text_ids_of_two_parquet_files_are_one_customer(tmp_path, capsys):
    at = [dt.datetime(2026, 3, 2, 10), dt.datetime(2026, 3, 3, 10)]
    pl.DataFrame(
        {"contact_id": [1.0], "customer_id": [123.0], "started_at": at[:1], "topic": ["tv"]}
    ).write_parquet(tmp_path / "a.parquet")
    pl.DataFrame(
        {"contact_id": ["2"], "customer_id": ["123"], "started_at": at[1:], "topic": ["tv"]}
    ).write_parquet(tmp_path / "b.parquet")
    labels = label_repeats(load_contacts(str(tmp_path / "*.parquet"), Params()))
    assert labels["customer_id"].to_list() == ["123", "123"]
    assert labels["is_repeat"].to_list() == [False, True]  # one customer: the repeat is seen


def test_I2_float_ids_beyond_the_64_bit_range_keep_their_digits(tmp_path):
    pl.DataFrame(
        {
            "contact_id": ["c1", "c2"],
            "customer_id": [1e20, 12345678901234567890.0],
            "started_at": [dt.datetime(2026, 3, 2, 10), dt.datetime(2026, 3, 3, 10)],
        }
    ).write_parquet(tmp_path / "big.parquet")
    frame = load_contacts(tmp_path / "big.parquet", Params(match="any")).frame
    assert frame["customer_id"].to_list() == ["100000000000000000000", "12345678901234567168"]


def test_I7_a_default_is_checked_like_a_value_of_the_file(tmp_path, capsys):
    params = write(tmp_path, "p.yaml", "defaults: {outcome: abandonned}\n")
    code, _, err = run_cli(["repeats", good(tmp_path), "--params", params], capsys)
    assert code == 2
    assert_one_line_error(err, "defaults.outcome", "'abandonned'", "'abandoned'")
    params = write(tmp_path, "q.yaml", "defaults: {outcome: ' Abandoned '}\n")
    assert Params.from_mapping({"defaults": {"outcome": " Abandoned "}}).defaults == (
        ("outcome", "abandoned"),
    )


def test_I1_a_duplicated_header_name_is_read_as_name_2_not_dropped(tmp_path):
    text = (
        "contact_id,customer_id,started_at,category,category\nc1,k1,2026-03-02 10:00,tv,decoder\n"
    )
    contacts = load_contacts(write(tmp_path, "sn.csv", text), Params(match="any"))
    assert contacts.columns_found[-2:] == ("category", "category_2")


def test_I1_a_required_column_twice_unmapped_is_an_error_naming_both_positions(tmp_path, capsys):
    header = "contact_id,customer_id,started_at, customer_id \n"  # equal once trimmed
    path = write(tmp_path, "dup.csv", header + "c1,k1,2026-03-02 10:00,k9\n")
    code, _, err = run_cli(["repeats", path, "--params", _any(tmp_path)], capsys)
    assert code == 2
    assert_one_line_error(err, "dup.csv", "'customer_id' appears twice", "positions 2 and 4")
    # Mapping one copy says which: the other copy steps aside.
    mapped = write(tmp_path, "p.yaml", "match: any\ncolumns: {customer_id_2: customer_id}\n")
    out = summary(["repeats", path, "--params", mapped], capsys)
    assert out["rows_read"] == 1
    frame = load_contacts(
        path, Params.from_mapping({"match": "any", "columns": {"customer_id_2": "customer_id"}})
    ).frame
    assert frame["customer_id"].to_list() == ["k9"]


def _any(tmp_path: Path) -> str:
    return write(tmp_path, "any.yaml", "match: any\n")


def test_I7_topics_teams_and_agents_typed_two_ways_are_one(tmp_path):
    composed, decomposed = "café", "cafe\u0301"
    text = (
        "contact_id,customer_id,started_at,topic,team\n"
        f"c1,k1,2026-03-02 10:00,{composed},{decomposed}\n"
        f"c2,k1,2026-03-03 10:00,{decomposed},{composed}\n"
    )
    labels = label_repeats(load_contacts(write(tmp_path, "nfc.csv", text), Params()))
    assert labels["topic"].n_unique() == 1 and labels["is_repeat"].to_list() == [False, True]


# ---------------------------------------------------------------------------- no traceback
@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            'office_hours: {mon: "08:00-20:00", holidays: [2026-02-30]}\n',
            ["office_hours.holidays", "'2026-02-30'", "not a date"],
        ),
        ("period: {start: 2026-13-01, end: 2026-14-01}\n", ["period.start", "'2026-13-01'"]),
        ("window: 99999999999d\n", ["'window'", "longer than 100 years"]),
        ("window: 7d\nmatch: any\nwindow: 8d\n", ["'window'", "given twice", "lines 1 and 3"]),
        ("changes:\n  - {date: 2026-03-01, topic: tv, topic: x}\n", ["'topic'", "given twice"]),
    ],
    ids=["impossible-holiday", "month-13", "huge-window", "duplicate-key", "duplicate-nested"],
)
def test_I6_a_parameters_file_problem_names_the_key(tmp_path, capsys, text, parts):
    params = write(tmp_path, "p.yaml", text)
    code, _, err = run_cli(["repeats", good(tmp_path), "--params", params], capsys)
    assert code == 2
    assert_one_line_error(err, "p.yaml", *parts)


def test_I6_a_folder_as_parameters_or_as_input_is_one_line(tmp_path, capsys):
    folder = tmp_path / "exports"
    folder.mkdir()
    code, _, err = run_cli(["repeats", good(tmp_path), "--params", str(folder)], capsys)
    assert code == 2
    assert_one_line_error(err, "exports", "folder")
    code, _, err = run_cli(["repeats", str(folder)], capsys)
    assert code == 2
    assert_one_line_error(err, "exports", "folder")


def test_I6_out_as_a_folder_or_below_a_file_is_an_error_before_any_work(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    code, _, err = run_cli(["repeats", good(tmp_path), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert_one_line_error(err, "out", "is a folder")
    blocker = Path(good(tmp_path, "plain.csv"))
    code, _, err = run_cli(["repeats", good(tmp_path), "--out", str(blocker / "x.csv")], capsys)
    assert code == 2
    assert_one_line_error(err, "x.csv", "plain.csv is a file")


def test_I6_report_out_naming_a_file_is_one_line(tmp_path, capsys):
    params = write(tmp_path, "p.yaml", f"contacts: {good(tmp_path)}\n")
    blocker = good(tmp_path, "not-a-folder.txt")
    code, _, err = run_cli(["report", "--params", params, "--out", blocker], capsys)
    assert code == 2
    assert_one_line_error(err, "not-a-folder.txt", "is a file")


def test_I5_years_0001_and_9999_are_an_error_naming_the_rows(tmp_path, capsys):
    text = "contact_id,customer_id,started_at\nc1,k1,0001-01-01 00:10\nc2,k1,9999-12-31 23:59\n"
    path = write(tmp_path, "years.csv", text)
    for command in ("validate", "repeats"):
        code, _, err = run_cli([command, path, "--params", _any(tmp_path)], capsys)
        assert code == 2
        assert_one_line_error(err, "years.csv", "started_at", "1900–2999", "rows 1, 2")


def test_list_typed_parquet_column_is_an_error_naming_it(tmp_path, capsys):
    pl.DataFrame(
        {
            "contact_id": ["c1"],
            "customer_id": ["k1"],
            "started_at": ["2026-03-02 10:00"],
            "topic": [["billing", "invoice"]],
        }
    ).write_parquet(tmp_path / "nested.parquet")
    code, _, err = run_cli(["repeats", str(tmp_path / "nested.parquet")], capsys)
    assert code == 2
    assert_one_line_error(err, "nested.parquet", "'topic'", "lists or records")


def test_chunks_of_zero_or_less_is_a_usage_error(tmp_path, capsys):
    for value in ("0", "-2", "x"):
        with pytest.raises(SystemExit) as stop:
            main(["repeats", good(tmp_path), "--chunks", value, "--out", str(tmp_path / "o.pq")])
        assert stop.value.code == 2
        assert_one_line_error(capsys.readouterr().err, "--chunks", "at least 1")


def test_chunks_over_a_glob_typing_ids_differently_and_more_chunks_than_rows(tmp_path, capsys):
    at = [dt.datetime(2026, 3, 2, 10), dt.datetime(2026, 3, 3, 10), dt.datetime(2026, 3, 4, 9)]
    pl.DataFrame(
        {
            "contact_id": [1.0, 2.0],
            "customer_id": [7.0, 8.0],
            "started_at": at[:2],
            "topic": ["tv"] * 2,
        }
    ).write_parquet(tmp_path / "w1.parquet")
    pl.DataFrame(
        {"contact_id": ["3"], "customer_id": ["7"], "started_at": at[2:], "topic": ["tv"]}
    ).write_parquet(tmp_path / "w2.parquet")
    out = tmp_path / "labels.parquet"
    source = str(tmp_path / "w*.parquet")
    code, _, err = run_cli(["repeats", source, "--chunks", "1000", "--out", str(out)], capsys)
    assert code == 0, err
    chunked = pl.read_parquet(out).sort("source_row")
    whole = label_repeats(load_contacts(source, Params())).sort("source_row")
    assert chunked.select("customer_id", "is_repeat").equals(
        whole.select("customer_id", "is_repeat")
    )
    assert chunked["is_repeat"].to_list() == [False, False, True]  # 7.0 and "7": one customer


def test_I8_an_xlsx_output_too_long_for_a_sheet_stops_before_labelling(
    tmp_path, capsys, monkeypatch
):
    import fcrlab.engine.repeats
    import fcrlab.read.files

    monkeypatch.setattr(fcrlab.read.files, "EXCEL_ROWS", 3)

    def not_now(*_: object, **__: object) -> None:
        raise AssertionError("labelled although the output cannot be written")

    monkeypatch.setattr(fcrlab.engine.repeats, "label_repeats", not_now)
    code, _, err = run_cli(["repeats", good(tmp_path), "--out", str(tmp_path / "l.xlsx")], capsys)
    assert code == 2
    assert_one_line_error(err, "l.xlsx", "4 rows", ".xlsx sheet")


def test_I11_an_unexpected_exception_is_one_line_naming_the_input(tmp_path, capsys, monkeypatch):
    import fcrlab.summary

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(fcrlab.summary, "fcr_summary", broken)
    code, _, err = run_cli(["repeats", good(tmp_path)], capsys)
    assert code == 2
    assert_one_line_error(err, "contacts.csv", "a bug in fcrlab", "RuntimeError", "boom\\nsecond")
    with pytest.raises(RuntimeError):
        main(["--debug", "repeats", good(tmp_path)])


# ---------------------------------------------------------------------------- messages
def test_I3_a_utf16_export_is_read_and_its_errors_carry_no_nul(tmp_path, capsys):
    text = "contact_id\tcustomer_id\tstarted_at\nc1\tk1\t2026-03-02 10:00\nc2\tk1\tgisteren\n"
    path = write(tmp_path, "unicode.txt", text, encoding="utf-16")
    code, _, err = run_cli(["repeats", path, "--params", _any(tmp_path)], capsys)
    assert code == 2 and "\x00" not in err
    assert_one_line_error(err, "unicode.txt", "started_at", "row 2", "'gisteren'")


def test_I3_trailing_blank_lines_and_separator_only_lines_are_no_rows(tmp_path, capsys):
    text = GOOD_HEADER + "".join(GOOD_ROWS) + "\n\n,,,,,\n \n"
    out = summary(["repeats", write(tmp_path, "blank.csv", text)], capsys)
    assert out["rows_read"] == 4


def test_I4_a_huge_column_name_is_quoted_to_80_characters(tmp_path, capsys):
    name = "x" * 1_000_000
    path = write(tmp_path, "wide.csv", f"contact_id,{name},started_at\nc1,k1,2026-03-02 10:00\n")
    code, _, err = run_cli(["repeats", path, "--params", _any(tmp_path)], capsys)
    assert code == 2
    assert_one_line_error(err, "wide.csv", "'customer_id' is missing")
    assert len(err) < 600 and "x" * 79 + "…" in err and "x" * 81 not in err


def test_I4_a_contact_id_conflicting_across_two_weekly_files_names_both(tmp_path, capsys):
    write(tmp_path, "w1.csv", GOOD_HEADER + GOOD_ROWS[0])
    write(tmp_path, "w2.csv", GOOD_HEADER + GOOD_ROWS[1].replace("c2,", "c1,"))
    code, _, err = run_cli(["repeats", str(tmp_path / "w*.csv")], capsys)
    assert code == 2
    assert_one_line_error(err, "w1.csv", "row 1", "also in", "w2.csv")


def test_I6_a_file_named_with_brackets_is_read_as_itself(tmp_path, capsys):
    path = good(tmp_path, "contacts[2026].csv")
    assert summary(["repeats", path], capsys)["rows_read"] == 4


def test_I5_an_offset_of_25_hours_is_unreadable(tmp_path, capsys):
    text = (
        "contact_id,customer_id,started_at\n"
        "c1,k1,2026-03-02T10:00+25:00\nc2,k1,2026-03-02T11:00+05:45\n"
    )
    code, _, err = run_cli(
        ["repeats", write(tmp_path, "tz.csv", text), "--params", _any(tmp_path)], capsys
    )
    assert code == 2
    assert_one_line_error(err, "tz.csv", "started_at", "row 1", "+25:00")
