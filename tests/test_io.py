"""SPEC §1: the forms real exports come in all read into the same canonical contacts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from fcrlab import Params, label_repeats, load_contacts
from fcrlab.errors import InputError
from fcrlab.summary import fcr_summary, ledger

AMS = ZoneInfo("Europe/Amsterdam")


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=AMS).astimezone(dt.UTC)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def write_parquet(tmp_path: Path, name: str, frame: pl.DataFrame) -> str:
    path = tmp_path / name
    frame.write_parquet(path)
    return str(path)


def test_dutch_export_semicolon_decimal_comma_latin1_day_first(tmp_path):
    text = (
        "Contactnr;Klantnummer;Starttijd;Kanaal;Reden;Opgelost;Gespreksduur\n"
        "1001;K01;01-03-2026 08:15;Telefoon;Factuur onjuist;ja;125,5\n"
        "1002;K01;03-03-2026 09:00;Telefoon;Factuur onjuist;Nee;1.234,75\n"
        "1003;K02;03-03-2026 09:30;E-mail;Verhuizing café ë;J;60\n"
    )
    path = write(tmp_path, "export.csv", text, encoding="latin-1")
    params = Params.from_mapping(
        {
            "columns": {
                "Contactnr": "contact_id",
                "Klantnummer": "customer_id",
                "Starttijd": "started_at",
                "Kanaal": "channel",
                "Reden": "topic",
                "Opgelost": "resolved",
                "Gespreksduur": "handle_seconds",
            }
        }
    )
    frame = load_contacts(path, params).frame
    assert frame["contact_id"].to_list() == ["1001", "1002", "1003"]
    assert frame["started_at"].to_list() == [
        local(2026, 3, 1, 8, 15),
        local(2026, 3, 3, 9, 0),
        local(2026, 3, 3, 9, 30),
    ]
    assert frame["channel"].to_list() == ["telefoon", "telefoon", "e-mail"]
    assert frame["topic"].to_list() == ["Factuur onjuist", "Factuur onjuist", "Verhuizing café ë"]
    assert frame["resolved"].to_list() == [True, False, True]
    assert frame["handle_seconds"].to_list() == [125.5, 1234.75, 60.0]


def test_windows_1252_characters_survive(tmp_path):
    text = "contact_id,customer_id,started_at,topic\nc1,k1,2026-03-02 10:00,“prijs” – €\n"
    path = write(tmp_path, "w.csv", text, encoding="cp1252")
    assert load_contacts(path).frame["topic"].to_list() == ["“prijs” – €"]


def test_utf8_with_bom(tmp_path):
    text = "\ufeffcontact_id,customer_id,started_at,topic\nc1,k1,2026-03-02T10:00:00,tv\n"
    path = write(tmp_path, "bom.csv", text)
    contacts = load_contacts(path)
    assert contacts.columns_found[0] == "contact_id"
    assert contacts.frame["started_at"].to_list() == [local(2026, 3, 2, 10, 0)]


def test_thin_quoted_semicolon_export_with_slashed_dates(tmp_path):
    text = (
        '"contact_id";"customer_id";"started_at"\n'
        '"1";"K9";"2021/03/01 08:15:00"\n'
        '"2";"K9";"2021/03/05 08:15:00"\n'
        '"3";"";"2021/03/05 09:00:00"\n'
    )
    path = write(tmp_path, "thin.csv", text)
    params = Params.from_mapping({"match": "any"})
    contacts = load_contacts(path, params)
    assert contacts.frame["channel"].to_list() == ["unknown"] * 3
    assert not contacts.has("topic")
    labels = label_repeats(contacts, params).sort("source_row")
    assert labels["is_repeat"].to_list() == [False, True, None]
    assert labels["excluded_reason"].to_list() == [None, None, "anonymous"]


def test_defaults_fill_a_missing_channel(tmp_path):
    text = "contact_id,customer_id,started_at\nc1,k1,2026-03-02 10:00\n"
    params = Params.from_mapping({"match": "any", "defaults": {"channel": "Phone"}})
    contacts = load_contacts(write(tmp_path, "t.csv", text), params)
    assert contacts.frame["channel"].to_list() == ["phone"]
    assert ("channel", "phone") in contacts.defaulted  # read like a value of the file (I7)


def test_dutch_and_english_booleans_in_any_case(tmp_path):
    values = ["true", "FALSE", "1", "0", "Yes", "no", "Y", "n", "JA", "Nee", "j", "N", ""]
    expected = [True, False, True, False, True, False, True, False, True, False, True, False, None]
    rows = "".join(f"c{i},k{i},2026-03-02 10:00,{v}\n" for i, v in enumerate(values))
    path = write(tmp_path, "b.csv", "contact_id,customer_id,started_at,survey_resolved\n" + rows)
    frame = load_contacts(path, Params.from_mapping({"match": "any"})).frame
    assert frame["survey_resolved"].to_list() == expected


def test_timestamp_forms_and_zones(tmp_path):
    stamps = [
        "2026-06-01T10:00:00+02:00",  # zoned: converted
        "2026-06-01T08:00:00Z",
        "2026-06-01 10:00",  # naive: local
        "2026/06/01 10:00",
        "01-06-2026 10:00:00",
        "2026-06-01T10:00:00.250",
        "2026-06-01",  # a date alone: local midnight
    ]
    rows = "".join(f"c{i},k1,{s}\n" for i, s in enumerate(stamps))
    path = write(tmp_path, "t.csv", "contact_id,customer_id,started_at\n" + rows)
    got = load_contacts(path, Params.from_mapping({"match": "any"})).frame["started_at"]
    ten = local(2026, 6, 1, 10, 0)
    assert got.to_list() == [
        ten,
        ten,
        ten,
        ten,
        ten,
        ten + dt.timedelta(milliseconds=250),
        local(2026, 6, 1, 0, 0),
    ]


def test_clock_changes_never_fail(tmp_path):
    # SPEC §1: spring-forward gap moves forward by the gap; ambiguous autumn takes summer time.
    rows = "c1,k1,2026-03-29 02:30\nc2,k1,2026-10-25 02:30\nc3,k1,2026-10-25 03:30\n"
    path = write(tmp_path, "dst.csv", "contact_id,customer_id,started_at\n" + rows)
    got = load_contacts(path, Params.from_mapping({"match": "any"})).frame["started_at"]
    assert got.to_list() == [
        dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),  # = 03:30 summer time
        dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC),  # = 02:30 summer time (+02:00)
        dt.datetime(2026, 10, 25, 2, 30, tzinfo=dt.UTC),  # = 03:30 winter time
    ]


def test_datetime_format_parameter(tmp_path):
    rows = "c1,k1,02.03.2026 10.15\n"
    path = write(tmp_path, "f.csv", "contact_id,customer_id,started_at\n" + rows)
    params = Params.from_mapping({"match": "any", "datetime_format": "%d.%m.%Y %H.%M"})
    assert load_contacts(path, params).frame["started_at"].to_list() == [local(2026, 3, 2, 10, 15)]


def test_other_timezone_parameter(tmp_path):
    rows = "c1,k1,2026-03-02 10:00\n"
    path = write(tmp_path, "tz.csv", "contact_id,customer_id,started_at\n" + rows)
    params = Params.from_mapping({"match": "any", "timezone": "America/New_York"})
    assert load_contacts(path, params).frame["started_at"].to_list() == [
        dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
    ]


def test_xlsx_numeric_ids_are_text_without_dot_zero(tmp_path):
    path = tmp_path / "export.xlsx"
    pl.DataFrame(
        {
            "contact_id": [123.0, 124.0],
            "customer_id": [987654.0, 987654.0],
            "started_at": [dt.datetime(2026, 3, 2, 10, 0), dt.datetime(2026, 3, 3, 11, 0)],
            "topic": ["tv", "tv"],
            "resolved": ["ja", "nee"],
        }
    ).write_excel(path)
    contacts = load_contacts(str(path))
    frame = contacts.frame
    assert frame["contact_id"].to_list() == ["123", "124"]
    assert frame["customer_id"].to_list() == ["987654", "987654"]
    assert frame["started_at"].to_list() == [local(2026, 3, 2, 10, 0), local(2026, 3, 3, 11, 0)]
    labels = label_repeats(contacts, Params()).sort("source_row")
    assert labels["repeat_of"].to_list() == [None, "123"]


def test_xlsx_named_sheet(tmp_path):
    path = tmp_path / "export.xlsx"
    import xlsxwriter

    with xlsxwriter.Workbook(path) as book:
        book.add_worksheet("Toelichting").write(0, 0, "lees mij")
        sheet = book.add_worksheet("Contacten")
        for r, row in enumerate(
            [["contact_id", "customer_id", "started_at"], ["a", "k", "2026-03-02 10:00"]]
        ):
            sheet.write_row(r, 0, row)
    params = Params.from_mapping({"match": "any", "sheet": "Contacten"})
    assert load_contacts(str(path), params).frame["contact_id"].to_list() == ["a"]


def test_parquet_with_integer_ids_and_zoned_times(tmp_path):
    path = tmp_path / "c.parquet"
    pl.DataFrame(
        {
            "contact_id": [1, 2],
            "customer_id": [7, 7],
            "started_at": [
                dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
                dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC),
            ],
        }
    ).write_parquet(path)
    frame = load_contacts(str(path), Params.from_mapping({"match": "any"})).frame
    assert frame["contact_id"].to_list() == ["1", "2"]
    assert frame["started_at"].to_list() == [local(2026, 3, 2, 10, 0), local(2026, 3, 3, 10, 0)]


def test_glob_of_weekly_files_reads_as_one_with_rows_per_file(tmp_path):
    header = "contact_id,customer_id,started_at,topic\n"
    write(tmp_path, "contacts-2026-W10.csv", header + "a,k1,2026-03-02 10:00,tv\n")
    write(
        tmp_path,
        "contacts-2026-W11.csv",
        header + "b,k1,2026-03-09 09:00,tv\nc,k2,2026-03-09 10:00,tv\n",
    )
    contacts = load_contacts(str(tmp_path / "contacts-2026-W*.csv"))
    assert contacts.rows_per_file == (1, 2)
    assert [Path(f).name for f in contacts.files] == [
        "contacts-2026-W10.csv",
        "contacts-2026-W11.csv",
    ]
    assert contacts.frame["source_row"].to_list() == [1, 2, 3]
    labels = label_repeats(contacts).sort("source_row")
    assert labels["repeat_of"].to_list() == [None, "a", None]  # 167 h apart: a repeat


def test_exact_duplicates_are_ledgered_and_every_row_is_accounted_for(tmp_path):
    text = (
        "contact_id,customer_id,started_at,topic,direction\n"
        "a,k1,2026-03-02 10:00,tv,\n"
        "b,,2026-03-02 11:00,tv,\n"
        "a,k1,2026-03-02 10:00,tv,\n"
        "c,k1,2026-03-03 10:00,tv,outbound\n"
        "d,k1,2026-03-04 10:00,tv,inbound\n"
    )
    contacts = load_contacts(write(tmp_path, "d.csv", text))
    assert contacts.frame["duplicate"].to_list() == [False, False, True, False, False]
    labels = label_repeats(contacts)
    book = ledger(labels)
    assert book["duplicate"] == 1 and book["anonymous"] == 1 and book["outbound"] == 1
    summary = fcr_summary(contacts)
    assert summary["rows_read"] == 5
    assert summary["rows_used"] + sum(summary["ledger"].values()) == summary["rows_read"]
    assert summary["rows_used"] == 2  # a and d (d repeats a)


def test_text_choices_read_value_by_value_agree_with_row_by_row(tmp_path, monkeypatch):
    """channel, direction, outcome and yes/no text are trimmed and lower-cased once per
    distinct value when a column has few of them; a column of many values takes the row by
    row path. Both give the same canonical values."""
    import fcrlab.read._columns as fio

    rows = [
        ("1", " Phone", "INBOUND ", "Handled", " Ja"),
        ("2", "CHAT\t", "outbound", "ABANDONED", "nee "),
        ("3", "", "", "\u00a0voicemail", ""),
        ("4", "email", "Inbound", "handled", "YES"),
        ("5", "phone", "inbound", "", "0"),
    ]
    frame = pl.DataFrame(
        {
            "contact_id": [r[0] for r in rows],
            "customer_id": ["c1"] * len(rows),
            "started_at": [dt.datetime(2026, 3, 2, 9, i) for i in range(len(rows))],
            "channel": [r[1] for r in rows],
            "direction": [r[2] for r in rows],
            "outcome": [r[3] for r in rows],
            "resolved": [r[4] for r in rows],
        }
    )
    path = tmp_path / "choices.parquet"
    frame.write_parquet(path)
    expected = {
        "channel": ["phone", "chat", "unknown", "email", "phone"],
        "direction": ["inbound", "outbound", "inbound", "inbound", "inbound"],
        "outcome": ["handled", "abandoned", "voicemail", "handled", "handled"],
        "resolved": [True, False, None, True, False],
    }
    params = Params.from_mapping({"match": "any"})
    few = load_contacts(str(path), params).frame.select(list(expected))
    monkeypatch.setattr(fio, "_FEW_VALUES", 1)  # every column now counts as one of many values
    many = load_contacts(str(path), params).frame.select(list(expected))
    assert few.to_dict(as_series=False) == expected
    assert many.to_dict(as_series=False) == expected


@pytest.mark.parametrize("where", [3, 12_000])  # in the rows looked at first, and after them
def test_ids_in_ascending_order_still_have_their_copies_and_conflicts_found(tmp_path, where):
    """Ids that only go up are known distinct without hashing; an id that repeats breaks the
    strict order, wherever it is, and takes the full check."""
    n = 15_000
    ids = [f"{i:06d}" for i in range(n)]
    frame = pl.DataFrame(
        {
            "contact_id": ids,
            "customer_id": [f"k{i % 97}" for i in range(n)],
            "started_at": [dt.datetime(2026, 3, 2) + dt.timedelta(minutes=i) for i in range(n)],
            "topic": "billing",
        }
    )
    assert not load_contacts(write_parquet(tmp_path, "ok.parquet", frame)).frame["duplicate"].any()
    copied = pl.concat([frame[: where + 1], frame[where : where + 1], frame[where + 1 :]])
    marks = load_contacts(write_parquet(tmp_path, "copy.parquet", copied)).frame["duplicate"]
    assert marks.arg_true().to_list() == [where + 1]
    conflict = copied.with_columns(
        customer_id=pl.when(pl.int_range(pl.len()) == where + 1)
        .then(pl.lit("other"))
        .otherwise("customer_id")
    )
    with pytest.raises(InputError, match=f"contact_id '{ids[where]}' appears on different rows"):
        load_contacts(write_parquet(tmp_path, "conflict.parquet", conflict))
