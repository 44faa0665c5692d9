"""The workshop: sliders and dropdowns over the repeat engine, for team leads and agents.

All wiring lives here so the notebook only calls `workshop(...)` and shows `app.view`, and tests
can drive the callbacks without a browser: set a control's value, read `app.state`.
Charts are drawn as PNG by vl-convert (offline, no JavaScript from a CDN).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import altair as alt
import ipywidgets as w
import polars as pl
import vl_convert as vlc

from fcrlab.engine.repeats import is_episode, label_repeats
from fcrlab.online.impact import savings_per_year
from fcrlab.params import Params
from fcrlab.present.charts import fcr_variants_chart, topic_team_heatmap, window_curve
from fcrlab.read.contacts import Contacts
from fcrlab.sensitivity import SENSITIVITY_WINDOWS, sensitivity_curve, sensitivity_episodes
from fcrlab.summary import fcr_breakdown, fcr_summary, fcr_variants
from fcrlab.words import percent

__all__ = ["ALL", "Workshop", "workshop"]

ALL = "(all)"


def _png(chart: alt.TopLevelMixin) -> bytes:
    return vlc.vegalite_to_png(chart.to_json(), scale=1.0)


@dataclasses.dataclass
class Workshop:
    """The app: its controls, its output widgets, the last numbers shown (`state`)."""

    contacts: Contacts
    params: Params
    controls: dict[str, w.ValueWidget]
    numbers: w.HTML
    variants: w.Image
    curve: w.Image
    heatmap: w.Image
    whatif: w.HTML
    view: w.Widget
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    _variants: dict[tuple, pl.DataFrame] = dataclasses.field(default_factory=dict)
    _curves: dict[tuple, tuple[pl.DataFrame, bytes]] = dataclasses.field(default_factory=dict)

    # ------------------------------------------------------------------ reading the controls
    def current_params(self) -> Params:
        c = self.controls
        channels = list(c["channels"].value)
        return self.params.replace(
            window=c["window"].value,
            match=c["match"].value,
            channels=channels or None,
            abandoned=c["abandoned"].value,
            transfers=c["transfers"].value,
        )

    def _episode_filter(self) -> pl.Expr:
        expr = pl.lit(True)
        for name in ("topic", "team"):
            value = self.controls[name].value
            if value != ALL:
                expr = expr & (pl.col(name) == value)
        return expr

    # ------------------------------------------------------------------ recomputing
    def update(self, *_: Any) -> None:
        """Recompute everything the controls affect (ipywidgets calls this on every change)."""
        params = self.current_params()
        labels = label_repeats(self.contacts, params, contact_fields=True)
        chosen = _episodes_where(labels, self._episode_filter())
        summary = fcr_summary(chosen, params)
        self.state.update({k: summary[k] for k in _SHOWN})
        self.numbers.value = _numbers_html(summary, self.controls)
        self.variants.value = _png(fcr_variants_chart(fcr_variants(summary)))
        self.curve.value = self._curve(params)
        table = fcr_breakdown(labels, ["topic", "team"]).sort("topic", "team")
        self.state["heatmap"] = table
        self.heatmap.value = _png(topic_team_heatmap(table, min_episodes=params.min_episodes))
        self.update_whatif()

    def _curve(self, params: Params) -> bytes:
        """The window curve as PNG. Neither depends on the window slider: the labelled
        variants are kept per definition (a topic or team only filters them), the picture per
        definition, topic and team."""
        definition = (params.channels, params.abandoned, params.transfers)
        if definition not in self._variants:
            self._variants[definition] = sensitivity_episodes(self.contacts, params)
        scope = (*definition, self.controls["topic"].value, self.controls["team"].value)
        if scope not in self._curves:
            curve = sensitivity_curve(self._variants[definition], self._episode_filter())
            self._curves[scope] = (curve, _png(window_curve(curve)))
        curve, picture = self._curves[scope]
        self.state["curve"] = curve
        return picture

    def update_whatif(self, *_: Any) -> None:
        c = self.controls
        value = savings_per_year(
            c["calls_per_week"].value, c["share"].value, c["reduction"].value, c["cost"].value
        )
        self.state["savings_per_year"] = value
        self.whatif.value = (
            f"<b>€ {value:,.0f} a year</b> = {c['calls_per_week'].value:,.0f} calls a week × "
            f"{c['share'].value:.0%} online first for the same question × "
            f"{c['reduction'].value:.0%} fewer after the page fix × € {c['cost'].value:.2f} "
            "per call × 52 weeks"
        )


_SHOWN = (
    "episodes",
    "pending_episodes",
    "fcr",
    "fcr_ci_low",
    "fcr_ci_high",
    "fcr_flag",
    "fcr_strict",
    "fcr_survey",
    "repeat_rate",
)


def _episodes_where(labels: pl.DataFrame, where: pl.Expr) -> pl.DataFrame:
    """The labels of the episodes whose first contact satisfies `where`."""
    firsts = labels.filter(is_episode() & where)
    return labels.filter(pl.col("episode_id").is_in(firsts["episode_id"].implode()))


def _pct(value: float | None) -> str:
    return percent(value, 1, missing="–")


def _numbers_html(s: dict[str, Any], controls: dict[str, w.ValueWidget]) -> str:
    scope = ", ".join(
        f"{name} {controls[name].value}"
        for name in ("topic", "team")
        if controls[name].value != ALL
    )
    return (
        f"<div style='font-size:1.3em'><b id='fcr-value'>FCR {_pct(s['fcr'])}</b> "
        f"[{_pct(s['fcr_ci_low'])} – {_pct(s['fcr_ci_high'])}] &nbsp; agents ticked "
        f"{_pct(s['fcr_flag'])} &nbsp; ticked and not back {_pct(s['fcr_strict'])} &nbsp; "
        f"customers said {_pct(s['fcr_survey'])}</div>"
        f"<div>{s['episodes']:,} questions{' (' + scope + ')' if scope else ''}, "
        f"{s['pending_episodes']:,} still pending; window {controls['window'].value}, "
        f"same question = {controls['match'].value}</div>"
    )


def _calls_per_week(contacts: Contacts, params: Params) -> float:
    frame = contacts.frame.filter(
        pl.col("channel").is_in(list(params.assisted)) & (pl.col("direction") == "inbound")
    )
    if frame.height == 0:
        return 0.0
    span = frame["started_at"].max() - frame["started_at"].min()  # type: ignore[operator]
    weeks = max(span / dt.timedelta(days=7), 1.0)
    return frame.height / weeks


def workshop(
    contacts: Contacts, params: Params | None = None, *, same_question_share: float = 0.4
) -> Workshop:
    """Build the workshop app on loaded (pseudonymised) contacts; `app.view` shows it."""
    params = params or Params()
    frame = contacts.frame
    topics = sorted(t for t in frame["topic"].unique().to_list() if t is not None)
    teams = sorted(t for t in frame["team"].unique().to_list() if t is not None)
    channels = sorted(frame["channel"].unique().to_list())
    window = next(
        (v for v in SENSITIVITY_WINDOWS if Params().replace(window=v).window == params.window),
        "7d",
    )
    costs = dict(params.cost_per_contact or ())
    wide = {"description_width": "11em"}
    layout = w.Layout(width="36em")

    def slider(value: float, high: float, step: float, description: str, shown: str) -> w.Widget:
        return w.FloatSlider(
            value=value,
            min=0,
            max=high,
            step=step,
            description=description,
            style=wide,
            layout=layout,
            readout_format=shown,
        )

    controls: dict[str, w.ValueWidget] = {
        "window": w.SelectionSlider(
            options=list(SENSITIVITY_WINDOWS),
            value=window,
            description="Window",
            style=wide,
            layout=layout,
        ),
        "match": w.ToggleButtons(
            options=["topic", "family", "any"], value=params.match, description="Same question"
        ),
        "channels": w.SelectMultiple(
            options=channels,
            value=list(params.channels or ()),
            description="Channels (none = all)",
            style=wide,
            rows=min(len(channels), 5),
        ),
        "abandoned": w.ToggleButtons(
            options=["exclude", "include"], value=params.abandoned, description="Abandoned calls"
        ),
        "transfers": w.ToggleButtons(
            options=["same_contact", "breaks_fcr"], value=params.transfers, description="Transfers"
        ),
        "topic": w.Dropdown(options=[ALL, *topics], value=ALL, description="Topic", style=wide),
        "team": w.Dropdown(options=[ALL, *teams], value=ALL, description="Team", style=wide),
        "calls_per_week": w.FloatText(
            value=round(_calls_per_week(contacts, params)), description="Calls a week", style=wide
        ),
        "share": slider(same_question_share, 1, 0.01, "Online first, same q.", ".0%"),
        "reduction": slider(params.expected_reduction, 0.5, 0.01, "Fewer after fix", ".0%"),
        "cost": slider(costs.get(params.assisted[0], 6.5), 20, 0.25, "€ per call", ".2f"),
    }
    images = [w.Image(format="png") for _ in range(3)]
    numbers, whatif = w.HTML(), w.HTML()
    definition = w.VBox(
        [controls[k] for k in ("window", "match", "channels", "abandoned", "transfers")]
    )
    scope = w.VBox([controls["topic"], controls["team"]])
    money = w.VBox(
        [controls[k] for k in ("calls_per_week", "share", "reduction", "cost")] + [whatif]
    )
    view = w.VBox(
        [
            w.HTML("<h3>The FCR definition</h3>"),
            w.HBox([definition, scope]),
            numbers,
            images[0],
            images[1],
            images[2],
            w.HTML("<h3>What would fixing a help page save?</h3>"),
            money,
        ]
    )
    app = Workshop(contacts, params, controls, numbers, *images, whatif, view)
    for name in ("window", "match", "channels", "abandoned", "transfers", "topic", "team"):
        controls[name].observe(app.update, names="value")
    for name in ("calls_per_week", "share", "reduction", "cost"):
        controls[name].observe(app.update_whatif, names="value")
    app.update()
    return app
