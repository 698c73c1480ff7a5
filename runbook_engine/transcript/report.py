"""Turn a transcript's events into the incident report: one document for every format."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from ..redact import MASK
from ..stamps import parse_ts
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


def _operator(value: Any) -> str:
    if not isinstance(value, dict):
        return str(value or "")
    login, name = value.get("login") or "", value.get("git_name") or ""
    return f"{name} ({login})" if name and login else str(name or login)


class _Collector:
    """Walks the events once and gathers what each part of the report needs."""

    def __init__(self) -> None:
        self.header: dict[str, Any] = {}
        self.variables: dict[str, dict[str, Any]] = {}
        self.timeline: list[dict[str, Any]] = []
        self.steps: dict[str, dict[str, Any]] = {}
        self.plan: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.open_items: list[Any] = []
        self.counts: dict[str, int] = {}
        self.runs = 0
        self.finished_status: str | None = None
        self.first_ts: str | None = None
        self.last_ts: str | None = None

    def feed(self, event: dict[str, Any]) -> None:
        ts = event.get("ts")
        if ts:
            self.first_ts = self.first_ts or ts
            self.last_ts = ts
        handler = getattr(self, f"on_{event.get('event')}", None)
        if handler is not None:
            handler(event)

    def row(self, event: dict[str, Any], what: str, result: str = "") -> None:
        self.timeline.append(
            {"ts": event.get("ts"), "step": event.get("step"), "what": what, "result": result}
        )

    def step(self, step_id: Any, **defaults: Any) -> dict[str, Any]:
        key = str(step_id)
        if key not in self.steps:
            self.steps[key] = {
                "id": key, "title": "", "section": "", "command": "", "lang": "",
                "status": NOT_RUN, "exit_code": None, "duration_s": None, "attempts": 0,
                "started": None, "finished": None, "reason": "", "line": None,
                "outputs": [], "decisions": [], "notes": [], "hosts": [], "manual": None,
                "spilled": [], "edited": False,
            }
        record = self.steps[key]
        for name, value in defaults.items():
            if value and not record.get(name):
                record[name] = value
        return record

    def on_run_started(self, event: dict[str, Any]) -> None:
        self.runs += 1
        self.finished_status = None
        if self.runs == 1:
            self.header = {
                "title": event.get("title") or "", "path": event.get("path") or "",
                "sha256": event.get("sha256") or "", "run_id": event.get("run_id") or "",
                "operator": _operator(event.get("operator")),
                "hostname": event.get("hostname") or "", "version": event.get("version") or "",
                "selection": event.get("selection") or {},
            }
        self.header["forced"] = self.header.get("forced") or bool(event.get("forced"))
        for var in event.get("variables") or []:
            self.on_var_set(var)
        for item in event.get("plan") or []:
            self.step(item.get("id"), title=item.get("title"), section=_section(item),
                      line=item.get("line"))
            if self.runs == 1:
                self.plan.append(item)
        resumed = self.runs > 1 or event.get("resumed")
        what = "run resumed" + (" (--force)" if event.get("forced") else "")
        self.row(event, what if resumed else "run started")

    def on_var_set(self, event: dict[str, Any]) -> None:
        name = str(event.get("name") or "")
        if name:
            secret = bool(event.get("secret"))
            # Secret values are masked upstream; masking again here guards against a slip there.
            value = MASK if secret else event.get("value")
            self.variables[name] = {
                "name": name, "value": "" if value is None else str(value),
                "source": event.get("source") or "", "secret": secret,
            }

    def on_step_started(self, event: dict[str, Any]) -> None:
        record = self.step(event.get("step"), title=event.get("title"), section=_section(event))
        record["attempts"] = int(event.get("attempt") or record["attempts"] + 1)
        record["command"] = event.get("command") or record["command"]
        record["lang"] = event.get("lang") or record["lang"]
        record["line"] = event.get("line") or record["line"]
        record["started"] = record["started"] or event.get("ts")
        record["status"] = UNFINISHED

    def on_output(self, event: dict[str, Any]) -> None:
        record = self.step(event.get("step"))
        attempt, host = record["attempts"] or 1, event.get("host") or ""
        for chunk in record["outputs"]:  # few chunks per step: a scan is cheap
            if chunk["attempt"] == attempt and chunk["host"] == host:
                break
        else:
            chunk = {"attempt": attempt, "host": host, "parts": []}
            record["outputs"].append(chunk)
        chunk["parts"].append(str(event.get("text") or ""))

    def on_output_spilled(self, event: dict[str, Any]) -> None:
        record = self.step(event.get("step"))
        record["spilled"].append(
            {k: event.get(k) for k in ("stream", "host", "file", "bytes")}
        )
        self.on_output({**event, "text": f"\n… output continues in {event.get('file')} …\n"})

    def on_decision(self, event: dict[str, Any]) -> None:
        record = self.step(event.get("step"))
        answer = str(event.get("answer") or "")
        decision = {
            "ts": event.get("ts"), "answer": answer, "prompt": event.get("prompt") or "",
            "choice": event.get("choice"), "diff": "",
        }
        if answer == "edit":
            decision["diff"] = edit_diff(
                str(event.get("original") or ""), str(event.get("edited") or "")
            )
            record["edited"] = True
        if answer in ("done", "not_done"):
            record["manual"] = answer
        record["decisions"].append(decision)
        if answer in NOTABLE:
            choice = f": {event.get('choice')}" if event.get("choice") else ""
            self.row(event, f"decision: {answer.replace('_', ' ')}{choice}")

    def on_note(self, event: dict[str, Any]) -> None:
        note = {"ts": event.get("ts"), "text": str(event.get("text") or "")}
        if event.get("step"):
            self.step(event["step"])["notes"].append(note)
        else:
            self.notes.append(note)
        self.row(event, f"note: {note['text']}")

    def on_step_finished(self, event: dict[str, Any]) -> None:
        record = self.step(event.get("step"))
        for name in ("status", "exit_code", "duration_s", "reason"):
            record[name] = event.get(name, record[name])
        record["attempts"] = event.get("attempts") or record["attempts"]
        record["finished"] = event.get("ts")
        record["hosts"] = [
            {"name": host, **{k: (res or {}).get(k) for k in ("status", "exit_code", "duration_s")}}
            for host, res in (event.get("hosts") or {}).items()
        ]
        self.row(event, record["title"] or record["id"], step_result(record))

    def on_run_finished(self, event: dict[str, Any]) -> None:
        self.finished_status = str(event.get("status") or "")
        self.counts = dict(event.get("counts") or {})
        self.open_items = list(event.get("open_items") or [])
        self.row(event, "run finished", self.finished_status)

    def document(self, warnings: Iterable[str]) -> dict[str, Any]:
        start, end = parse_ts(self.first_ts), parse_ts(self.last_ts)
        header = {
            **{k: "" for k in ("title", "path", "sha256", "run_id", "operator", "hostname")},
            "version": "", "selection": {}, "forced": False, **self.header,
            "start": self.first_ts, "end": self.last_ts,
            "duration_s": round((end - start).total_seconds(), 3) if start and end else None,
            "outcome": self.finished_status or "interrupted", "resumes": max(self.runs - 1, 0),
        }
        steps = [_finish_step(s) for s in self._ordered_steps()]
        counts = self.counts or _count(steps)
        header["counts"] = {k: v for k, v in counts.items() if v}
        for step in steps:
            if step["status"] == UNFINISHED:
                self.row({"ts": step["started"], "step": step["id"]}, step["title"] or step["id"],
                         "no result: the run stopped during this step")
        self.timeline.sort(key=lambda row: str(row["ts"] or ""))
        return {
            "format": FORMAT, "header": header, "variables": list(self.variables.values()),
            "timeline": self.timeline, "steps": steps, "notes": self.notes,
            "open_items": self.open_items, "warnings": [*warnings, *self.warnings],
        }

    def _ordered_steps(self) -> list[dict[str, Any]]:
        planned = [str(item.get("id")) for item in self.plan]
        rest = [key for key in self.steps if key not in planned]
        return [self.steps[key] for key in [*planned, *rest] if key in self.steps]


def _section(item: dict[str, Any]) -> str:
    section = item.get("section") or ""
    return " › ".join(section) if isinstance(section, (list, tuple)) else str(section)


def step_result(record: dict[str, Any]) -> str:
    result = str(record["status"])
    if record["exit_code"] not in (None, 0):
        result += f" (exit {record['exit_code']})"
    if record["manual"]:
        result += f", {record['manual'].replace('_', ' ')}"
    return result


def _finish_step(record: dict[str, Any]) -> dict[str, Any]:
    """Join and trim each output; attempts with one host keep ``host`` empty."""
    step = {k: v for k, v in record.items() if k != "outputs"}
    step["outputs"] = []
    for chunk in record["outputs"]:
        full = "".join(chunk["parts"])
        if not full:
            continue
        text, omitted = trim_output(full)
        step["outputs"].append({
            "attempt": chunk["attempt"], "host": chunk["host"], "text": text,
            "lines": len(full.splitlines()), "omitted": omitted,
        })
    return step


def _count(steps: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in steps:
        counts[step["status"]] = counts.get(step["status"], 0) + 1
    return counts


def _planned_from_text(runbook_text: str, path: str, granularity: Any) -> list[dict[str, Any]]:
    """The runbook's steps (id, title, section, line) parsed from its text; [] when it fails."""
    try:
        from ..parse import parse_text
    except ImportError:
        return []
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
    events: list[dict[str, Any]], warnings: Iterable[str] = (), runbook_text: str | None = None
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
            record = collector.step(item["id"], title=item["title"], section=_section(item))
            record["line"] = item["line"]  # the text we render into wins over recorded lines
        collector.plan = collector.plan or parsed
    return collector.document(warnings)
