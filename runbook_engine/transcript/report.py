"""Turn a transcript's events into the incident report: one document for every format."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..events import (
    Decision,
    Event,
    Note,
    Operator,
    Output,
    OutputChecked,
    OutputSpilled,
    OutputTail,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    VarSet,
)
from ..folding import compact_diff, fold_outputs, fold_rows
from ..redact import MASK
from ..stamps import parse_ts
from ..state import RunState, count_statuses
from .filters import (
    NOT_RUN,
    UNFINISHED,
)

FORMAT = "runbook-engine-report/1"
#: long outputs keep this many lines at the head and at the tail
HEAD_LINES = 100
TAIL_LINES = 100
MAX_LINE_CHARS = 2000
#: decisions worth a timeline row (``run`` is the default answer and would only add noise)
NOTABLE = frozenset({"skip", "edit", "retry", "quit", "all", "done", "not_done", "choice"})


def trim_output(text: str, head: int = HEAD_LINES, tail: int = TAIL_LINES) -> tuple[str, int]:
    """Head and tail of a long output with ``… N lines omitted …`` between; (text, omitted)."""
    lines = [
        line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " …"
        for line in text.splitlines()
    ]
    omitted = len(lines) - head - tail
    if omitted <= 0:
        return "\n".join(lines), 0
    kept = [*lines[:head], f"… {omitted} lines omitted …", *lines[-tail:]]
    return "\n".join(kept), omitted


def edit_diff(original: str, edited: str) -> str:
    """A unified diff of an edited command (original vs edited)."""
    return "\n".join(
        difflib.unified_diff(
            original.splitlines(), edited.splitlines(), "original", "edited", lineterm=""
        )
    )


def _operator(value: Operator | None) -> str:
    if value is None:
        return ""
    login, name = value.login or "", value.git_name or ""
    return f"{name} ({login})" if name and login else str(name or login)


class _Collector:
    """Walks the events once: the run state gives each step's result, the counts and open items
    (the whole run, every session); the collector adds what only a report shows (each attempt's
    output, decisions, notes, the timeline)."""

    def __init__(self) -> None:
        self.state = RunState()
        self.header: dict[str, Any] = {}
        self.variables: dict[str, dict[str, Any]] = {}
        self.timeline: list[dict[str, Any]] = []
        self.steps: dict[str, dict[str, Any]] = {}
        self.plan: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self._handlers: dict[type[Event], Callable[[Any], None]] = {
            RunStarted: self.on_run_started, VarSet: self.on_var_set,
            StepStarted: self.on_step_started, Output: self.on_output,
            OutputSpilled: self.on_output_spilled, OutputTail: self.on_output_tail,
            OutputChecked: self.on_output_checked,
            Decision: self.on_decision, Note: self.on_note, StepFinished: self.on_step_finished,
            RunFinished: self.on_run_finished,
        }

    def feed(self, event: Event) -> None:
        self.state.apply(event)
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def row(self, ts: str | None, step: str | None, what: str, result: str = "",
            expected: str = "") -> None:
        self.timeline.append({"ts": ts, "step": step, "what": what, "result": result,
                              "expected": expected})

    def step(self, step_id: Any, **defaults: Any) -> dict[str, Any]:
        key = str(step_id)
        if key not in self.steps:
            self.steps[key] = {
                "id": key, "title": "", "section": "", "command": "", "lang": "",
                "status": NOT_RUN, "exit_code": None, "duration_s": None, "attempts": 0,
                "started": None, "finished": None, "reason": "", "line": None,
                "outputs": [], "decisions": [], "notes": [], "hosts": [], "manual": None,
                "spilled": [], "edited": False, "checks": [], "running": {},
            }
        record = self.steps[key]
        for name, value in defaults.items():
            if value and not record.get(name):
                record[name] = value
        return record

    def on_run_started(self, event: RunStarted) -> None:
        first = len(self.state.segments) == 1
        if first:
            self.header = {
                "title": event.title, "path": event.path, "sha256": event.sha256,
                "run_id": event.run_id, "operator": _operator(event.operator),
                "hostname": event.hostname, "version": event.version,
                "selection": event.selection,
            }
        self.header["forced"] = self.header.get("forced") or event.forced
        self.header["overrides"] = [*self.header.get("overrides", []), *event.overrides]
        for var in event.variables:
            self._variable(var.name, var.value, var.source, var.secret)
        for item in event.plan:
            self.step(item.id, title=item.title, section=_section(item.section), line=item.line)
            if first:
                self.plan.append(item.to_json())
        what = "run resumed" if not first or event.resumed else "run started"
        what += " (--force)" if event.forced else ""
        self.row(event.ts, None, what)

    def on_var_set(self, event: VarSet) -> None:
        self._variable(event.name, event.value, event.source, event.secret)

    def _variable(self, name: str, value: Any, source: str, secret: bool) -> None:
        if name:
            # Secret values are masked upstream; masking again here guards against a slip there.
            value = MASK if secret else value
            self.variables[name] = {"name": name, "value": "" if value is None else str(value),
                                    "source": source, "secret": secret}

    def on_step_started(self, event: StepStarted) -> None:
        record = self.step(event.step, title=event.title, section=_section(event.section))
        record["attempts"] = event.attempt or record["attempts"] + 1
        record["command"] = event.command or record["command"]
        record["lang"] = event.lang or record["lang"]
        record["line"] = event.line or record["line"]
        record["started"] = record["started"] or event.ts
        record["status"] = UNFINISHED
        record["running"][record["attempts"]] = list(event.running_on)

    def on_output(self, event: Output) -> None:
        self._text(event.step, event.host, event.text)

    def _text(self, step_id: str, host: str | None, text: str) -> None:
        record = self.step(step_id)
        attempt, host = record["attempts"] or 1, host or ""
        for chunk in record["outputs"]:  # few chunks per step: a scan is cheap
            if chunk["attempt"] == attempt and chunk["host"] == host:
                break
        else:
            chunk = {"attempt": attempt, "host": host, "parts": []}
            record["outputs"].append(chunk)
        chunk["parts"].append(text)

    def on_output_spilled(self, event: OutputSpilled) -> None:
        self.step(event.step)["spilled"].append(
            {"stream": event.stream, "host": event.host, "file": event.file,
             "bytes": event.bytes})
        self._text(event.step, event.host, f"\n… output continues in {event.file} …\n")

    def on_output_tail(self, event: OutputTail) -> None:
        for spill in self.step(event.step)["spilled"]:
            if (spill["stream"], spill["host"], spill["file"]) == (event.stream, event.host,
                                                                   event.file):
                spill["bytes"] = event.bytes
        self._text(event.step, event.host,
                   f"… {event.bytes} bytes in {event.file}, ending with: …\n{event.text}")

    def on_output_checked(self, event: OutputChecked) -> None:
        """The state keeps the latest attempt's checks; the report shows those under the step."""
        self.step(event.step)

    def on_decision(self, event: Decision) -> None:
        record = self.step(event.step)
        decision = {"ts": event.ts, "answer": event.answer, "prompt": event.prompt,
                    "choice": event.choice, "diff": ""}
        if event.answer == "edit":
            decision["diff"] = edit_diff(event.original or "", event.edited or "")
            record["edited"] = True
        if event.answer in ("done", "not_done"):
            record["manual"] = event.answer
        record["decisions"].append(decision)
        if event.answer in NOTABLE:
            choice = f": {event.choice}" if event.choice else ""
            self.row(event.ts, event.step, f"decision: {event.answer.replace('_', ' ')}{choice}")

    def on_note(self, event: Note) -> None:
        note = {"ts": event.ts, "text": event.text}
        if event.step:
            self.step(event.step)["notes"].append(note)
        else:
            self.notes.append(note)
        self.row(event.ts, event.step, f"note: {note['text']}")

    def on_step_finished(self, event: StepFinished) -> None:
        record = self.step(event.step)
        record.update(status=event.status, exit_code=event.exit_code,
                      duration_s=event.duration_s, reason=event.reason, finished=event.ts)
        record["attempts"] = event.attempts or record["attempts"]
        record["hosts"] = [{"name": host, "status": res.status, "exit_code": res.exit_code,
                            "duration_s": res.duration_s} for host, res in event.hosts.items()]
        record["checks"] = [check_record(c) for c in self.state.steps[event.step].checks]
        self.row(event.ts, event.step, record["title"] or record["id"], step_result(record),
                 checks_verdict(record["checks"]))

    def on_run_finished(self, event: RunFinished) -> None:
        self.row(event.ts, None, "run finished", event.status)

    def document(self, warnings: Iterable[str]) -> dict[str, Any]:
        state = self.state
        start, end = parse_ts(state.first_ts), parse_ts(state.last_ts)
        last = state.segments[-1] if state.segments else None
        header = {
            **{k: "" for k in ("title", "path", "sha256", "run_id", "operator", "hostname")},
            "version": "", "selection": {}, "forced": False, "overrides": [], **self.header,
            "start": state.first_ts, "end": state.last_ts,
            "duration_s": round((end - start).total_seconds(), 3) if start and end else None,
            "outcome": (last.status if last else None) or "interrupted",
            "resumes": state.resumes,
        }
        steps = [_finish_step(s) for s in self._ordered_steps()]
        header["counts"] = {k: v for k, v in _count(steps).items() if v}
        for step in steps:
            if step["status"] == UNFINISHED:
                self.row(step["started"], step["id"], step["title"] or step["id"],
                         "no result: the run stopped during this step")
        self.timeline.sort(key=lambda row: str(row["ts"] or ""))
        return {
            "format": FORMAT, "header": header, "variables": list(self.variables.values()),
            "timeline": self.timeline, "steps": steps, "notes": self.notes,
            "grid": host_grid(state),
            "open_items": state.open_items, "warnings": [*warnings, *self.warnings],
        }

    def _ordered_steps(self) -> list[dict[str, Any]]:
        planned = [str(item.get("id")) for item in self.plan]
        rest = [key for key in self.steps if key not in planned]
        return [self.steps[key] for key in [*planned, *rest] if key in self.steps]


def _section(section: Any) -> str:
    return " › ".join(section) if isinstance(section, (list, tuple)) else str(section or "")


def check_record(check: OutputChecked) -> dict[str, Any]:
    """An output check as the report shows it: the event's fields and where it was written."""
    return {"host": None, "reference": None, **check.to_json(), "label": check.source_label}


def checks_verdict(checks: Sequence[dict[str, Any]]) -> str:
    """One word for the timeline: differs if any check differs, matches if all match."""
    if not checks:
        return ""
    return "differs" if any(c["verdict"] == "differs" for c in checks) else "matches"


def step_result(record: dict[str, Any]) -> str:
    result = str(record["status"])
    if record["exit_code"] not in (None, 0):
        result += f" (exit {record['exit_code']})"
    if record["manual"]:
        result += f", {record['manual'].replace('_', ' ')}"
    return result


def _finish_step(record: dict[str, Any]) -> dict[str, Any]:
    """Join and trim each output; attempts with one host keep ``host`` empty; an attempt on
    several hosts is folded: each output once, under the hosts that printed it."""
    step = {k: v for k, v in record.items() if k not in ("outputs", "running")}
    step["outputs"] = []
    attempts: dict[int, dict[str, str]] = {}
    for chunk in record["outputs"]:
        attempts.setdefault(chunk["attempt"], {})[chunk["host"]] = "".join(chunk["parts"])
    for attempt, texts in attempts.items():
        running = record["running"].get(attempt, [])
        if len(running) > 1:
            step["outputs"] += _folded(attempt, {h: texts.get(h, "") for h in running})
            continue
        for host, full in texts.items():
            if full:
                step["outputs"].append(_shown(attempt, host, full))
    return step


def _shown(attempt: int, host: str, full: str, hosts: int = 1) -> dict[str, Any]:
    text, omitted = trim_output(full)
    return {"attempt": attempt, "host": host, "hosts": hosts, "text": text,
            "lines": len(full.splitlines()), "omitted": omitted, "differs_from": ""}


def _folded(attempt: int, texts: dict[str, str]) -> list[dict[str, Any]]:
    """One attempt on several hosts, as ``clubak -b`` shows it: hosts that printed the same
    once; those that differ from the majority as a diff against its output."""
    if not any(texts.values()):
        return []
    folds, majority = fold_outputs(texts)
    shown = []
    for fold in folds:
        item = _shown(attempt, fold.label, fold.key, len(fold.hosts))
        if fold.odd and majority is not None:
            diff = compact_diff(majority.key.splitlines(), fold.key.splitlines())
            item.update(text="\n".join(diff), omitted=0, differs_from=majority.label)
        shown.append(item)
    return shown


def host_grid(state: RunState) -> dict[str, Any]:
    """The host x step grid of a fleet run, hosts with the same results folded (empty when no
    step ran on two hosts or more)."""
    steps, rows = state.host_grid()
    folded = fold_rows({host: tuple(cells.get(s, "") for s in steps)
                        for host, cells in rows.items()})
    return {"steps": steps, "rows": [{"hosts": label, "cells": list(cells)}
                                     for label, cells in folded]}


def _count(steps: Sequence[dict[str, Any]]) -> dict[str, int]:
    return count_statuses(step["status"] for step in steps)


def _planned_from_text(runbook_text: str, path: str, granularity: Any) -> list[dict[str, Any]]:
    """The runbook's steps (id, title, section, line) parsed from its text; [] when it fails."""
    from ..parse import parse_text

    mode = granularity if granularity in ("block", "command") else None
    try:
        runbook = parse_text(runbook_text, path=path or "<runbook>", granularity=mode)
    except Exception:  # noqa: BLE001 - a runbook that no longer parses only loses this list
        return []
    return [
        {"id": s.id, "title": s.title, "section": list(s.section), "line": s.line}
        for s in runbook.steps
        if s.kind != "doc"
    ]


def build_report(
    events: Iterable[Event], warnings: Iterable[str] = (), runbook_text: str | None = None
) -> dict[str, Any]:
    """One JSON-able document with everything the renderings show."""
    collector = _Collector()
    for event in events:
        collector.feed(event)
    if runbook_text is not None:
        header = collector.header
        parsed = _planned_from_text(runbook_text, str(header.get("path", "")),
                                    (header.get("selection") or {}).get("granularity"))
        for item in parsed:
            if collector.plan and item["id"] not in collector.steps:
                continue  # the recorded plan says what was selected; the text adds places only
            record = collector.step(item["id"], title=item["title"],
                                    section=_section(item["section"]))
            record["line"] = item["line"]  # the text we render into wins over recorded lines
        collector.plan = collector.plan or parsed
    return collector.document(warnings)
