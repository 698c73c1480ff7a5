"""The run state: everything a run knows, changed only by ``RunState.apply(event)``.

The live engine applies each event as it is recorded; ``--resume`` folds the transcript through the
same ``apply``; reports and the terminal read the same fields. So a template sees after a resume
exactly what it saw live: ``steps.X.stdout`` comes from the recorded output events (secrets
masked), bounded to a head and a tail, with the tail of a spilled stream from ``output_tail``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .events import (
    Decision,
    Event,
    HostResult,
    Note,
    Output,
    OutputChecked,
    OutputSpilled,
    OutputTail,
    PlannedStep,
    RunFinished,
    RunStarted,
    SessionRecord,
    StepFinished,
    StepStarted,
    Unknown,
    VarRecord,
    VarSet,
)
from .redact import MASK

#: statuses after which a step is not run again on resume
FINISHED = frozenset({"ok", "skipped"})
#: statuses that fail a run (and block the steps that need them)
FAILED = frozenset({"failed", "timeout", "interrupted", "error", "blocked"})
#: the order counts are shown in (others after these)
STATUS_ORDER = ("ok", "failed", "timeout", "interrupted", "error", "blocked", "skipped")
#: what a template's ``steps.X.stdout`` keeps of a long stream: the first and the last characters
HEAD_CHARS = 64 * 1024
TAIL_CHARS = 64 * 1024


@dataclass
class StreamText:
    """One stream of one attempt on one host, as templates see it: head, tail, and what is left
    out between them (counted; a spilled stream's full text is in ``spilled``)."""

    head: str = ""
    tail: str = ""
    omitted: int = 0
    spilled: str | None = None

    def feed(self, text: str, head_max: int, tail_max: int) -> None:
        room = head_max - len(self.head)
        if room > 0 and not self.tail and not self.omitted:
            self.head += text[:room]
            text = text[room:]
        if text:
            self.omitted += max(0, len(self.tail) + len(text) - tail_max)
            self.tail = last_chars(self.tail, text, tail_max)

    def skip(self, chars: int) -> None:
        """``chars`` characters went by unseen (into a side file): they count as left out."""
        self.omitted += len(self.tail) + chars
        self.tail = ""

    @property
    def text(self) -> str:
        if not self.omitted:
            return self.head + self.tail
        where = f", the whole output is in {self.spilled}" if self.spilled else ""
        return f"{self.head}\n… {self.omitted} characters omitted{where} …\n{self.tail}"


@dataclass
class HostState:
    """A step's latest attempt on one target."""

    status: str | None = None
    exit_code: int | None = None
    duration_s: float | None = None
    reason: str = ""
    stdout: StreamText = field(default_factory=StreamText)
    stderr: StreamText = field(default_factory=StreamText)

    def view(self) -> dict[str, Any]:
        return {"status": self.status, "exit_code": self.exit_code,
                "duration_s": self.duration_s, "reason": self.reason,
                "stdout": self.stdout.text, "stderr": self.stderr.text}


@dataclass
class StepState:
    """A step as the run knows it: its latest result, and what it printed on each target."""

    id: str
    status: str | None = None  # None: started but not finished (yet)
    exit_code: int | None = None
    duration_s: float | None = None
    attempts: int = 0
    reason: str = ""
    started: str | None = None  # first start's timestamp
    finished: str | None = None
    targets: tuple[str, ...] = ()
    code_sha256: str = ""
    hosts: dict[str, HostState] = field(default_factory=dict)
    captured: dict[str, Any] = field(default_factory=dict)
    open_item: str = ""
    #: the latest attempt's output checks (one per expectation and target)
    checks: list[OutputChecked] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Finished for good: a resumed run does not run it again."""
        return self.status in FINISHED

    def host(self, name: str | None) -> HostState:
        key = name or (self.targets[0] if self.targets else "local")
        state = self.hosts.get(key)
        if state is None:
            state = self.hosts[key] = HostState()
        return state

    def view(self) -> dict[str, Any]:
        """``steps.<id>`` in a template: the first target's output, every target under hosts."""
        first = self.hosts.get(self.targets[0]) if self.targets else None
        if first is None and self.hosts:
            first = next(iter(self.hosts.values()))
        return {"status": self.status, "exit_code": self.exit_code,
                "duration_s": self.duration_s, "attempts": self.attempts, "reason": self.reason,
                "stdout": first.stdout.text if first else "",
                "stderr": first.stderr.text if first else "",
                "hosts": {name: host.view() for name, host in self.hosts.items()}}


@dataclass
class RunSegment:
    """One start of the run: the first, or a ``--resume`` continuation."""

    started: str
    resumed: bool = False
    forced: bool = False
    overrides: tuple[str, ...] = ()
    schema: int = 1
    finished: str | None = None
    status: str | None = None  # None: it stopped without a run_finished (killed)


@dataclass
class Running:
    """The step being run: which attempt, on which targets, since when."""

    step: str
    attempt: int
    hosts: tuple[str, ...]
    started: str
    attempt_id: str = ""


@dataclass
class RunState:
    """Everything recorded about one run, across every session of it."""

    head_chars: int = HEAD_CHARS
    tail_chars: int = TAIL_CHARS
    run_id: str = ""
    title: str = ""
    description: str = ""
    path: str = ""
    sha256: str = ""
    plan: tuple[PlannedStep, ...] = ()
    segments: list[RunSegment] = field(default_factory=list)
    variables: dict[str, VarRecord] = field(default_factory=dict)
    steps: dict[str, StepState] = field(default_factory=dict)
    sessions: dict[str, SessionRecord] = field(default_factory=dict)  # target -> cwd, env
    running: Running | None = None
    first_ts: str | None = None
    last_ts: str | None = None
    events: int = 0

    # -- the one mutator ----------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Fold one recorded event into the state."""
        self.events += 1
        if event.ts:
            self.first_ts = self.first_ts or event.ts
            self.last_ts = event.ts
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    @classmethod
    def fold(cls, events: Iterable[Event], head_chars: int = HEAD_CHARS,
             tail_chars: int = TAIL_CHARS) -> RunState:
        state = cls(head_chars=head_chars, tail_chars=tail_chars)
        for event in events:
            state.apply(event)
        return state

    # -- what the run knows, derived ----------------------------------------------------------

    @property
    def counts(self) -> dict[str, int]:
        """Steps by latest status, over the whole run (every session)."""
        return count_statuses(step.status for step in self.steps.values()
                              if step.status is not None)

    @property
    def failed(self) -> bool:
        return any(step.status in FAILED for step in self.steps.values())

    @property
    def open_items(self) -> list[str]:
        return [step.open_item for step in self.steps.values() if step.open_item]

    @property
    def drift(self) -> dict[str, list[OutputChecked]]:
        """Steps whose latest output differs from what was expected: the checks that differ."""
        found = {step_id: [c for c in step.checks if c.differs]
                 for step_id, step in self.steps.items()}
        return {step_id: checks for step_id, checks in found.items() if checks}

    @property
    def resumes(self) -> int:
        return max(len(self.segments) - 1, 0)

    @property
    def lost(self) -> list[str]:
        """Variables the transcript holds masked: a resumed run asks for them again."""
        return [name for name, var in self.variables.items() if var.lost]

    def lost_exports(self) -> list[tuple[str, str]]:
        """(target, name) of exported variables recorded masked: not restored on resume."""
        return [(host, name) for host, session in self.sessions.items()
                for name, value in session.env.items() if isinstance(value, str) and MASK in value]

    def done(self, step_id: str) -> bool:
        step = self.steps.get(step_id)
        return step is not None and step.done

    def status_of(self, step_id: str) -> str | None:
        step = self.steps.get(step_id)
        return step.status if step is not None else None

    def host_grid(self) -> tuple[list[str], dict[str, dict[str, str]]]:
        """The fleet's results: the steps that ran on remote hosts (in the order they ran) and
        each host's latest status for each of them (a step decided without running gives its
        status to the targets it had). Empty when no step ran on two hosts or more."""
        columns = [s for s in self.steps.values()
                   if any(name != "local" for name in (*s.hosts, *s.targets))]
        hosts = dict.fromkeys(name for s in columns for name in (*s.targets, *s.hosts)
                              if name != "local")
        if len(hosts) < 2:
            return [], {}
        rows: dict[str, dict[str, str]] = {name: {} for name in hosts}
        for step in columns:
            for name in hosts:
                host = step.hosts.get(name)
                status = host.status if host is not None else None
                if status is None and name in step.targets and not step.attempts:
                    status = step.status
                if status is not None:
                    rows[name][step.id] = status
        return [s.id for s in columns], rows

    def ok_hosts(self, step_id: str, code_sha: str) -> tuple[str, ...]:
        """The hosts a step that ran (this very code) finished well on: a resumed run does not
        run it there again; () for a step decided without running."""
        step = self.steps.get(step_id)
        if step is None or not step.attempts or step.code_sha256 != code_sha:
            return ()
        return tuple(name for name, host in step.hosts.items() if host.status == "ok")

    def values(self) -> dict[str, Any]:
        """Variable values a template may use: those the transcript holds in full."""
        return {name: var.value for name, var in self.variables.items() if not var.lost}

    def template_steps(self) -> StepsView:
        return StepsView(self.steps)

    # -- handlers -----------------------------------------------------------------------------

    def _run_started(self, event: RunStarted) -> None:
        if not self.run_id:
            self.run_id = event.run_id
            self.plan = event.plan
        self.title = event.title or self.title
        self.description = event.description or self.description
        self.path = event.path or self.path
        self.sha256 = event.sha256 or self.sha256
        self.segments.append(RunSegment(started=event.ts, resumed=bool(self.segments),
                                        forced=event.forced, overrides=event.overrides,
                                        schema=event.schema))
        self.running = None
        for var in event.variables:
            self.variables[var.name] = var

    def _var_set(self, event: VarSet) -> None:
        if event.name:
            self.variables[event.name] = event.record

    def _step_started(self, event: StepStarted) -> None:
        step = self._step(event.step)
        step.status = None
        step.attempts = event.attempt
        step.started = step.started or event.ts
        step.targets = event.targets or step.targets
        step.code_sha256 = event.code_sha256 or step.code_sha256
        for name in event.running_on or step.targets or ("local",):
            step.hosts[name] = HostState()  # a new attempt: its output starts afresh
        again = set(event.running_on or step.targets or ("local",))
        step.checks = [c for c in step.checks if (c.host or _first(step)) not in again]
        self.running = Running(event.step, event.attempt, event.running_on, event.ts,
                               event.attempt_id)

    def _output(self, event: Output) -> None:
        stream = self._stream(event.step, event.host, event.stream)
        stream.feed(event.text, self.head_chars, self.tail_chars)

    def _output_spilled(self, event: OutputSpilled) -> None:
        self._stream(event.step, event.host, event.stream).spilled = event.file

    def _output_tail(self, event: OutputTail) -> None:
        stream = self._stream(event.step, event.host, event.stream)
        stream.spilled = event.file or stream.spilled
        stream.skip(event.chars - len(event.text))
        stream.feed(event.text, self.head_chars, self.tail_chars)

    def _output_checked(self, event: OutputChecked) -> None:
        self._step(event.step).checks.append(event)

    def _stream(self, step_id: str, host: str | None, name: str) -> StreamText:
        host_state = self._step(step_id).host(host)
        return host_state.stderr if name == "stderr" else host_state.stdout

    def _step_finished(self, event: StepFinished) -> None:
        step = self._step(event.step)
        step.status, step.exit_code, step.reason = event.status, event.exit_code, event.reason
        step.duration_s, step.finished = event.duration_s, event.ts
        step.captured, step.open_item = dict(event.captured), event.open_item
        if event.attempts:
            step.attempts = event.attempts
        else:
            step.attempts, step.hosts = 0, {}  # decided without running (skipped, blocked)
            step.checks = []
        results = event.hosts or ({step.targets[0] if step.targets else "local": HostResult(
            status=event.status, exit_code=event.exit_code, duration_s=event.duration_s,
            reason=event.reason)} if event.attempts else {})
        for name, result in results.items():
            host = step.host(name)
            host.status, host.exit_code = result.status, result.exit_code
            host.duration_s, host.reason = result.duration_s, result.reason
        self.sessions.update(event.session)
        if self.running is not None and self.running.step == event.step:
            self.running = None

    def _run_finished(self, event: RunFinished) -> None:
        self.running = None
        if self.segments:
            segment = self.segments[-1]
            segment.finished, segment.status = event.ts, event.status
            if segment.schema < 2:
                self._legacy_open_items(event.open_items)

    def _legacy_open_items(self, items: Iterable[str]) -> None:
        """Schema 1 listed open items only at the end: ``id: title``; put them on their steps."""
        for item in items:
            step = self.steps.get(item.split(":", 1)[0])
            if step is not None:
                step.open_item = item

    def _step(self, step_id: str) -> StepState:
        step = self.steps.get(step_id)
        if step is None:
            step = self.steps[step_id] = StepState(step_id)
        return step


def last_chars(kept: str, text: str, limit: int) -> str:
    """The last ``limit`` characters of ``kept + text``, without copying a big ``text`` whole."""
    if len(text) >= limit:
        return text[len(text) - limit:] if limit else ""
    return (kept + text)[-limit:] if len(kept) + len(text) > limit else kept + text


def _first(step: StepState) -> str:
    return step.targets[0] if step.targets else "local"


def count_statuses(statuses: Iterable[str]) -> dict[str, int]:
    """How many of each status, in STATUS_ORDER (then in order of appearance)."""
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    rank = {status: i for i, status in enumerate(STATUS_ORDER)}
    return dict(sorted(counts.items(), key=lambda item: rank.get(item[0], len(rank))))


def _ignore(state: RunState, event: Any) -> None:
    """Recorded for the reports and the timeline; nothing a run needs to continue."""


_HANDLERS: dict[type[Event], Callable[[RunState, Any], None]] = {
    RunStarted: RunState._run_started,
    VarSet: RunState._var_set,
    StepStarted: RunState._step_started,
    Output: RunState._output,
    OutputSpilled: RunState._output_spilled,
    OutputTail: RunState._output_tail,
    OutputChecked: RunState._output_checked,
    StepFinished: RunState._step_finished,
    RunFinished: RunState._run_finished,
    Decision: _ignore,
    Note: _ignore,
    Unknown: _ignore,
}


class StepsView(Mapping[str, dict[str, Any]]):
    """``steps`` in a template: ``steps.X.stdout`` and friends for every step with a result."""

    def __init__(self, steps: Mapping[str, StepState]) -> None:
        self._steps = steps

    def __getitem__(self, step_id: str) -> dict[str, Any]:
        step = self._steps[step_id]
        if step.status is None:
            raise KeyError(step_id)  # still running: no result to show yet
        return step.view()

    def __iter__(self) -> Iterator[str]:
        return (key for key, step in self._steps.items() if step.status is not None)

    def __len__(self) -> int:
        return sum(1 for step in self._steps.values() if step.status is not None)
