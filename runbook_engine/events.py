"""The typed event stream: what a run records, what the run state folds, what every view shows.

Each event is a frozen dataclass with ``to_json()`` (one JSONL line of the transcript) and
``from_json()``. Reading is lenient about fields (a missing field takes its default, a value of the
wrong type is coerced or defaulted), so transcripts from earlier versions keep working; an event
name this version does not know becomes :class:`Unknown` and is kept, not refused. Only a newer
*schema* (``run_started.schema``) is refused: see :func:`check_schema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from .records import Record, jsonable
from .redact import MASK
from .stamps import now_ts

#: 1: the dicts written before events were typed (no ``schema`` field in ``run_started``);
#: 2: adds ``schema``, ``overrides``, ``step_started.hosts``, ``step_finished.open_item`` and
#: ``output_tail``. Readers accept every schema up to this one.
SCHEMA = 2

E = TypeVar("E", bound="Event")


class SchemaError(ValueError):
    """A transcript written by a newer version (its schema is above :data:`SCHEMA`)."""


def check_schema(schema: int) -> None:
    if schema > SCHEMA:
        raise SchemaError(f"written with transcript schema {schema}; this runbook-engine reads "
                          f"up to schema {SCHEMA}: upgrade runbook-engine to read it")


# --------------------------------------------------------------------------- parts of events


@dataclass(frozen=True, kw_only=True)
class VarRecord(Record):
    """A variable as recorded: a secret's value is ``****`` (it is never written)."""

    name: str
    source: str = ""  # cli / env / default / prompt / capture / output / placeholder
    secret: bool = False
    value: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", jsonable(self.value))

    @property
    def lost(self) -> bool:
        """The transcript does not hold the value (a secret, or a value with a secret in it)."""
        return self.secret or (isinstance(self.value, str) and MASK in self.value) or (
            isinstance(self.value, dict) and any(isinstance(v, str) and MASK in v
                                                 for v in self.value.values()))


@dataclass(frozen=True, kw_only=True)
class PlannedStep(Record):
    """A step the run selected (so a report can list those that never ran)."""

    id: str
    title: str = ""
    section: tuple[str, ...] = ()
    line: int | None = None
    kind: str = ""


@dataclass(frozen=True, kw_only=True)
class Operator(Record):
    login: str | None = None
    git_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class HostResult(Record):
    """One target's result for a step that fanned out."""

    status: str = ""
    exit_code: int | None = None
    duration_s: float | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class SessionRecord(Record):
    """What carries over between steps on a target: cwd and exported (value) or unset (None)."""

    cwd: str | None = None
    env: dict[str, str | None] = field(default_factory=dict)


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, kw_only=True)
class Event(Record):
    """Every event: its name in the transcript and when it happened (when it was made)."""

    kind: ClassVar[str] = ""
    #: False for what is only shown to the operator and never written (documentation blocks)
    recorded: ClassVar[bool] = True
    ts: str = field(default_factory=now_ts)

    def to_json(self) -> dict[str, Any]:
        return {"event": self.kind, **super().to_json(), "ts": self.ts}

    @classmethod
    def from_json(cls: type[E], data: Mapping[str, Any]) -> E:
        values = cls._values(data)
        ts = data.get("ts")
        return cls(**values, ts=ts if isinstance(ts, str) else "")


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A run (or a resumed continuation of it) begins."""

    kind: ClassVar[str] = "run_started"
    omit_none: ClassVar[frozenset[str]] = frozenset({"transcript"})
    schema: int = 1  # what the transcript's reader needs to understand (1: no field written)
    run_id: str = ""
    title: str = ""
    description: str = ""
    path: str = ""
    sha256: str = ""
    operator: Operator | None = None
    hostname: str = ""
    version: str = ""
    variables: tuple[VarRecord, ...] = ()
    selection: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False
    forced: bool = False  # --force overrode something (listed in ``overrides``)
    overrides: tuple[str, ...] = ()
    plan: tuple[PlannedStep, ...] = ()
    transcript: str | None = None


@dataclass(frozen=True, kw_only=True)
class VarSet(Event):
    kind: ClassVar[str] = "var_set"
    name: str = ""
    source: str = ""
    secret: bool = False
    value: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", jsonable(self.value))

    @property
    def record(self) -> VarRecord:
        return VarRecord(name=self.name, source=self.source, secret=self.secret, value=self.value)


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    """An attempt of a step begins on ``hosts`` (empty: on all of ``targets``)."""

    kind: ClassVar[str] = "step_started"
    step: str = ""
    index: int = 0
    title: str = ""
    section: tuple[str, ...] = ()
    line: int | None = None
    lang: str = ""
    targets: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    command: str = ""
    attempt: int = 1
    code_sha256: str = ""
    interactive: bool = False
    attempt_id: str = ""  # (2) this attempt's id, which its shell's body-ended record names

    @property
    def running_on(self) -> tuple[str, ...]:
        return self.hosts or self.targets


@dataclass(frozen=True, kw_only=True)
class Output(Event):
    """A chunk of a step's output (whole lines, secrets masked); ``host`` when it fans out or is
    remote."""

    kind: ClassVar[str] = "output"
    omit_none: ClassVar[frozenset[str]] = frozenset({"host"})
    step: str = ""
    stream: str = "stdout"
    text: str = ""
    host: str | None = None

    def to_json(self) -> dict[str, Any]:  # the hottest event: written without the generic walk
        out = {"event": "output", "step": self.step, "stream": self.stream, "text": self.text}
        if self.host is not None:
            out["host"] = self.host
        out["ts"] = self.ts
        return out


@dataclass(frozen=True, kw_only=True)
class OutputSpilled(Event):
    """From here on this stream's output goes to a side file next to the transcript."""

    kind: ClassVar[str] = "output_spilled"
    step: str = ""
    stream: str = "stdout"
    host: str | None = None
    file: str = ""
    bytes: int = 0  # written to the file with this event


@dataclass(frozen=True, kw_only=True)
class OutputTail(Event):
    """A spilled stream ended: how much went to the side file, and its last characters (what a
    template's ``steps.X.stdout`` shows after the head)."""

    kind: ClassVar[str] = "output_tail"
    step: str = ""
    stream: str = "stdout"
    host: str | None = None
    file: str = ""
    bytes: int = 0
    chars: int = 0
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class Decision(Event):
    """The operator's (or ``--yes``'s) answer at a prompt."""

    kind: ClassVar[str] = "decision"
    omit_none: ClassVar[frozenset[str]] = frozenset({"original", "edited", "choice"})
    step: str | None = None
    prompt: str = ""
    answer: str = ""  # run/skip/edit/all/retry/quit/done/not_done/choice
    original: str | None = None
    edited: str | None = None
    choice: str | None = None


@dataclass(frozen=True, kw_only=True)
class Note(Event):
    kind: ClassVar[str] = "note"
    step: str | None = None
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    """A step's result. ``hosts`` only when it fanned out; ``captured`` holds what it set."""

    kind: ClassVar[str] = "step_finished"
    step: str = ""
    status: str = ""  # ok/failed/skipped/timeout/interrupted/blocked
    exit_code: int | None = None
    duration_s: float | None = 0.0
    attempts: int = 0
    reason: str = ""
    hosts: dict[str, HostResult] = field(default_factory=dict)
    captured: dict[str, Any] = field(default_factory=dict)
    session: dict[str, SessionRecord] = field(default_factory=dict)
    open_item: str = ""  # left for the operator (a manual step not done, a step run by hand)

    def __post_init__(self) -> None:
        if self.captured:
            object.__setattr__(self, "captured", jsonable(self.captured))


#: where an expectation was written (``output_checked.source``), as screens and reports name it
CHECK_SOURCES = {
    "expect": "expect=",
    "region": "the expected output written under the command",
    "printed": "the output shown under the command",
    "output block": "the output block after the command",
    "transcript": "the transcript's output lines",
    "against": "the earlier run",
}


@dataclass(frozen=True, kw_only=True)
class OutputChecked(Event):
    """An attempt's output compared with what the runbook (or an earlier run) says to expect.

    Self-describing, so a report or a page shows it without the runbook: ``source`` says where
    the expectation was written (``expect`` the strict regex annotation; ``region`` a ``# Expected
    output`` region; ``printed`` lines shown under the command; ``output block`` a block the prose
    introduces; ``transcript`` a transcript's output lines; ``against`` an earlier run, named by
    ``reference``), ``expected`` what it says, ``verdict`` matches/differs, ``mode`` how it was
    compared (json/text/regex) and ``diff`` what differs. Only ``strict`` fails the step.
    """

    kind: ClassVar[str] = "output_checked"
    omit_none: ClassVar[frozenset[str]] = frozenset({"host", "reference"})
    step: str = ""
    attempt: int = 1
    host: str | None = None  # when the step runs on several targets or a remote one
    source: str = ""
    strict: bool = False
    sample: bool = False  # the expectation shows part of the output (more is fine)
    verdict: str = ""  # matches / differs
    mode: str = ""  # json / text / regex
    diff: str = ""
    expected: str = ""
    reference: str | None = None

    @property
    def differs(self) -> bool:
        return self.verdict == "differs"

    @property
    def source_label(self) -> str:
        """Where the expectation came from, in words (the earlier run's file named)."""
        label = CHECK_SOURCES.get(self.source, self.source)
        return f"{label} ({self.reference})" if self.reference else label


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """The run ends; ``counts`` and ``open_items`` are the whole run's (every session)."""

    kind: ClassVar[str] = "run_finished"
    omit_none: ClassVar[frozenset[str]] = frozenset({"transcript"})
    status: str = ""  # ok/failed/aborted/interrupted
    counts: dict[str, int] = field(default_factory=dict)
    open_items: tuple[str, ...] = ()
    transcript: str | None = None


@dataclass(frozen=True, kw_only=True)
class Unknown(Event):
    """An event this version does not know (from a newer version of the same schema): kept."""

    event_name: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


# What is only shown, never recorded.


@dataclass(frozen=True, kw_only=True)
class DocShown(Event):
    """A documentation block: shown to the operator, never run and never logged."""

    kind: ClassVar[str] = "doc"
    recorded: ClassVar[bool] = False
    step: str = ""
    title: str = ""
    lang: str = ""
    code: str = ""


@dataclass(frozen=True, kw_only=True)
class Invalid(Event):
    """An answer that was refused (a value outside its choices): asked again."""

    kind: ClassVar[str] = "invalid"
    recorded: ClassVar[bool] = False
    text: str = ""


RECORDED: dict[str, type[Event]] = {
    cls.kind: cls for cls in (RunStarted, VarSet, StepStarted, Output, OutputSpilled, OutputTail,
                              OutputChecked, Decision, Note, StepFinished, RunFinished)
}


def event_from_json(data: Mapping[str, Any]) -> Event:
    """One transcript line (a JSON object with ``event``) as its typed event."""
    kind = data.get("event")
    cls = RECORDED.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return Unknown(event_name=str(kind), data=dict(data), ts=str(data.get("ts") or ""))
    return cls.from_json(data)
