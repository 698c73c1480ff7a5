"""The executed notebook: the runbook's own Markdown with each step's result after its fence."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..events import Event
from .filters import NOT_RUN, STATUS_ICONS, fmt_counts, fmt_datetime, fmt_duration
from .report import build_report, step_result

SUMMARY_BEGIN = "<!-- executed notebook: run summary -->"
SUMMARY_END = "<!-- end of run summary -->"


def _html(text: Any) -> str:
    value = "" if text is None else str(text)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fences(text: str) -> list[tuple[int, int, str]]:
    """(first line, last line, info) of each fenced block, 0-based, as markdown-it sees them."""
    from markdown_it import MarkdownIt

    found = []
    for token in MarkdownIt("commonmark").parse(text):
        if token.type == "fence" and token.map:
            found.append((token.map[0], token.map[1] - 1, token.info))
    return found


def _front_matter_end(lines: list[str]) -> int:
    """Index of the first line after YAML front matter (0 when there is none)."""
    if lines and lines[0].rstrip() == "---":
        for index, line in enumerate(lines[1:], start=1):
            if line.rstrip() in ("---", "..."):
                return index + 1
    return 0


def _fence_for(
    step: dict[str, Any], fences: list[tuple[int, int, str]], lines: list[str]
) -> int | None:
    """The closing line of the step's fence: the one holding its line, or (for a command step
    annotated on the line above) the next fence after blank lines; without a line, the fence
    whose info string names the step id. Manual steps have no fence: they go in the summary."""
    line = step.get("line")
    if isinstance(line, int) and line > 0:
        index = line - 1
        for first, last, _ in fences:
            if first <= index <= last:
                return last
            gap = lines[index + 1 : first]
            if step["command"] and first > index and not any(g.strip() for g in gap):
                return last
        return None
    for _, last, info in fences:
        if step["id"] in info.replace("=", " ").replace("#", " ").replace("}", " ").split():
            return last
    return None


def _result_block(step: dict[str, Any]) -> list[str]:
    """A ``<details>`` block: HTML only, outputs in ``<pre>`` (an HTML block that may hold blank
    lines), so planning the notebook again finds no fenced code and so no new step."""
    facts = [f"{STATUS_ICONS.get(step['status'], '•')} {step['status']}"]
    if step["exit_code"] is not None:
        facts.append(f"exit {step['exit_code']}")
    if step["started"]:
        facts.append(fmt_datetime(step["started"]))
    if step["duration_s"] is not None:
        facts.append(fmt_duration(step["duration_s"]))
    if step["attempts"] and step["attempts"] > 1:
        facts.append(f"{step['attempts']} attempts")
    if step["manual"]:
        facts.append(f"manual: {step['manual'].replace('_', ' ')}")
    lines = ["", f"<details><summary>Result: {_html(' · '.join(facts))}</summary>", ""]
    if step["edited"]:
        lines += ["<p>Command as run (edited):</p>", "", f"<pre>{_html(step['command'])}</pre>", ""]
    for host in step["hosts"]:
        lines += [f"<p>{_html(host['name'])}: {_html(host['status'])}, exit "
                  f"{_html(host['exit_code'])}, {fmt_duration(host['duration_s'])}</p>", ""]
    for out in step["outputs"]:
        label = f"Output{' on ' + out['host'] if out['host'] else ''}"
        if out["hosts"] > 1:
            label += f" ({out['hosts']} hosts)"
        if out["differs_from"]:
            label += f", differs from {out['differs_from']}"
        if step["attempts"] > 1:
            label += f", attempt {out['attempt']}"
        lines += [f"<p>{_html(label)}:</p>", "", f"<pre>{_html(out['text'])}</pre>", ""]
    for note in step["notes"]:
        lines += [f"<p>💬 {_html(note['text'])}</p>", ""]
    return [*lines, "</details>", ""]


def _grid_block(grid: dict[str, Any]) -> list[str]:
    """The host x step grid of a fleet run, as an HTML table (hosts with the same results
    folded)."""
    if not grid["steps"]:
        return []
    head = "".join(f"<th>{_html(step)}</th>" for step in grid["steps"])
    rows = ["<tr><td>" + _html(row["hosts"]) + "</td>" + "".join(
        f"<td>{STATUS_ICONS.get(cell, '·') if cell else '·'} {_html(cell)}</td>"
        for cell in row["cells"]) + "</tr>" for row in grid["rows"]]
    return ["", "<table>", f"<tr><th>Hosts</th>{head}</tr>", *rows, "</table>", ""]


def _summary_block(report: dict[str, Any], unplaced: list[dict[str, Any]]) -> list[str]:
    h = report["header"]
    lines = [
        SUMMARY_BEGIN,
        f"> **Executed** {fmt_datetime(h['start'])} by {_html(h['operator'])} on "
        f"{_html(h['hostname'])} · **{_html(h['outcome'])}** · {fmt_duration(h['duration_s'])} "
        f"· {_html(fmt_counts(h['counts']))} · run {_html(h['run_id'])}",
    ]
    for step in unplaced:
        lines += [">", f"> {_html(step['title'] or step['id'])}: {_html(step_result(step))}"]
    return [*lines, *_grid_block(report["grid"]), SUMMARY_END, ""]


def render_notebook(events: Iterable[Event], runbook_text: str) -> str:
    """The runbook's own Markdown, unchanged, with each executed step's result after its fence."""
    report = build_report(events, runbook_text=runbook_text)
    lines = runbook_text.split("\n")
    fences = _fences(runbook_text)
    after: dict[int, list[str]] = {}
    unplaced = []
    for step in report["steps"]:
        if step["status"] == NOT_RUN:
            continue
        closing = _fence_for(step, fences, lines)
        if closing is None:
            unplaced.append(step)
        else:
            after.setdefault(closing, []).extend(_result_block(step))
    out: list[str] = []
    top = _front_matter_end(lines)
    for index, line in enumerate(lines):
        if index == top:
            out += _summary_block(report, unplaced)
        out.append(line)
        out += after.get(index, [])
    if top >= len(lines):
        out += _summary_block(report, unplaced)
    return "\n".join(out)
