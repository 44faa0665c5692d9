"""SPEC §3 parameters: every key of the example validates; bad keys and values name themselves."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from fcrlab.errors import ParamsError
from fcrlab.params import Params, format_duration, load_params, parse_duration

SPEC = Path(__file__).resolve().parents[1] / ".." / "shared" / "SPEC.md"

# SPEC §3's example parameters file, verbatim (kept here so the test does not depend on ../shared).
SPEC_EXAMPLE = """
timezone: Europe/Amsterdam
window: 7d
match: topic            # topic | family | any
channels: [phone, chat, email]
abandoned: exclude      # exclude | include
transfers: same_contact # same_contact | breaks_fcr
after_hours: follow_up_is_first
office_hours: {mon: "08:00-20:00", tue: "08:00-20:00", wed: "08:00-20:00", thu: "08:00-20:00",
               fri: "08:00-20:00", sat: "09:00-17:00", sun: null, holidays: [2026-12-25]}
period: {start: 2026-11-16, end: 2026-11-23}   # end exclusive
observed_until: 2026-11-30T00:00
min_episodes: 30
fdr: 0.05
follow_up_min_share: 0.10
follow_up_min_count: 30
changes: [{date: 2026-05-11, topic: mobile/roaming, note: new roaming bundle}]
assisted: [phone]
web_window: 24h
expected_reduction: 0.10
change: {page: /help/invoice, date: 2026-10-05, weeks: 8}
cost_per_contact: {phone: 6.50, chat: 4.00, email: 3.50}
columns: {Klantnummer: customer_id, Starttijd: started_at, Kanaal: channel, Reden: topic}
defaults: {channel: phone}
datetime_format: "%d-%m-%Y %H:%M"
sheet: Contacten
contacts: data/contacts.parquet      # inputs, for `fcrlab report` and the notebooks
web_visits: data/web_visits.parquet
page_topics: data/page_topics.csv    # or a mapping
salt_env: FCRLAB_SALT                # environment variable holding the pseudonymisation salt
pseudonymise_agents: false
"""


def test_every_key_of_the_spec_example_is_known_and_parsed():
    params = Params.from_mapping(yaml.safe_load(SPEC_EXAMPLE))
    assert params.window == dt.timedelta(days=7)
    assert params.channels == ("phone", "chat", "email")
    assert params.office_hours is not None
    assert params.office_hours.days[0] == (8 * 60, 20 * 60)
    assert params.office_hours.days[6] is None
    assert params.office_hours.holidays == (dt.date(2026, 12, 25),)
    assert params.period is not None and params.period.end == dt.date(2026, 11, 23)
    assert params.observed_until == dt.datetime(2026, 11, 30, 0, 0)
    assert params.changes[0].topic == "mobile/roaming"
    assert params.change is not None and params.change.weeks == 8
    assert dict(params.cost_per_contact or ()) == {"phone": 6.5, "chat": 4.0, "email": 3.5}
    assert params.web_window == dt.timedelta(hours=24)
    assert params.sheet == "Contacten"


@pytest.mark.skipif(not SPEC.exists(), reason="SPEC.md lives beside the project in ../shared")
def test_the_spec_example_block_is_the_one_tested_here():
    text = SPEC.read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    assert yaml.safe_load(block.group(1)) == yaml.safe_load(SPEC_EXAMPLE)


def test_round_trip_through_to_dict():
    params = Params.from_mapping(yaml.safe_load(SPEC_EXAMPLE))
    assert Params.from_mapping(params.to_dict()) == params


def test_flags_override_the_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("window: 7d\nmatch: family\n")
    params = load_params(path, window="24h", match=None)
    assert params.window == dt.timedelta(hours=24)
    assert params.match == "family"


@pytest.mark.parametrize(
    ("text", "hours"),
    [("90m", 1.5), ("24h", 24), ("72h", 72), ("7d", 168), ("2w", 336), ("1d12h", 36)],
)
def test_durations(text, hours):
    value = parse_duration(text)
    assert value == dt.timedelta(hours=hours)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"windw": "7d"}, "parameter 'windw': unknown parameter; did you mean 'window'?"),
        ({"window": "7 dagen"}, "parameter 'window': '7 dagen' is not a duration"),
        ({"window": "-7d"}, "parameter 'window': '-7d' is not a duration"),
        ({"match": "famly"}, "did you mean 'family'?"),
        ({"fdr": 2}, "parameter 'fdr': 2 must be between 0 and 1"),
        ({"min_episodes": 0}, "parameter 'min_episodes': 0 must be at least 1"),
        ({"office_hours": {"thurs": "08:00-17:00"}}, "unknown weekday 'thurs'; did you mean 'thu'"),
        ({"office_hours": {"mon": "17:00-08:00"}}, "not an opening interval"),
        ({"period": {"start": "2026-11-23", "end": "2026-11-16"}}, "must be after start"),
        ({"columns": {"Klant": "customer"}}, "did you mean 'customer_id'?"),
        ({"after_hours": "follow_up_is_first"}, "needs office_hours"),
        ({"changes": [{"date": "2026-05-11"}]}, "names a topic or a page"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"cost_per_contact": {"phone": "veel"}}, "'veel' is not an amount"),
    ],
)
def test_bad_values_name_the_key(mapping, message):
    with pytest.raises(ParamsError, match=re.escape(message)):
        Params.from_mapping(mapping)


def test_the_file_name_is_in_the_message(tmp_path):
    path = tmp_path / "weekly.yaml"
    path.write_text("match: topics\n")
    with pytest.raises(ParamsError, match=r"weekly\.yaml: parameter 'match'"):
        load_params(path)


def test_params_are_frozen():
    with pytest.raises(AttributeError):
        Params().window = dt.timedelta(hours=1)  # type: ignore[misc]


def test_replace_validates_like_a_file():
    base = Params()
    assert base.replace(window="72h").window == dt.timedelta(hours=72)
    with pytest.raises(ParamsError):
        base.replace(match="everything")
