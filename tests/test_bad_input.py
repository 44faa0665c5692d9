"""SPEC §1: every kind of bad input is one line `error: …` naming file, column, rows and
examples, exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from fcrlab.cli import main

GOOD_HEADER = "contact_id,customer_id,started_at,channel,topic,resolved\n"
GOOD_ROWS = [
    "c1,k1,2026-03-02 10:00,phone,billing,yes\n",
    "c2,k1,2026-03-03 10:00,phone,billing,no\n",
    "c3,k2,2026-03-04 10:00,chat,tv,\n",
    "c4,k3,2026-03-05 10:00,email,tv,yes\n",
]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def assert_one_line_error(err: str, *parts: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for part in parts:
        assert part in lines[0], f"{part!r} not in {lines[0]!r}"


def bad_rows(tmp_path: Path, replace: dict[int, str], header: str = GOOD_HEADER) -> str:
    rows = list(GOOD_ROWS)
    for index, row in replace.items():
        rows[index] = row
    return write(tmp_path, "contacts.csv", header + "".join(rows))


def test_missing_required_column_names_it_and_suggests(tmp_path, capsys):
    path = write(tmp_path, "c.csv", "contact_id,klant_id,started_at\nc1,k1,2026-03-02 10:00\n")
    code, out, err = run_cli(["repeats", path, "--match", "any"], capsys)
    assert code == 2 and out == ""
    assert_one_line_error(err, "c.csv", "customer_id", "missing", "klant_id")


def test_unparsable_time_names_rows_and_examples(tmp_path, capsys):
    path = bad_rows(
        tmp_path,
        {1: "c2,k1,gisteren,phone,billing,no\n", 3: "c4,k3,2026-13-45 10:00,email,tv,yes\n"},
    )
    code, _, err = run_cli(["repeats", path], capsys)
    assert code == 2
    assert_one_line_error(
        err, "contacts.csv", "started_at", "rows 2, 4", "'gisteren'", "'2026-13-45 10:00'"
    )


def test_empty_time_is_an_error(tmp_path, capsys):
    path = bad_rows(tmp_path, {2: "c3,k2,,chat,tv,\n"})
    code, _, err = run_cli(["repeats", path], capsys)
    assert code == 2
    assert_one_line_error(err, "started_at", "empty", "row 3")


def test_bad_bool_names_rows_and_examples(tmp_path, capsys):
    path = bad_rows(tmp_path, {0: "c1,k1,2026-03-02 10:00,phone,billing,misschien\n"})
    code, _, err = run_cli(["repeats", path], capsys)
    assert code == 2
    assert_one_line_error(err, "contacts.csv", "resolved", "row 1", "'misschien'", "ja/nee")


def test_conflicting_duplicate_id_names_both_rows(tmp_path, capsys):
    path = bad_rows(tmp_path, {3: "c1,k3,2026-03-05 10:00,email,tv,yes\n"})
    code, _, err = run_cli(["repeats", path], capsys)
    assert code == 2
    assert_one_line_error(err, "contacts.csv", "contact_id", "rows 1, 4", "'c1'")


def test_empty_contact_id_is_an_error(tmp_path, capsys):
    path = bad_rows(tmp_path, {1: ",k1,2026-03-03 10:00,phone,billing,no\n"})
    code, _, err = run_cli(["repeats", path], capsys)
    assert code == 2
    assert_one_line_error(err, "contact_id", "empty", "row 2")


def test_unknown_parameter_suggests_the_nearest(tmp_path, capsys):
    path = bad_rows(tmp_path, {})
    params = write(tmp_path, "p.yaml", "windw: 7d\n")
    code, _, err = run_cli(["repeats", path, "--params", params], capsys)
    assert code == 2
    assert_one_line_error(err, "p.yaml", "windw", "unknown parameter", "did you mean 'window'")


def test_bad_window_value(tmp_path, capsys):
    path = bad_rows(tmp_path, {})
    code, _, err = run_cli(["repeats", path, "--window", "7 days"], capsys)
    assert code == 2
    assert_one_line_error(err, "window", "'7 days'", "not a duration")


def test_negative_or_zero_window(tmp_path, capsys):
    path = bad_rows(tmp_path, {})
    code, _, err = run_cli(["repeats", path, "--window", "0h"], capsys)
    assert code == 2
    assert_one_line_error(err, "window", "positive")


def test_bad_match_value_suggests(tmp_path, capsys):
    path = bad_rows(tmp_path, {})
    code, _, err = run_cli(["repeats", path, "--match", "topics"], capsys)
    assert code == 2
    assert_one_line_error(err, "match", "'topics'", "did you mean 'topic'")


def test_empty_file(tmp_path, capsys):
    path = write(tmp_path, "empty.csv", "")
    code, _, err = run_cli(["repeats", path], capsys)
    assert code == 2
    assert_one_line_error(err, "empty.csv", "empty")


def test_header_only(tmp_path, capsys):
    path = write(tmp_path, "header.csv", GOOD_HEADER)
    code, _, err = run_cli(["repeats", path], capsys)
    assert code == 2
    assert_one_line_error(err, "header.csv", "no data rows")


def test_wrong_excel_sheet_lists_the_sheets(tmp_path, capsys):
    path = tmp_path / "export.xlsx"
    pl.DataFrame(
        {"contact_id": ["c1"], "customer_id": ["k1"], "started_at": ["2026-03-02 10:00"]}
    ).write_excel(path, worksheet="Contacten")
    params = write(tmp_path, "p.yaml", "sheet: Contacts\nmatch: any\n")
    code, _, err = run_cli(["repeats", str(path), "--params", params], capsys)
    assert code == 2
    assert_one_line_error(err, "export.xlsx", "'Contacts'", "Contacten")


def test_match_topic_without_topic_column(tmp_path, capsys):
    path = write(
        tmp_path, "thin.csv", "contact_id,customer_id,started_at\nc1,k1,2026-03-02 10:00\n"
    )
    code, _, err = run_cli(["repeats", path], capsys)
    assert code == 2
    assert_one_line_error(err, "thin.csv", "topic", "match: topic", "match: any")


def test_match_family_without_topic_column(tmp_path, capsys):
    path = write(
        tmp_path, "thin.csv", "contact_id,customer_id,started_at\nc1,k1,2026-03-02 10:00\n"
    )
    code, _, err = run_cli(["repeats", path, "--match", "family"], capsys)
    assert code == 2
    assert_one_line_error(err, "thin.csv", "topic", "match: family")


def test_columns_mapping_names_a_column_not_in_the_file(tmp_path, capsys):
    path = bad_rows(tmp_path, {}, header=GOOD_HEADER.replace("customer_id", "klant", 1))
    params = write(tmp_path, "p.yaml", "columns: {Klantnummer: customer_id}\n")
    code, _, err = run_cli(["repeats", path, "--params", params], capsys)
    assert code == 2
    assert_one_line_error(err, "contacts.csv", "'Klantnummer'", "not in the file")


def test_I1_a_mapping_for_another_file_of_the_same_parameters_is_not_an_error(tmp_path, capsys):
    # One parameters file serves contacts and page views: the web file names the customer
    # Klantnummer; the contacts file has customer_id itself.
    path = bad_rows(tmp_path, {})
    params = write(tmp_path, "p.yaml", "columns: {Klantnummer: customer_id}\n")
    code, _, err = run_cli(["repeats", path, "--params", params, "--json"], capsys)
    assert code == 0 and err == ""


def test_after_hours_without_office_hours(tmp_path, capsys):
    path = bad_rows(tmp_path, {})
    code, _, err = run_cli(["repeats", path, "--after-hours", "follow_up_is_first"], capsys)
    assert code == 2
    assert_one_line_error(err, "after_hours", "office_hours")


def test_bad_office_hours(tmp_path, capsys):
    path = bad_rows(tmp_path, {})
    params = write(
        tmp_path,
        "p.yaml",
        'after_hours: follow_up_is_first\noffice_hours: {mon: "08:00-25:00"}\n',
    )
    code, _, err = run_cli(["repeats", path, "--params", params], capsys)
    assert code == 2
    assert_one_line_error(err, "p.yaml", "office_hours.mon", "'08:00-25:00'")


def last_column(values: list[str]) -> dict[int, str]:
    """The good rows with their last field replaced, for a header whose last column differs."""
    pairs = enumerate(zip(GOOD_ROWS, values, strict=True))
    return {i: row.rsplit(",", 1)[0] + f",{v}\n" for i, (row, v) in pairs}


def test_bad_direction_value(tmp_path, capsys):
    header = GOOD_HEADER.replace("resolved", "direction")
    values = ["inbound", "", "uitgaand", "OUTBOUND"]
    path = bad_rows(tmp_path, last_column(values), header=header)
    code, _, err = run_cli(["repeats", path], capsys)
    assert code == 2
    assert_one_line_error(err, "direction", "row 3", "'uitgaand'", "inbound, outbound")


def test_ces_out_of_range(tmp_path, capsys):
    header = GOOD_HEADER.replace("resolved", "ces")
    path = bad_rows(tmp_path, last_column(["9", "7", "", "1"]), header=header)
    code, _, err = run_cli(["repeats", path], capsys)
    assert code == 2
    assert_one_line_error(err, "ces", "row 1", "'9'", "1 to 7")


@pytest.mark.parametrize(
    ("values", "dtype", "row", "example"),
    [
        ([3, 8, None, 1], pl.Int8, "row 2", "'8'"),
        ([3.0, 1.0, 2.5, None], pl.Float64, "row 3", "'2.5'"),
    ],
)
def test_numeric_ces_from_parquet_out_of_range_or_not_whole(
    tmp_path, capsys, values, dtype, row, example
):
    path = tmp_path / "c.parquet"
    pl.DataFrame(
        {
            "contact_id": ["c1", "c2", "c3", "c4"],
            "customer_id": ["k1", "k1", "k2", "k3"],
            "started_at": ["2026-03-02 10:00"] * 4,
            "ces": pl.Series(values, dtype=dtype),
        }
    ).write_parquet(path)
    code, _, err = run_cli(["repeats", str(path), "--match", "any"], capsys)
    assert code == 2
    assert_one_line_error(err, "ces", row, example, "1 to 7")


def test_file_not_found(tmp_path, capsys):
    code, _, err = run_cli(["repeats", str(tmp_path / "nope.csv")], capsys)
    assert code == 2
    assert_one_line_error(err, "nope.csv", "not found")


def test_glob_matching_nothing(tmp_path, capsys):
    code, _, err = run_cli(["repeats", str(tmp_path / "contacts-2026-W*.csv")], capsys)
    assert code == 2
    assert_one_line_error(err, "contacts-2026-W*.csv", "no file matches")


def test_unsupported_file_type(tmp_path, capsys):
    path = write(tmp_path, "contacts.json", "{}")
    code, _, err = run_cli(["repeats", path], capsys)
    assert code == 2
    assert_one_line_error(err, "contacts.json", "unsupported file type")


def test_invalid_yaml(tmp_path, capsys):
    path = bad_rows(tmp_path, {})
    params = write(tmp_path, "p.yaml", "window: [7d\n")
    code, _, err = run_cli(["repeats", path, "--params", params], capsys)
    assert code == 2
    assert_one_line_error(err, "p.yaml", "not valid YAML")


def test_period_end_before_start(tmp_path, capsys):
    path = bad_rows(tmp_path, {})
    code, _, err = run_cli(["repeats", path, "--period", "2026-03-09", "2026-03-02"], capsys)
    assert code == 2
    assert_one_line_error(err, "period", "after start")


def test_unknown_timezone(tmp_path, capsys):
    path = bad_rows(tmp_path, {})
    code, _, err = run_cli(["repeats", path, "--timezone", "Europe/Amsterdm"], capsys)
    assert code == 2
    assert_one_line_error(err, "timezone", "Europe/Amsterdm")


def test_unknown_flag_is_one_line_too(tmp_path, capsys):
    path = bad_rows(tmp_path, {})
    with pytest.raises(SystemExit) as stop:
        main(["repeats", path, "--windw", "7d"])
    assert stop.value.code == 2
    assert_one_line_error(capsys.readouterr().err, "--windw")


def test_error_in_second_file_of_a_glob_names_that_file_and_its_row(tmp_path, capsys):
    write(tmp_path, "contacts-2026-W01.csv", GOOD_HEADER + "".join(GOOD_ROWS))
    write(
        tmp_path,
        "contacts-2026-W02.csv",
        GOOD_HEADER + "c9,k9,2026-03-09 10:00,phone,tv,yes\nc10,k9,morgen,phone,tv,no\n",
    )
    code, _, err = run_cli(["repeats", str(tmp_path / "contacts-2026-W*.csv")], capsys)
    assert code == 2
    assert_one_line_error(err, "contacts-2026-W02.csv", "started_at", "row 2", "'morgen'")


def test_console_script_prints_no_traceback(tmp_path):
    path = bad_rows(tmp_path, {1: "c2,k1,gisteren,phone,billing,no\n"})
    done = subprocess.run(
        [sys.executable, "-m", "fcrlab.cli", "repeats", path, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert_one_line_error(done.stderr, "started_at", "row 2")
