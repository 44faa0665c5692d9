"""How the window and the match rule move FCR: the curve an analyst uses to defend a window.

One labelling per match mode serves every window: a contact's previous matching contact does not
depend on the window (SPEC §2 rule 7), so under window w a contact is a first contact when its
previous matching contact is not within w, and a first contact is a fix when no contact naming
it as previous came within w (and rule 8's other conditions hold); pending and in the period by
rules 9 and 10. Each of those is the engine's own rule expression, applied per window. Rule 5
(after hours) itself depends on the window: then every window is labelled anew.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from fcrlab.engine.repeats import (
    in_period,
    is_fix,
    is_pending,
    label_repeats,
    observed_until,
    within_window,
)
from fcrlab.params import Params, parse_duration
from fcrlab.read.contacts import Contacts
from fcrlab.stats import wilson_exprs
from fcrlab.summary import episodes_table

__all__ = [
    "SENSITIVITY_WINDOWS",
    "sensitivity_curve",
    "sensitivity_episodes",
    "window_sensitivity",
]

SENSITIVITY_WINDOWS = ("24h", "48h", "72h", "7d", "14d", "30d")
_EVER = "5200w"  # a window longer than any data: every earlier matching contact is "previous"
_EPISODE_COLUMNS = ("topic", "team", "agent_id", "pending", "first_contact_fix")


def sensitivity_episodes(
    contacts: Contacts,
    params: Params | None = None,
    windows: Sequence[str] = SENSITIVITY_WINDOWS,
    matches: Sequence[str] = ("topic", "family", "any"),
) -> pl.DataFrame:
    """The reported episodes (first contacts, with topic, team and agent) under each window ×
    match mode, the rest of the definition unchanged: one long frame with `match`, `window`
    and `window_hours`, for `sensitivity_curve` (the workshop keeps it and filters it)."""
    params = params or Params()
    parts = []
    for match in matches:
        if match != "any" and not contacts.has("topic"):
            continue
        if params.after_hours == "follow_up_is_first":
            for window in windows:
                variant = params.replace(window=window, match=match)
                firsts = episodes_table(label_repeats(contacts, variant, contact_fields=True))
                parts.append(_variant(firsts, match, window))
            continue
        parts += _every_window(contacts, params.replace(match=match), windows)
    return pl.concat(parts)


def _every_window(contacts: Contacts, params: Params, windows: Sequence[str]) -> list[pl.DataFrame]:
    ever = params.replace(window=_EVER)
    labels = label_repeats(contacts, ever, contact_fields=True).filter("counted")
    until = observed_until(contacts, ever)
    start = pl.col("started_at").dt.epoch("us")
    labels = labels.with_columns(t=start)
    # Each contact's previous matching contact's start, and its earliest follower's start.
    previous = labels.select(repeat_of="contact_id", previous_t="t")
    followers = labels.group_by(contact_id="repeat_of").agg(next_t=pl.col("t").min())
    labels = labels.join(previous, on="repeat_of", how="left").join(
        followers, on="contact_id", how="left"
    )
    parts = []
    for window in windows:
        rules = params.replace(window=window)
        first = ~within_window(pl.col("previous_t"), pl.col("t"), rules).fill_null(False)
        alone = ~within_window(pl.col("t"), pl.col("next_t"), rules).fill_null(False)
        fix = is_fix(alone, rules, abandoned=pl.col("outcome") == "abandoned", legs=pl.col("legs"))
        pending = is_pending(pl.col("t"), until, rules)
        firsts = labels.filter(first & in_period(pl.col("t"), rules)).with_columns(
            pending=pending, first_contact_fix=pl.when(~pending).then(fix)
        )
        parts.append(_variant(firsts, params.match, window))
    return parts


def _variant(firsts: pl.DataFrame, match: str, window: str) -> pl.DataFrame:
    return firsts.select(_EPISODE_COLUMNS).with_columns(
        match=pl.lit(match),
        window=pl.lit(window),
        window_hours=pl.lit(parse_duration(window).total_seconds() / 3600),
    )


def sensitivity_curve(episodes: pl.DataFrame, where: pl.Expr | None = None) -> pl.DataFrame:
    """FCR with its Wilson interval per window × match mode from `sensitivity_episodes`,
    optionally over the episodes whose first contact satisfies `where`."""
    if where is not None:
        episodes = episodes.filter(where)
    table = (
        episodes.group_by("match", "window", "window_hours")
        .agg(
            episodes=(~pl.col("pending")).sum(),
            pending_episodes=pl.col("pending").sum(),
            fixes=pl.col("first_contact_fix").fill_null(False).sum(),
        )
        .with_columns(pl.col("episodes", "pending_episodes").cast(pl.Int64))
    )
    low, high = wilson_exprs(pl.col("fixes"), pl.col("episodes"))
    return (
        table.with_columns(
            fcr=pl.when(pl.col("episodes") > 0).then(pl.col("fixes") / pl.col("episodes")),
            fcr_ci_low=low,
            fcr_ci_high=high,
        )
        .drop("fixes")
        .sort("match", "window_hours")
    )


def window_sensitivity(
    contacts: Contacts,
    params: Params | None = None,
    windows: Sequence[str] = SENSITIVITY_WINDOWS,
    matches: Sequence[str] = ("topic", "family", "any"),
    episodes: pl.Expr | None = None,
) -> pl.DataFrame:
    """FCR for each window × match mode, the rest of the definition unchanged: the curve an
    analyst uses to defend a window (FCR falls as the window grows; where it flattens, later
    contacts are new questions rather than repeats). `episodes` optionally keeps only the
    episodes whose first contact satisfies it (e.g. `pl.col("team") == "team-east"`)."""
    return sensitivity_curve(sensitivity_episodes(contacts, params, windows, matches), episodes)
