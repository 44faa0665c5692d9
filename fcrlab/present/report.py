"""`fcrlab report`: run the notebooks headless for one ISO week and publish offline HTML.

Each notebook gets the keys its `parameters` cell declares, taken from the parameters file
(input paths made absolute), plus the week as `period`. Everything is written into a temporary
folder beside the target and renamed into place at the end, so a failing notebook never
replaces a good report; the failed notebook is kept beside it for inspection.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from fcrlab.engine.repeats import observed_until
from fcrlab.errors import FcrlabError, ParamsError
from fcrlab.params import Params, load_params
from fcrlab.present.headline import index_html, weeks_numbers
from fcrlab.read.contacts import load_contacts

__all__ = [
    "NOTEBOOKS",
    "iso_week_period",
    "latest_observed_week",
    "notebook_parameters",
    "run_report",
]

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = ("01_repeat_contacts.ipynb", "02_knowledge_gaps.ipynb", "03_online_deflection.ipynb")
_PATH_KEYS = ("contacts", "web_visits", "page_topics")
KERNEL = "fcrlab"
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)


def iso_week_period(week: str) -> tuple[dt.date, dt.date]:
    """`2026-W47` → (Monday, next Monday): the report's `period` (end exclusive)."""
    try:
        year, number = week.upper().split("-W")
        start = dt.date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise ParamsError(f"{week!r} is not an ISO week such as 2026-W47", key="week") from None
    return start, start + dt.timedelta(days=7)


def latest_observed_week(params: Params) -> str:
    """SPEC §4: the latest week whose end + window ≤ observed_until (no episode pending)."""
    if params.contacts is None:
        raise ParamsError("the parameters file names no contacts file", key="contacts")
    contacts = load_contacts(params.contacts, params)
    until = observed_until(contacts, params)
    if until is None:
        raise ParamsError("no contacts to report on", key="contacts")
    local_until = until.astimezone(params.tz)
    # The week's end is a local midnight: step back from the Monday on or before the limit.
    last_end = (local_until - params.window).date()
    monday = last_end - dt.timedelta(days=last_end.weekday())
    end = dt.datetime.combine(monday, dt.time(), params.tz)
    while end + params.window > local_until:
        monday -= dt.timedelta(days=7)
        end = dt.datetime.combine(monday, dt.time(), params.tz)
    start = monday - dt.timedelta(days=7)
    year, number, _ = start.isocalendar()
    return f"{year}-W{number:02d}"


def notebook_parameters(notebook: Path, values: dict[str, Any]) -> dict[str, Any]:
    """The keys a notebook's `parameters` cell declares, with their values from `values`."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    return {key: values[key] for key in declared if key in values}


def _values(params: Params, base: Path, period: tuple[dt.date, dt.date]) -> dict[str, Any]:
    values = params.to_dict()
    for key in _PATH_KEYS:
        if isinstance(values.get(key), str):
            values[key] = str((base / values[key]).resolve())
    values["period"] = {"start": period[0].isoformat(), "end": period[1].isoformat()}
    return values


def _to_html(notebook: Path, target: Path) -> None:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    # No request may leave the machine: no MathJax, RequireJS or widget scripts from a CDN.
    exporter.mathjax_url = ""
    exporter.require_js_url = ""
    exporter.widget_renderer_url = ""
    body, _ = exporter.from_filename(str(notebook))
    # The pages need no script (charts are PNG, tables HTML); the template's loaders for
    # MathJax, RequireJS and Mermaid would point at CDNs, so every script goes.
    body = _SCRIPT.sub("", body)
    target.write_text(body, encoding="utf-8")


def run_report(
    params_file: str | Path,
    week: str | None = None,
    out: str | Path = "reports",
    notebooks: tuple[str, ...] = NOTEBOOKS,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Execute the notebooks for `week` and write `out/<week>/`; returns its `index.html`."""
    import papermill

    params = load_params(params_file)
    base = Path.cwd()
    week = week or latest_observed_week(params)
    period = iso_week_period(week)
    week = f"{period[0].isocalendar()[0]}-W{period[0].isocalendar()[1]:02d}"
    values = _values(params, base, period)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final = out / week
    staging = Path(tempfile.mkdtemp(prefix=f".{week}-", dir=out))
    staging.chmod(0o755)
    pages: list[tuple[str, str]] = []
    try:
        for notebook in notebooks:
            source = Path(notebook) if Path(notebook).is_absolute() else NOTEBOOKS_DIR / notebook
            name = source.name
            executed = staging / name
            if progress is not None:
                progress(f"running {name} …")
            try:
                papermill.execute_notebook(
                    str(source),
                    str(executed),
                    parameters=notebook_parameters(source, values),
                    kernel_name=KERNEL,
                    cwd=str(NOTEBOOKS_DIR),
                    progress_bar=False,
                )
            except papermill.PapermillExecutionError as err:
                failed = out / f"{week}-FAILED-{name}"
                shutil.copy(executed, failed)
                raise FcrlabError(
                    f"notebook {name} failed in cell {err.exec_count}: {err.ename}: "
                    f"{err.evalue.splitlines()[0] if err.evalue else ''} (kept: {failed})"
                ) from None
            page = name.replace(".ipynb", ".html")
            _to_html(executed, staging / page)
            pages.append((name.replace(".ipynb", "").replace("_", " ")[3:].capitalize(), page))
        report_params = Params.from_mapping({**params.to_dict(), "period": values["period"]})
        inputs = Params.from_mapping({**values, "period": None})
        this_week, week_before = weeks_numbers(
            inputs, [period[0], period[0] - dt.timedelta(days=7)]
        )
        (staging / "index.html").write_text(
            index_html(week, this_week, week_before, pages), encoding="utf-8"
        )
        (staging / "params.yaml").write_text(
            yaml.safe_dump(report_params.to_dict(), sort_keys=False), encoding="utf-8"
        )
        if final.exists():
            old = out / f".{week}-old"
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
            staging.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final / "index.html"
