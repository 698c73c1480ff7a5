"""The report formats: Markdown, HTML and JSON from the report document, and the notebook."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from ..events import RunStarted
from ..mdtext import md_cell, md_code, md_fence
from ..model import RunbookError
from .filters import STATUS_ICONS, fmt_counts, fmt_datetime, fmt_duration, fmt_time
from .notebook import render_notebook
from .reader import read_events
from .report import build_report

TEMPLATES = Path(__file__).parent / "templates"
#: an output check's verdict as reports show it
VERDICTS = {"matches": "✓ matches", "differs": "≠ differs"}

FILTERS = {
    "icon": lambda status: STATUS_ICONS.get(str(status), "•"),
    "duration": fmt_duration, "time": fmt_time, "datetime": fmt_datetime,
    "cell": md_cell, "code": md_code, "fence": md_fence, "counts": fmt_counts,
    "verdict": lambda verdict: VERDICTS.get(str(verdict), ""),
}


def environment() -> Any:  # a jinja2.Environment (template.py is the only jinja2 importer)
    """The report environment with this module's filters; tag lines leave no blank lines."""
    from ..template import report_environment

    return report_environment(str(TEMPLATES), FILTERS)


def _render(name: str, report: dict[str, Any]) -> str:
    text = environment().get_template(name).render(report=report, h=report["header"])
    return text.rstrip("\n") + "\n"


def render_markdown(report: dict[str, Any]) -> str:
    return _render("report.md.j2", report)


def render_html(report: dict[str, Any]) -> str:
    return _render("report.html.j2", report)


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def render_transcript(path: str | Path, fmt: str = "markdown") -> str:
    """``runbook transcript FILE --format F``: read the log (and the runbook, when found)."""
    events, warnings = read_events(path)  # the first one is run_started
    recorded = events[0].path if isinstance(events[0], RunStarted) else ""
    runbook_text, problem = _read_runbook(Path(path), recorded)
    if fmt == "notebook":
        if runbook_text is None:
            raise RunbookError(f"the notebook needs the runbook: {problem}", str(path))
        return render_notebook(events, runbook_text)
    if problem and fmt != "json":
        warnings.append(f"steps not run are not listed: {problem}")
    report = build_report(events, warnings, runbook_text)
    renderers = {"markdown": render_markdown, "html": render_html, "json": render_json}
    if fmt not in renderers:
        raise RunbookError(f"unknown report format '{fmt}' (markdown, html, json, notebook)")
    return renderers[fmt](report)


def _read_runbook(transcript: Path, recorded: str) -> tuple[str | None, str]:
    """The runbook's text from its recorded path (as given, or next to the transcript folder)."""
    if not recorded:
        return None, "the transcript does not name its runbook"
    for candidate in (Path(recorded), transcript.parent.parent / recorded):
        try:
            return candidate.read_text(encoding="utf-8"), ""
        except (OSError, UnicodeDecodeError):
            continue
    return None, f"cannot read {recorded}"


def write_private(path: str, text: str) -> None:
    """A report written as the transcript is kept: mode 0600 (an existing file's mode tightened
    too); a write that fails (a full disk) is one line naming the file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as handle:
            if stat.S_ISREG(os.fstat(fd).st_mode):  # not a device or a pipe
                os.fchmod(fd, 0o600)
            handle.write(text)
    except OSError as exc:
        raise RunbookError(f"cannot write: {exc.strerror or exc}", path) from None
