"""The bundled synthetic sample: deterministic, shaped like SPEC §1, carrying its planted effects.

The planted effects (data/README.md) are measured here naively, with plain polars on the
generated frames and not with fcrlab's engine, so that the sample is checked independently of
the code it is meant to exercise.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fcrlab.sample import SAMPLE_CONTACTS, SAMPLE_SEED, make_sample, write_sample

CONTACT_COLUMNS = {
    "contact_id": pl.String,
    "customer_id": pl.String,
    "started_at": pl.Datetime("us"),
    "channel": pl.String,
    "topic": pl.String,
    "agent_id": pl.String,
    "team": pl.String,
    "resolved": pl.Boolean,
    "direction": pl.String,
    "outcome": pl.String,
    "conversation_id": pl.String,
    "survey_resolved": pl.Boolean,
    "ces": pl.Int8,
    "csat": pl.Int8,
    "online_first": pl.Boolean,
    "handle_seconds": pl.Float64,
}
WINDOW = timedelta(days=7)
START, END = datetime(2026, 6, 1), datetime(2026, 11, 30)
HARD = ["internet/outage", "tv/no-signal", "internet/slow"]


@pytest.fixture(scope="module")
def sample() -> dict[str, pl.DataFrame]:
    return make_sample()  # the bundled size: effects are sized for it, and it takes < 1 s


@pytest.fixture(scope="module")
def contacts(sample) -> pl.DataFrame:
    return sample["contacts"]


def _counted(contacts: pl.DataFrame) -> pl.DataFrame:
    """Contacts as the customer made them, naively: exact copies and anonymous rows dropped,
    legs of a conversation merged (first leg's time, last non-empty topic/team/agent), and only
    contacts with an inbound, not abandoned leg kept (SPEC §2 rules 1-3, roughly)."""
    last = [
        pl.col(c).sort_by("started_at", "contact_id").drop_nulls().last()
        for c in ("topic", "team", "agent_id")
    ]
    return (
        contacts.unique(maintain_order=True)
        .filter(pl.col("customer_id").is_not_null())
        .with_columns(conv=pl.coalesce("conversation_id", "contact_id"))
        .group_by("customer_id", "conv")
        .agg(
            pl.col("contact_id", "started_at", "channel")
            .sort_by("started_at", "contact_id")
            .first(),
            *last,
            inbound=(pl.col("direction") == "inbound").any(),
            answered=(pl.col("outcome") != "abandoned").any(),
        )
        .filter("inbound", "answered")
        .drop("conv", "inbound", "answered")
        .sort("customer_id", "started_at", "contact_id")
    )


def _first_contacts(contacts: pl.DataFrame, window: timedelta = WINDOW) -> pl.DataFrame:
    """First contacts under `match: topic` with `fix` = no same-topic contact of the customer
    within `window` after it (then the episode has one contact). Pending ones are dropped.
    Gaps are naive local time: across the clock change that is off by an hour, which is fine."""
    c = _counted(contacts).sort("customer_id", "topic", "started_at", "contact_id")
    same = (pl.col("customer_id") == pl.col("customer_id").shift(1)) & pl.col("topic").eq_missing(
        pl.col("topic").shift(1)
    )
    gap = pl.col("started_at") - pl.col("started_at").shift(1)
    c = c.with_columns(
        first=~(same & (gap <= window)).fill_null(False),
        repeated=(same & (gap <= window)).shift(-1).fill_null(False),
    )
    observed = contacts["started_at"].max()
    return c.filter("first", pl.col("started_at") + window <= observed).with_columns(
        fix=~pl.col("repeated")
    )


@pytest.fixture(scope="module")
def first_contacts(contacts) -> pl.DataFrame:
    return _first_contacts(contacts)


def _fcr(frame: pl.DataFrame) -> float:
    return frame["fix"].mean()


def _mix_ratio(unit: pl.DataFrame, everyone: pl.DataFrame) -> float:
    """Observed repeats / repeats expected from each topic's overall FCR (topic-mix adjusted)."""
    topic_fcr = everyone.group_by("topic").agg(expected=pl.col("fix").mean())
    mixed = unit.join(topic_fcr, on="topic", how="left", nulls_equal=True)
    return (~mixed["fix"]).sum() / (1 - mixed["expected"]).sum()


def test_same_seed_gives_identical_frames_and_another_seed_differs():
    one, two = make_sample(contacts=3_000, seed=7), make_sample(contacts=3_000, seed=7)
    for name in ("contacts", "web_visits", "page_topics"):
        assert_frame_equal(one[name], two[name])
    other = make_sample(contacts=3_000, seed=8)
    assert not one["contacts"].equals(other["contacts"])
    assert not one["web_visits"].equals(other["web_visits"])


def test_defaults_give_the_bundled_size(contacts):
    assert (SAMPLE_SEED, SAMPLE_CONTACTS) == (20261123, 50_000)
    assert contacts.height == SAMPLE_CONTACTS


@pytest.mark.parametrize("size", [1, 40, 2_500])
def test_contacts_argument_is_the_exact_row_count(size):
    assert make_sample(contacts=size, seed=3)["contacts"].height == size


def test_contacts_have_spec_columns_and_types(sample):
    assert sample["contacts"].schema == pl.Schema(CONTACT_COLUMNS)
    assert sample["web_visits"].schema == pl.Schema(
        {"customer_id": pl.String, "visited_at": pl.Datetime("us"), "page": pl.String}
    )
    assert sample["page_topics"].columns == ["page", "topic"]


def test_value_domains(contacts, sample):
    assert set(contacts["channel"]) == {"phone", "chat", "email", "social"}
    assert set(contacts["direction"]) == {"inbound", "outbound"}
    assert set(contacts["outcome"]) == {"handled", "abandoned", "voicemail"}
    assert contacts["ces"].drop_nulls().is_between(1, 7).all()
    assert set(contacts["ces"].drop_nulls()) == set(range(1, 8))
    assert set(contacts["csat"].drop_nulls()) == set(range(1, 6))
    assert contacts["started_at"].min() >= START and contacts["started_at"].max() < END
    visits = sample["web_visits"]["visited_at"]
    assert visits.min() >= datetime(2026, 5, 31) and visits.max() < END
    assert contacts["contact_id"].str.contains(r"^C\d{8}$").all()
    assert contacts["customer_id"].drop_nulls().str.contains(r"^K\d{7}$").all()
    assert contacts["agent_id"].drop_nulls().str.contains(r"^A\d{3}$").all()
    topics = contacts["topic"].drop_nulls()
    assert topics.str.contains(r"^[a-z]+/[a-z-]+$").all()
    assert topics.n_unique() == 14
    assert {"billing/invoice-incorrect", "mobile/roaming", "tv/decoder"} <= set(topics)
    # Teams of 8-12 agents, each agent in one team.
    per_team = contacts.drop_nulls("agent_id").group_by("team").agg(pl.col("agent_id").n_unique())
    assert per_team.height == 5 and per_team["agent_id"].is_between(8, 12).all()
    assert (
        contacts.drop_nulls("agent_id")
        .group_by("agent_id")
        .agg(pl.col("team").n_unique())["team"]
        .max()
        == 1
    )
    # Only exact copies share a contact_id (SPEC §1: conflicting duplicates are an error).
    assert contacts.unique().height == contacts["contact_id"].n_unique()
    assert sample["web_visits"]["customer_id"].null_count() == 0


def test_clock_change_week_is_there_and_times_are_naive(contacts):
    assert contacts.schema["started_at"].time_zone is None
    around = contacts.filter(
        pl.col("started_at").is_between(datetime(2026, 10, 22), datetime(2026, 10, 29))
    )
    assert around["started_at"].dt.date().n_unique() == 7


def test_phone_and_chat_keep_office_hours_email_and_social_do_not(contacts):
    t = pl.col("started_at")
    open_ = (t.dt.weekday() <= 5) & t.dt.hour().is_between(8, 19) | (
        (t.dt.weekday() == 6) & t.dt.hour().is_between(9, 16)
    )
    # A conversation starts in office hours; a transferred second leg may run a few minutes past.
    desk = (
        contacts.filter(pl.col("channel").is_in(["phone", "chat"]))
        .group_by(pl.coalesce("conversation_id", "contact_id"))
        .agg(t.min())
    )
    assert desk.select(open_.all()).item()
    written = contacts.filter(pl.col("channel").is_in(["email", "social"]))
    assert 0.25 < written.select((~open_).mean()).item() < 0.60  # evenings and weekends
    assert (written["started_at"].dt.weekday() == 7).any()


def test_realistic_proportions(contacts, sample, first_contacts):
    n = contacts.height
    share = contacts["channel"].value_counts(normalize=True).sort("channel")
    assert 0.50 <= share.filter(pl.col("channel") == "phone")["proportion"].item() <= 0.60
    assert 0.001 <= (n - contacts.unique().height) / n <= 0.004  # exact duplicate rows
    assert 0.007 <= contacts["customer_id"].null_count() / n <= 0.013  # anonymous
    assert 0.03 <= contacts["topic"].null_count() / n <= 0.08
    assert 0.005 <= (contacts["direction"] == "outbound").mean() <= 0.04
    phone = contacts.filter(pl.col("channel") == "phone")
    assert 0.03 <= (phone["outcome"] != "handled").mean() <= 0.07
    assert (phone["outcome"] == "voicemail").sum() > 0
    # Transfers: two handled inbound phone legs sharing a conversation_id, minutes apart.
    legs = (
        phone.unique()
        .filter(pl.col("outcome") == "handled", pl.col("direction") == "inbound")
        .group_by("conversation_id")
        .agg(pl.len(), span=pl.col("started_at").max() - pl.col("started_at").min())
        .filter(pl.col("len") == 2)
    )
    assert 0.04 <= legs.height / phone.height <= 0.08
    assert (legs["span"] <= timedelta(minutes=30)).all()
    # Callbacks: an outbound leg sharing the conversation of an abandoned call or voicemail.
    missed = phone.filter(pl.col("outcome") != "handled").drop_nulls("conversation_id")
    callback = missed.join(
        phone.filter(pl.col("direction") == "outbound"), on="conversation_id", how="semi"
    )
    assert 0.3 <= callback.height / missed.height <= 0.7
    # The tick over-reports; surveys are a subset; FCR as customers live it is 70-75%.
    handled = contacts.filter(pl.col("outcome") == "handled")
    assert 0.85 <= handled["resolved"].is_not_null().mean() <= 0.95
    assert handled["resolved"].drop_nulls().mean() >= 0.93
    assert 0.12 <= contacts["survey_resolved"].is_not_null().mean() <= 0.18
    assert 0.70 <= _fcr(first_contacts) <= 0.76
    ticked = contacts.join(first_contacts.select("contact_id"), on="contact_id", how="semi")
    assert ticked["resolved"].drop_nulls().mean() - _fcr(first_contacts) > 0.15
    # The window choice matters: some repeats come after 7 days.
    assert _fcr(_first_contacts(contacts, timedelta(days=14))) < _fcr(first_contacts) - 0.015
    assert _fcr(_first_contacts(contacts, timedelta(hours=24))) > _fcr(first_contacts) + 0.08
    assert 5 <= sample["web_visits"].height / n <= 8


def test_survey_and_effort_follow_the_truth(contacts, first_contacts):
    said = contacts.join(first_contacts.select("contact_id", "fix"), on="contact_id").unique()
    by_fix = said.group_by("fix").agg(
        pl.col("survey_resolved").mean(), pl.col("ces").mean(), pl.col("csat").mean()
    )
    fixed, repeated = (by_fix.filter(pl.col("fix") == v).row(0, named=True) for v in (True, False))
    assert fixed["survey_resolved"] - repeated["survey_resolved"] > 0.3
    assert repeated["ces"] - fixed["ces"] > 1.0
    assert fixed["csat"] - repeated["csat"] > 0.8


def test_online_first_is_logged_in_the_pilot_week_only(contacts):
    logged = contacts.filter(pl.col("online_first").is_not_null())
    assert 100 <= logged.height <= 1_000
    assert set(logged["channel"]) == {"phone"}
    assert logged["started_at"].min() >= datetime(2026, 9, 7)
    assert logged["started_at"].max() < datetime(2026, 9, 14)
    assert logged["agent_id"].n_unique() == 20
    assert 0.15 <= logged["online_first"].mean() <= 0.5


def test_page_topics_have_exact_pages_and_prefixes(sample):
    pages = dict(sample["page_topics"].iter_rows())
    assert pages["/help/invoice"] == "billing/invoice-incorrect"
    assert pages["/help/tv/*"] == "tv" and pages["/help/internet/*"] == "internet"
    viewed = set(sample["web_visits"]["page"])
    assert {"/", "/account", "/help/tv/decoder", "/help/internet/router"} <= viewed
    assert any(p.startswith("/shop/") for p in viewed)


def _page_topic(visits: pl.DataFrame, page_topics: pl.DataFrame) -> pl.DataFrame:
    """Each view with the topic its page answers: an exact page, else a `prefix*`."""
    exact = page_topics.filter(~pl.col("page").str.ends_with("*"))
    prefixes = page_topics.filter(pl.col("page").str.ends_with("*"))
    by_prefix = pl.coalesce(
        pl.when(pl.col("page").str.starts_with(p[:-1])).then(pl.lit(t))
        for p, t in prefixes.iter_rows()
    )
    return visits.join(exact.rename({"topic": "view_topic"}), on="page", how="left").with_columns(
        view_topic=pl.coalesce("view_topic", by_prefix)
    )


def test_about_40_percent_of_phone_callers_read_a_page_on_their_question(sample, contacts):
    views = _page_topic(sample["web_visits"], sample["page_topics"]).drop_nulls("view_topic")
    calls = _counted(contacts).filter(
        pl.col("channel") == "phone", pl.col("started_at") >= START + timedelta(days=1)
    )
    before = calls.join(views, on="customer_id").filter(
        pl.col("visited_at") < pl.col("started_at"),
        pl.col("visited_at") >= pl.col("started_at") - timedelta(hours=24),
        (pl.col("topic") == pl.col("view_topic"))
        | pl.col("topic").str.starts_with(pl.col("view_topic") + "/"),
    )
    share = before["contact_id"].n_unique() / calls.height
    assert 0.33 <= share <= 0.47


# --- planted effects (data/README.md) --------------------------------------------------------


def test_planted_a_team_east_is_weak_on_invoice_incorrect(first_contacts):
    invoice = first_contacts.filter(pl.col("topic") == "billing/invoice-incorrect")
    by_team = invoice.group_by("team").agg(fcr=pl.col("fix").mean(), n=pl.len()).sort("team")
    east = by_team.filter(pl.col("team") == "team-east").row(0, named=True)
    peers = invoice.filter(pl.col("team") != "team-east")
    assert east["n"] >= 500
    assert _fcr(peers) - east["fcr"] >= 0.14  # planted ~20 points
    # The other big teams do not differ on it (noise is not an effect).
    big = by_team.filter(pl.col("team") != "team-east", pl.col("n") >= 500)["fcr"]
    assert big.max() - big.min() < 0.07
    # And team-east is ordinary on its other topics.
    others = first_contacts.filter(pl.col("topic") != "billing/invoice-incorrect")
    east_rest = others.filter(pl.col("team") == "team-east")
    assert (
        abs(
            _fcr(east_rest) - _fcr(others.filter(~pl.col("team").is_in(["team-east", "team-care"])))
        )
        < 0.03
    )


def test_planted_b_agent_a017_is_weak_on_roaming(first_contacts):
    roaming = first_contacts.filter(pl.col("topic") == "mobile/roaming")
    a017 = roaming.filter(pl.col("agent_id") == "A017")
    assert a017.height >= 80
    assert _fcr(roaming.filter(pl.col("agent_id") != "A017")) - _fcr(a017) >= 0.15  # planted ~25
    # On the rest of its (mobile-heavy) mix A017 is ordinary.
    rest = first_contacts.filter(pl.col("topic") != "mobile/roaming")
    assert 0.8 <= _mix_ratio(rest.filter(pl.col("agent_id") == "A017"), rest) <= 1.2


def test_planted_c_decoder_drops_for_three_weeks_from_14_september(first_contacts):
    change, back = datetime(2026, 9, 14), datetime(2026, 10, 5)
    t = pl.col("started_at")
    decoder = first_contacts.filter(pl.col("topic") == "tv/decoder")
    before = decoder.filter(t < change)
    during = decoder.filter(t >= change, t < back)
    after = decoder.filter(t >= back)
    assert during.height >= 200
    assert _fcr(before) - _fcr(during) >= 0.15  # planted ~25 points
    assert _fcr(after) - _fcr(during) >= 0.15
    assert abs(_fcr(after) - _fcr(before)) < 0.07
    # Other topics did not change in those weeks.
    rest = first_contacts.filter(pl.col("topic") != "tv/decoder")
    assert abs(_fcr(rest.filter(t >= change, t < back)) - _fcr(rest.filter(t < change))) < 0.03


def test_planted_d_a_move_is_followed_by_an_invoice_question(contacts):
    counted = _counted(contacts)
    observed = contacts["started_at"].max()

    def followed_by_invoice(topic: str) -> float:
        start = counted.filter(pl.col("topic") == topic, pl.col("started_at") + WINDOW <= observed)
        invoice = counted.filter(pl.col("topic") == "billing/invoice-incorrect")
        hits = start.join(
            invoice.select("customer_id", later="started_at"), on="customer_id"
        ).filter(
            pl.col("later") > pl.col("started_at"), pl.col("later") <= pl.col("started_at") + WINDOW
        )
        return hits["contact_id"].n_unique() / start.height

    assert 0.28 <= followed_by_invoice("moving/new-address") <= 0.42  # planted ~35%
    for topic in ("moving/transfer-contract", "billing/refund", "tv/decoder"):
        assert followed_by_invoice(topic) < 0.08


def test_planted_e_invoice_help_page_sends_fewer_callers_from_5_october(sample, contacts):
    change = datetime(2026, 10, 5)
    calls = contacts.unique().filter(
        pl.col("channel") == "phone",
        pl.col("direction") == "inbound",
        pl.col("customer_id").is_not_null(),
    )
    views = (
        sample["web_visits"]
        .filter(
            pl.col("page").str.starts_with("/help/"),
            pl.col("visited_at") >= START,
            pl.col("visited_at") + timedelta(hours=24) <= contacts["started_at"].max(),
        )
        .with_row_index("view")
    )
    called = (
        views.join(calls.select("customer_id", call="started_at"), on="customer_id")
        .filter(
            pl.col("call") > pl.col("visited_at"),
            pl.col("call") <= pl.col("visited_at") + timedelta(hours=24),
        )
        .select("view")
        .unique()
    )
    rates = (
        views.with_columns(
            called=pl.col("view").is_in(called["view"].implode()),
            invoice=pl.col("page") == "/help/invoice",
            after=pl.col("visited_at") >= change,
        )
        .group_by("invoice", "after")
        .agg(rate=pl.col("called").mean(), n=pl.len())
    )

    def rate(invoice: bool, after: bool) -> float:
        return rates.filter(pl.col("invoice") == invoice, pl.col("after") == after)["rate"].item()

    assert 0.25 <= rate(True, False) <= 0.36  # planted ~30%
    assert 0.13 <= rate(True, True) <= 0.23  # planted ~18%
    assert rate(True, False) - rate(True, True) >= 0.07
    assert abs(rate(False, True) - rate(False, False)) < 0.03  # other pages stay the same


def test_planted_f_team_care_takes_hard_topics_and_is_not_worse_within_them(first_contacts):
    care = first_contacts.filter(pl.col("team") == "team-care")
    peers = first_contacts.filter(~pl.col("team").is_in(["team-care", "team-east"]))
    assert care["topic"].is_in(HARD).mean() >= 0.6
    assert peers["topic"].is_in(HARD).mean() <= 0.25
    assert _fcr(peers) - _fcr(care) >= 0.03  # worse at first sight ...
    for topic in HARD:  # ... but not within a topic
        in_topic = pl.col("topic") == topic
        assert abs(_fcr(care.filter(in_topic)) - _fcr(peers.filter(in_topic))) < 0.06
    assert 0.9 <= _mix_ratio(care, first_contacts) <= 1.1


def test_write_sample_writes_the_three_files(tmp_path):
    paths = write_sample(tmp_path / "data", contacts=2_000, seed=11)
    assert set(paths) == {"contacts", "web_visits", "page_topics"}
    assert [p.name for p in paths.values()] == [
        "contacts.parquet",
        "web_visits.parquet",
        "page_topics.csv",
    ]
    again = make_sample(contacts=2_000, seed=11)
    assert_frame_equal(pl.read_parquet(paths["contacts"]), again["contacts"])
    assert_frame_equal(pl.read_parquet(paths["web_visits"]), again["web_visits"])
    assert_frame_equal(pl.read_csv(paths["page_topics"]), again["page_topics"])


def test_the_committed_sample_is_what_the_default_seed_makes(sample):
    """data/ is `fcrlab sample --out data/` with the defaults: same seed, same contents."""
    root = Path(__file__).resolve().parents[1] / "data"
    assert_frame_equal(pl.read_parquet(root / "contacts.parquet"), sample["contacts"])
    assert_frame_equal(pl.read_parquet(root / "web_visits.parquet"), sample["web_visits"])
    assert_frame_equal(pl.read_csv(root / "page_topics.csv"), sample["page_topics"])
