"""The page's model of a run: the ``RunState`` folded from the run's events (live, or read from
the transcript), plus what only a page shows: the last lines of each output stream, the command
each step ran, decisions and notes. Views of it are what the page renders; the page itself
interprets no event (output lines excepted: it appends them)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..events import (
    Decision,
    Event,
    Note,
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
from ..folding import compact_diff, fold_outputs
from ..state import RunState

#: lines of one output stream a page holds; the whole output is a link away
PAGE_LINES = 2000


@dataclass
class Tail:
    """The last lines of one stream of one attempt on one host, and how many came before."""

    lines: deque[str] = field(default_factory=lambda: deque(maxlen=PAGE_LINES))
    total: int = 0
    spilled: str | None = None  # the side file holding what the transcript did not

    def feed(self, text: str) -> None:
        for line in text.splitlines():
            self.lines.append(line)
            self.total += 1

    def view(self) -> dict[str, Any]:
        return {"lines": list(self.lines), "dropped": self.total - len(self.lines),
                "spilled": self.spilled}


Key = tuple[str, str | None, str]  # step, host, stream


class LiveRun:
    """A run as a page shows it; its only mutator is ``apply(event)``, like the RunState in it."""

    def __init__(self) -> None:
        self.state = RunState()
        self.tails: dict[Key, Tail] = {}
        self.commands: dict[str, str] = {}  # step -> the command its last attempt ran (masked)
        self.decisions: dict[str, list[dict[str, Any]]] = {}
        self.notes: list[dict[str, Any]] = []
        self.started = False

    @classmethod
    def fold(cls, events: Iterable[Event]) -> LiveRun:
        live = cls()
        for event in events:
            live.apply(event)
        return live

    def apply(self, event: Event) -> None:
        if event.recorded:
            self.state.apply(event)
        if isinstance(event, Output):
            self._tail(event.step, event.host, event.stream).feed(event.text)
        elif isinstance(event, StepStarted):
            self.commands[event.step] = event.command
            # a new attempt: its output starts afresh (on the hosts it runs on again)
            self.tails = {k: v for k, v in self.tails.items() if k[0] != event.step or
                          (event.hosts and k[1] not in event.hosts)}
        elif isinstance(event, OutputSpilled):
            self._tail(event.step, event.host, event.stream).spilled = event.file
        elif isinstance(event, OutputTail):  # read from a transcript: the spilled part's end
            tail = self._tail(event.step, event.host, event.stream)
            tail.spilled = event.file
            cut = event.chars > len(event.text)  # its first line is the end of a longer one
            tail.feed(event.text.split("\n", 1)[-1] if cut else event.text)
        elif isinstance(event, Decision) and event.step:
            self.decisions.setdefault(event.step, []).append(
                {"answer": event.answer, "edited": event.edited is not None,
                 "choice": event.choice})
        elif isinstance(event, StepFinished) and event.attempts == 0:
            self.tails = {k: v for k, v in self.tails.items() if k[0] != event.step}
        elif isinstance(event, Note):
            self.notes.append({"step": event.step, "text": event.text, "ts": event.ts})
        elif isinstance(event, RunStarted):
            self.started = True

    def _tail(self, step: str, host: str | None, stream: str) -> Tail:
        key = (step, host, stream)
        tail = self.tails.get(key)
        if tail is None:
            tail = self.tails[key] = Tail()
        return tail

    # -- views ----------------------------------------------------------------------------

    def step_view(self, step_id: str) -> dict[str, Any]:
        """One step as its cell shows it: result, what ran, its output's last lines."""
        step = self.state.steps.get(step_id)
        running = self.state.running is not None and self.state.running.step == step_id
        view: dict[str, Any] = {"id": step_id, "running": running, "status": None,
                                "command": self.commands.get(step_id),
                                "decisions": self.decisions.get(step_id, [])[-5:],
                                "outputs": [{"host": k[1], "stream": k[2], **t.view()}
                                            for k, t in self.tails.items() if k[0] == step_id]}
        if step is not None:
            view.update(status=step.status, exit_code=step.exit_code,
                        duration_s=step.duration_s, attempts=step.attempts, reason=step.reason,
                        targets=list(step.targets), open_item=step.open_item,
                        checks=[{"verdict": c.verdict, "source": c.source, "diff": c.diff,
                                 "host": c.host, "strict": c.strict} for c in step.checks],
                        hosts={name: {"status": h.status, "exit_code": h.exit_code,
                                      "reason": h.reason}
                               for name, h in step.hosts.items()} if len(step.hosts) > 1 else {})
            if not running and len(step.hosts) > 1:
                view["folded"] = self._folded(step_id)
        return view

    def _folded(self, step_id: str) -> list[dict[str, Any]]:
        """A fan-out step's output once it ended, as the terminal folds it: hosts that printed the
        same lines once under their folded names, the others as a diff against the majority."""
        printed = {key[1]: tuple(tail.lines) for key, tail in self.tails.items()
                   if key[0] == step_id and key[1] is not None and key[2] == "stdout"}
        if len(printed) < 2:
            return []
        folds, majority = fold_outputs(printed)
        return [{"hosts": fold.label, "count": len(fold.hosts), "odd": fold.odd,
                 "lines": list(fold.key) if not fold.odd or majority is None else [],
                 "diff": compact_diff(majority.key, fold.key) if fold.odd and majority else []}
                for fold in folds]

    def run_view(self) -> dict[str, Any]:
        """The run as the page's header and side panel show it."""
        state = self.state
        segment = state.segments[-1] if state.segments else None
        if segment is None:
            status = "starting"
        elif segment.finished is None:
            status = "running"
        else:
            status = segment.status or "failed"
        return {"run_id": state.run_id, "status": status, "sessions": len(state.segments),
                "counts": state.counts, "open_items": state.open_items,
                "running": state.running.step if state.running else None,
                "variables": [{"name": v.name, "source": v.source, "secret": v.secret,
                               "value": v.value} for v in state.variables.values()],
                "notes": self.notes[-50:]}

    def step_ids(self) -> list[str]:
        seen = dict.fromkeys([*self.state.steps, *self.commands, *(k[0] for k in self.tails)])
        return list(seen)

    def touched(self, event: Event) -> str | None:
        """The step whose view this event changed (None: only the run's)."""
        if isinstance(event, (StepStarted, StepFinished, OutputSpilled, OutputTail, Decision,
                              OutputChecked)):
            return event.step or None
        return None

    @staticmethod
    def changes_run(event: Event) -> bool:
        return isinstance(event, (RunStarted, RunFinished, StepStarted, StepFinished, VarSet,
                                  Note))
