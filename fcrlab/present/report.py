"""`fcrlab report`: run the notebooks headless for one ISO week and publish offline HTML.

Each notebook gets the keys its `parameters` cell declares, taken from the parameters file
(input paths made absolute), plus the week as `period`. Everything is written into a temporary
folder beside the target and renamed into place at the end, so a failing notebook never
replaces a good report; the failed notebook is kept beside it for inspection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from fcrlab.engine.repeats import observed_until
from fcrlab.errors import FcrlabError, ParamsError, path
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
    out = _report_folder(out)
    _remove_stale_staging(out)
    final = out / week
    staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=out))
    staging.chmod(0o755)
    (staging / "pid").write_text(str(os.getpid()))
    pages: list[tuple[str, str]] = []
    try:
        for notebook in notebooks:
            source = Path(notebook) if Path(notebook).is_absolute() else NOTEBOOKS_DIR / notebook
            name = source.name
            executed = staging / name
            if progress is not None:
                progress(f"running {name} …")
            try:
                with _kernel_messages_to(staging / "kernels.log"):
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
                _write_new(failed, executed.read_bytes())
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
        (staging / "pid").unlink()
        _publish(staging, final, out / f".{week}-old")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final / "index.html"


_STAGING = ".fcrlab-staging-"


def _report_folder(out: str | Path) -> Path:
    """The `--out` folder (it may itself be a link the user chose; decisions I9)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FcrlabError(f"{path(out)}: is a file, not a folder for the reports (--out)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FcrlabError(f"{path(out)}: cannot make the report folder ({err.strerror})") from None
    return out


def _remove_stale_staging(out: Path) -> None:
    """Staging folders of runs that were killed (their process is gone) are removed."""
    for folder in out.glob(f"{_STAGING}*"):
        if folder.is_symlink() or not folder.is_dir():
            continue
        try:
            pid = int((folder / "pid").read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):  # no pid file, not a number, or no such process
            shutil.rmtree(folder, ignore_errors=True)


def _write_new(target: Path, data: bytes) -> None:
    """Write a new file where `target` is, never through a link planted there (I9): whatever
    is at that name (a link or an old file) is removed first, the name itself, not what a
    link points to; the file is then created exclusively."""
    if target.is_symlink() or target.exists():
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _publish(staging: Path, final: Path, old: Path) -> None:
    """The staging folder becomes the week's folder in one rename; a folder already there
    goes aside first and is removed after; a link there is removed, never followed (I9)."""
    for leftover in (old,):
        if leftover.is_symlink():
            leftover.unlink()
        elif leftover.exists():
            shutil.rmtree(leftover, ignore_errors=True)
    if final.is_symlink():
        final.unlink()
    if final.exists():
        final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(final)


@contextlib.contextmanager
def _kernel_messages_to(log: Path) -> Iterator[None]:
    """The notebook kernels' own messages (Jupyter's transport warnings) go to a log in the
    staging folder, not to the command's stderr (decisions I9). The kernels are child
    processes: they inherit standard error as a file descriptor, so that is what is swapped."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log, "ab") as file:
            os.dup2(file.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)
