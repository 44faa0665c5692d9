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
    "rate_chart",
    "use_notebook_output",
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
