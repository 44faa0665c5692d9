"""Altair charts of ready-made frames: encodings only, no filtering or aggregation in Vega.

`use_notebook_output()` sets the house theme and renders charts as PNG (offline: no CDN),
so the same notebook works in JupyterLab, under papermill and in the HTML reports.
"""

from __future__ import annotations

import altair as alt
import polars as pl

__all__ = [
    "BETTER",
    "NEUTRAL",
    "NOT_ENOUGH",
    "WORSE",
    "fcr_variants_chart",
    "funnel_chart",
    "gaps_heatmap",
    "online_first_chart",
    "page_call_rate_chart",
    "page_change_chart",
    "page_topic_heatmap",
    "rate_chart",
    "signal_auc_chart",
    "use_notebook_output",
    "weekly_chart",
    "window_curve",
]

WORSE = "#c0392b"  # worse than peers
BETTER = "#1e8449"  # better than peers
NEUTRAL = "#2c6fbb"
NOT_ENOUGH = "#b3b3b3"  # not enough data to say
_FONT = "Segoe UI, Helvetica, Arial, sans-serif"


@alt.theme.register("fcrlab", enable=False)
def _theme() -> alt.theme.ThemeConfig:
    return {
        "config": {
            "font": _FONT,
            "axis": {"labelFontSize": 12, "titleFontSize": 13, "gridColor": "#e6e6e6"},
            "legend": {"labelFontSize": 12, "titleFontSize": 13},
            "title": {"fontSize": 15, "anchor": "start", "fontWeight": "bold"},
            "header": {"labelFontSize": 12, "titleFontSize": 13},
            "range": {"category": [NEUTRAL, "#e67e22", "#8e44ad", BETTER, WORSE, NOT_ENOUGH]},
            "view": {"stroke": None},
        }
    }


def use_notebook_output(scale: float = 1.5) -> None:
    """House theme, PNG charts (drawn by vl-convert, no internet), readable polars tables."""
    alt.theme.enable("fcrlab")
    alt.renderers.enable("png", scale_factor=scale)
    pl.Config.set_tbl_rows(30)
    pl.Config.set_tbl_cols(16)
    pl.Config.set_tbl_width_chars(160)
    pl.Config.set_fmt_str_lengths(40)
    pl.Config.set_tbl_hide_dataframe_shape(True)
    pl.Config.set_float_precision(3)


def _percent_axis(title: str) -> alt.Axis:
    return alt.Axis(format="%", title=title)


def fcr_variants_chart(variants: pl.DataFrame) -> alt.Chart:
    """The FCR variants side by side, each with its 95 % interval (from `fcr_variants`)."""
    base = alt.Chart(variants).encode(
        y=alt.Y("label:N", sort=None, title=None, axis=alt.Axis(labelLimit=320)),
        tooltip=["label", alt.Tooltip("rate:Q", format=".1%"), "n"],
    )
    bars = base.mark_bar(color=NEUTRAL, opacity=0.8).encode(
        x=alt.X("rate:Q", axis=_percent_axis("share of questions"), scale=alt.Scale(domain=[0, 1]))
    )
    errors = base.mark_rule(color="#333333", strokeWidth=2).encode(x="ci_low:Q", x2="ci_high:Q")
    text = base.mark_text(align="left", dx=6, dy=-9, fontSize=12).encode(
        x="ci_high:Q", text=alt.Text("rate:Q", format=".1%")
    )
    return (bars + errors + text).properties(
        width=460, height=alt.Step(42), title="First contact resolution, four ways"
    )


def rate_chart(
    table: pl.DataFrame,
    by: str,
    *,
    rate: str = "fcr",
    count: str = "episodes",
    title: str = "",
    flag: str | None = None,
) -> alt.Chart:
    """A rate per unit (worst first as the frame is sorted), with interval and count beside it.

    `flag` names a column with values "worse", "better", "ok" or "too few" for the colour.
    """
    frame = table.with_columns(pl.col(by).fill_null("(empty)").cast(pl.String))
    base = alt.Chart(frame).encode(
        y=alt.Y(f"{by}:N", sort=None, title=None, axis=alt.Axis(labelLimit=260)),
        tooltip=[by, alt.Tooltip(f"{rate}:Q", format=".1%"), count],
    )
    colour = (
        alt.Color(
            f"{flag}:N",
            scale=alt.Scale(
                domain=["worse", "ok", "better", "too few"],
                range=[WORSE, NEUTRAL, BETTER, NOT_ENOUGH],
            ),
            title=None,
        )
        if flag
        else alt.value(NEUTRAL)
    )
    points = base.mark_point(filled=True, size=70).encode(
        x=alt.X(
            f"{rate}:Q",
            axis=_percent_axis(rate.replace("_", " ")),
            scale=alt.Scale(zero=False),
        ),
        color=colour,
    )
    errors = base.mark_rule(strokeWidth=2).encode(
        x=f"{rate}_ci_low:Q", x2=f"{rate}_ci_high:Q", color=colour
    )
    counts = base.mark_text(align="left", fontSize=11, color="#555555").encode(
        x=alt.value(468), text=alt.Text(f"{count}:Q", format=",")
    )
    return (errors + points + counts).properties(
        width=460, height=alt.Step(20), title=title or f"{rate.upper()} by {by} (n right)"
    )


def window_curve(sensitivity: pl.DataFrame) -> alt.Chart:
    """FCR against the window, one line per match mode, with the 95 % band (from
    `window_sensitivity`)."""
    base = alt.Chart(sensitivity).encode(
        x=alt.X(
            "window_hours:Q",
            scale=alt.Scale(type="log"),
            axis=alt.Axis(values=[24, 48, 72, 168, 336, 720], title="window (hours, log scale)"),
        ),
        color=alt.Color("match:N", title="same question ="),
    )
    band = base.mark_area(opacity=0.15).encode(y="fcr_ci_low:Q", y2="fcr_ci_high:Q")
    line = base.mark_line(point=True).encode(
        y=alt.Y("fcr:Q", axis=_percent_axis("FCR")),
        tooltip=["match", "window", alt.Tooltip("fcr:Q", format=".1%"), "episodes"],
    )
    return (band + line).properties(
        width=460, height=260, title="How the window and the match rule move FCR"
    )


def topic_team_heatmap(
    table: pl.DataFrame, *, value: str = "fcr", min_episodes: int = 30, title: str = ""
) -> alt.Chart:
    """FCR per topic × team as a heatmap (from `fcr_breakdown(labels, ["topic", "team"])` or
    the gaps cells); cells with fewer than `min_episodes` episodes are grey, not coloured."""
    frame = table.with_columns(
        pl.col("topic").fill_null("(empty)"),
        enough=pl.col("episodes") >= min_episodes,
    )
    base = alt.Chart(frame).encode(
        x=alt.X("team:N", title=None, axis=alt.Axis(labelAngle=-30)),
        y=alt.Y("topic:N", title=None),
        tooltip=["topic", "team", alt.Tooltip(f"{value}:Q", format=".1%"), "episodes"],
    )
    cells = base.mark_rect().encode(
        color=alt.condition(
            "datum.enough",
            alt.Color(
                f"{value}:Q",
                scale=alt.Scale(scheme="redyellowgreen", domain=[0.4, 1.0], clamp=True),
                legend=alt.Legend(format="%", title="FCR"),
            ),
            alt.value(NOT_ENOUGH),
        )
    )
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text(f"{value}:Q", format=".0%"),
        color=alt.condition(f"datum.{value} < 0.55", alt.value("white"), alt.value("black")),
    )
    return (cells + text).properties(
        width=alt.Step(70),
        height=alt.Step(18),
        title=title or "FCR by topic and team (grey: too few)",
    )


# ---------------------------------------------------------------------------- deflection
def online_first_chart(shares: pl.DataFrame, by: str = "topic") -> alt.Chart:
    """Per contact topic (or week): the share of callers who were online first and who read a
    page about their question, each with its 95 % interval (from `deflection.shares_long`)."""
    frame = shares.with_columns(pl.col(by).fill_null("(empty)").cast(pl.String))
    colour = alt.Color(
        "measure:N",
        scale=alt.Scale(
            domain=["on the site (any page)", "read a page about the question"],
            range=["#9a9a9a", NEUTRAL],
        ),
        title=None,
        legend=alt.Legend(orient="top", labelLimit=320),
    )
    base = alt.Chart(frame).encode(
        y=alt.Y(f"{by}:N", sort=None, title=None, axis=alt.Axis(labelLimit=260)),
        yOffset=alt.YOffset("measure:N", sort=None),
        color=colour,
        tooltip=[by, "measure", alt.Tooltip("share:Q", format=".1%"), "contacts"],
    )
    points = base.mark_point(filled=True, size=55).encode(
        x=alt.X(
            "share:Q", axis=_percent_axis("share of judged calls"), scale=alt.Scale(domain=[0, 1])
        )
    )
    errors = base.mark_rule(strokeWidth=2).encode(x="ci_low:Q", x2="ci_high:Q")
    return (errors + points).properties(
        width=420, height=alt.Step(11), title="Callers who were on the website first"
    )


def page_call_rate_chart(ranking: pl.DataFrame) -> alt.Chart:
    """Per page the share of views followed by a call, highest first, with the cluster-robust
    95 % interval and the views on the right; grey pages answer no topic (`Deflection.ranking`)."""
    frame = ranking.sort("call_rate", "page", descending=[True, False]).with_columns(
        kind=pl.when(pl.col("topic").is_null())
        .then(pl.lit("answers no topic"))
        .otherwise(pl.lit("answers a topic"))
    )
    colour = alt.Color(
        "kind:N",
        scale=alt.Scale(domain=["answers a topic", "answers no topic"], range=[WORSE, NOT_ENOUGH]),
        title=None,
        legend=alt.Legend(orient="top"),
    )
    base = alt.Chart(frame).encode(
        y=alt.Y("page:N", sort=None, title=None, axis=alt.Axis(labelLimit=260)),
        tooltip=["page", "topic", alt.Tooltip("call_rate:Q", format=".1%"), "views"],
    )
    points = base.mark_point(filled=True, size=60).encode(
        x=alt.X("call_rate:Q", axis=_percent_axis("views followed by a call")), color=colour
    )
    errors = base.mark_rule(strokeWidth=2).encode(x="ci_low:Q", x2="ci_high:Q", color=colour)
    counts = base.mark_text(align="left", fontSize=11, color="#555555").encode(
        x=alt.value(428), text=alt.Text("views:Q", format=",")
    )
    return (errors + points + counts).properties(
        width=420, height=alt.Step(18), title="Pages that send people to the phone (views right)"
    )


def page_topic_heatmap(matrix: pl.DataFrame) -> alt.Chart:
    """Page × topic of the first call after a view: the share of the page's views followed by a
    call on that topic; outlined cells are calls the page is meant to answer (W9)."""
    frame = matrix.with_columns(pl.col("call_topic").fill_null("(empty)"))
    base = alt.Chart(frame).encode(
        x=alt.X(
            "call_topic:N", title="topic of the call that followed", axis=alt.Axis(labelAngle=-40)
        ),
        y=alt.Y("page:N", title=None),
        tooltip=["page", "call_topic", "calls", "views", alt.Tooltip("share:Q", format=".2%")],
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "share:Q",
            scale=alt.Scale(scheme="oranges", type="sqrt"),
            legend=alt.Legend(format="%", title="views → call"),
        )
    )
    answers = base.mark_rect(fill=None, stroke="#222222", strokeWidth=1.5).encode(
        opacity=alt.condition("datum.answers", alt.value(1), alt.value(0))
    )
    return (cells + answers).properties(
        width=alt.Step(26), height=alt.Step(18), title="Which pages lead to which calls"
    )


def page_change_chart(weekly: pl.DataFrame, change: dict | None) -> alt.Chart:
    """Weekly call rate after a view of the changed page against the other help pages, with
    95 % bands, and the change date marked (from `Deflection.change_weekly`, `.change`)."""
    frame = weekly.with_columns(
        group=pl.when(pl.col("group") == "page")
        .then(pl.lit(change["page"] if change else "page"))
        .otherwise(pl.lit("other help pages"))
    )
    domain = [change["page"] if change else "page", "other help pages"]
    colour = alt.Color(
        "group:N", scale=alt.Scale(domain=domain, range=[WORSE, NEUTRAL]), title=None
    )
    base = alt.Chart(frame).encode(
        x=alt.X("week_start:T", title="week", axis=alt.Axis(format="%d %b")), color=colour
    )
    band = base.mark_area(opacity=0.15).encode(y="ci_low:Q", y2="ci_high:Q")
    line = base.mark_line(point=True).encode(
        y=alt.Y("call_rate:Q", axis=_percent_axis("views followed by a call")),
        tooltip=["group", "week", alt.Tooltip("call_rate:Q", format=".1%"), "views"],
    )
    layers = [band, line]
    if change:
        marker = pl.DataFrame({"date": [change["date"]], "label": [f"changed {change['date']}"]})
        marker = marker.with_columns(pl.col("date").str.to_date())
        rule = alt.Chart(marker).mark_rule(strokeDash=[4, 3], color="#333333").encode(x="date:T")
        text = (
            alt.Chart(marker)
            .mark_text(align="left", dx=4, dy=-6, color="#333333")
            .encode(x="date:T", y=alt.value(0), text="label:N")
        )
        layers += [rule, text]
    return alt.layer(*layers).properties(
        width=520, height=260, title="Calls after a page view, week by week"
    )


# ---------------------------------------------------------------------------- knowledge gaps
def gaps_heatmap(cells: pl.DataFrame, *, level: str = "team", min_episodes: int = 30) -> alt.Chart:
    """Shrunk FCR per topic × team (or agent) from `knowledge_gaps(...).cells`: grey where a
    cell has fewer than `min_episodes` questions, a black frame where it is flagged."""
    frame = cells.filter(pl.col("level") == level).rename({"unit": "team"})
    heatmap = topic_team_heatmap(
        frame,
        value="shrunk_fcr",
        min_episodes=min_episodes,
        title=f"FCR by topic and {level}, shrunk toward the topic (framed: flagged; grey: too few)",
    )
    flagged = frame.filter("flagged").with_columns(pl.col("topic").fill_null("(empty)"))
    frames = (
        alt.Chart(flagged)
        .mark_rect(fill=None, stroke="black", strokeWidth=2.5)
        .encode(x="team:N", y="topic:N")
    )
    return alt.layer(heatmap, frames)


_FUNNEL_STATUS = {
    "above the 99.8% limit": WORSE,
    "above the 95% limit": "#e67e22",
    "within the limits": NEUTRAL,
    "below the 95% limit": BETTER,
}


def funnel_chart(
    mix_adjusted: pl.DataFrame, curve: pl.DataFrame, *, level: str = "team"
) -> alt.LayerChart:
    """Observed/expected repeats per unit against its expected repeats (from
    `knowledge_gaps(...).mix_adjusted`), inside the 95 % and 99.8 % funnel (`funnel_curve`)."""
    status = list(_FUNNEL_STATUS)
    units = mix_adjusted.filter(pl.col("level") == level).with_columns(
        status=pl.when("flagged")
        .then(pl.lit(status[0]))
        .when(pl.col("ratio") > pl.col("high95"))
        .then(pl.lit(status[1]))
        .when(pl.col("ratio") < pl.col("low95"))
        .then(pl.lit(status[3]))
        .otherwise(pl.lit(status[2]))
    )
    limits = curve.unpivot(
        index="expected_repeats", variable_name="limit", value_name="ratio"
    ).with_columns(
        coverage=pl.when(pl.col("limit").str.ends_with("95"))
        .then(pl.lit("95%"))
        .otherwise(pl.lit("99.8%"))
    )
    x = alt.X("expected_repeats:Q", title="expected repeats (given the topics handled)")
    x = x.scale(zero=False)
    lines = (
        alt.Chart(limits)
        .mark_line(color="#7f7f7f", strokeWidth=1.2)
        .encode(
            x=x,
            y="ratio:Q",
            detail="limit:N",
            strokeDash=alt.StrokeDash(
                "coverage:N", title="limits", scale=alt.Scale(range=[[5, 3], [1, 0]])
            ),
        )
    )
    one = alt.Chart(pl.DataFrame({"ratio": [1.0]})).mark_rule(color="#333333").encode(y="ratio:Q")
    base = alt.Chart(units).encode(
        x=x,
        y=alt.Y("ratio:Q", title="observed / expected repeats", scale=alt.Scale(zero=False)),
        tooltip=[
            "unit",
            "episodes",
            "observed_repeats",
            alt.Tooltip("expected_repeats:Q", format=".1f"),
            alt.Tooltip("ratio:Q", format=".2f"),
        ],
    )
    points = base.mark_circle(size=90, opacity=0.9).encode(
        color=alt.Color(
            "status:N",
            title=None,
            scale=alt.Scale(domain=status, range=list(_FUNNEL_STATUS.values())),
        )
    )
    worse = pl.col("status").is_in(status[:2])
    shown = units if level == "team" else units.filter(worse)  # agents: only the worse named
    labels = (
        alt.Chart(shown)
        .mark_text(align="left", dx=7, fontSize=11)
        .encode(x=x, y="ratio:Q", text="unit:N")
    )
    return alt.layer(lines, one, points, labels).properties(
        width=520,
        height=300,
        title=f"Repeats per {level} against what its topics predict (1 = as expected)",
    )


def weekly_chart(weekly: pl.DataFrame) -> alt.FacetChart:
    """Weekly FCR per topic (from `worst_weeks`) with its baseline (dashed), the lower 99.8 %
    limit (red, dotted), spikes in red and the change that labels them."""
    frame = weekly.with_columns(
        pl.col("topic").fill_null("(empty)"),
        # Name a change once, at the first spike it labels.
        note=pl.when(pl.col("change").ne_missing(pl.col("change").shift(1).over("topic")))
        .then("change")
        .fill_null(""),
    )
    order = frame["topic"].unique(maintain_order=True).to_list()
    base = alt.Chart().encode(x=alt.X("week_start:T", title=None, axis=alt.Axis(format="%d %b")))
    rate = alt.Y("fcr:Q", axis=_percent_axis("FCR"), scale=alt.Scale(zero=False))
    band = base.mark_area(opacity=0.12, color=NEUTRAL).encode(
        y="lower_limit:Q", y2="baseline_fcr:Q"
    )
    baseline = base.mark_line(color="#555555", strokeDash=[5, 3]).encode(y="baseline_fcr:Q")
    limit = base.mark_line(color=WORSE, strokeDash=[2, 2]).encode(y="lower_limit:Q")
    line = base.mark_line(color=NEUTRAL).encode(y=rate)
    points = base.mark_point(filled=True).encode(
        y=rate,
        color=alt.condition("datum.spike", alt.value(WORSE), alt.value(NEUTRAL)),
        size=alt.condition("datum.spike", alt.value(90), alt.value(25)),
        tooltip=["topic", "week", alt.Tooltip("fcr:Q", format=".1%"), "episodes", "change"],
    )
    notes = base.mark_text(align="left", dx=8, dy=12, fontSize=11, color=WORSE).encode(
        y=rate, text="note:N"
    )
    return (
        alt.layer(band, baseline, limit, line, points, notes, data=frame)
        .properties(width=560, height=130)
        .facet(
            row=alt.Row(
                "topic:N",
                sort=order,
                title=None,
                header=alt.Header(labelAngle=0, labelAlign="left"),
            )
        )
        .properties(title="Weekly FCR against the 8 weeks before (red: below the 99.8% limit)")
    )


_SIGNAL_NAMES = {
    "resolved": "agent did not tick resolved",
    "survey_resolved": "customer said not resolved",
    "ces": "customer effort (CES)",
}


def signal_auc_chart(signal_auc: pl.DataFrame) -> alt.LayerChart:
    """How well each signal predicts a repeat (AUC with its 95 % interval; 0.5 = coin toss)."""
    frame = signal_auc.with_columns(pl.col("signal").replace(_SIGNAL_NAMES).alias("label"))
    base = alt.Chart(frame).encode(
        y=alt.Y("label:N", sort=None, title=None, axis=alt.Axis(labelLimit=260)),
        tooltip=["label", alt.Tooltip("auc:Q", format=".3f"), "n", "repeats"],
    )
    x = alt.X(
        "auc:Q", title="AUC: chance a repeat scores above a fix", scale=alt.Scale(domain=[0.4, 1])
    )
    points = base.mark_point(filled=True, size=90, color=NEUTRAL).encode(x=x)
    errors = base.mark_rule(strokeWidth=2, color=NEUTRAL).encode(x="ci_low:Q", x2="ci_high:Q")
    text = base.mark_text(align="left", dx=8, dy=-10, fontSize=11).encode(
        x="ci_high:Q", text=alt.Text("auc:Q", format=".2f")
    )
    coin = alt.Chart(pl.DataFrame({"auc": [0.5]})).mark_rule(color="#999999", strokeDash=[4, 3])
    return alt.layer(coin.encode(x=x), errors, points, text).properties(
        width=420, height=alt.Step(40), title="Which signal tells a repeat from a fix?"
    )
