"""The runbook model: frozen dataclasses every module reads; each step knows its path:line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

StepKind = Literal["shell", "engine", "manual", "doc"]
Severity = Literal["error", "warning", "info"]

#: languages whose fenced blocks are executable shell steps without any annotation
SHELL_LANGS = frozenset({"bash", "sh", "shell", "zsh", "console", "shell-session", "shellsession"})


class RunbookError(Exception):
    """A user mistake, shown as one line: ``path:line: message`` (or ``host: message``)."""

    exit_code = 2

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        if self.path and self.line:
            return f"{self.path}:{self.line}: {self.message}"
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message


class LoadError(RunbookError):
    """The runbook cannot be loaded (missing, unreadable, not UTF-8, broken front matter)."""

    exit_code = 2


class GraphError(RunbookError):
    """The step graph cannot be built (unknown or duplicate id, cycle)."""

    exit_code = 1


class UsageError(RunbookError):
    """A bad flag or argument value (e.g. ``--only`` naming no step)."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Problem:
    """A lint finding, tied to a place in the runbook."""

    severity: Severity
    path: str
    line: int
    message: str
    code: str = "RB000"
    column: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class VarSpec:
    """A variable declared in front matter ``vars:`` (or implied by a placeholder)."""

    name: str
    default: Any = None
    has_default: bool = False
    prompt: str | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    secret: bool = False
    env: str | None = None
    required: bool = False
    line: int = 1
    placeholder: bool = False  # came from a ``<name>`` placeholder, not front matter


@dataclass(frozen=True)
class HostTarget:
    """One concrete machine a step can run on. ``name`` is what the runbook calls it."""

    name: str
    hostname: str | None = None  # None: resolve through ssh config / the name itself
    user: str | None = None
    port: int | None = None
    key_file: str | None = None

    @property
    def is_local(self) -> bool:
        return self.name in ("local", "localhost") and self.hostname is None


LOCAL = HostTarget(name="local")


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the procedure. ``code`` is the template source, rendered at plan/run time."""

    id: str
    title: str
    path: str
    line: int
    kind: StepKind
    lang: str = ""
    code: str = ""
    section: tuple[str, ...] = ()
    description: str = ""
    index: int = 0  # 1-based position in document order (after granularity expansion)
    column: int = 1
    # where and in what order
    on: tuple[str, ...] = ()  # target names as written; () means local
    needs: tuple[str, ...] = ()
    when: str | None = None
    tags: tuple[str, ...] = ()
    # asking
    confirm: bool | str = False
    danger: bool | None = None  # True: forced dangerous; False: declared safe; None: detector
    interactive: bool = False
    exclude_from_run_all: bool = False
    # results
    capture: str | None = None
    extract: str | None = None
    secret: bool = False  # the captured value is a secret
    expect: str | None = None
    expect_exit: int = 0
    # timing
    timeout: float | None = None
    timeout_default: bool = False  # the timeout is the front matter's ``defaults``, not its own
    retries: int = 0
    delay: float = 0.0
    until: bool = False
    continue_on_error: bool = False
    # environment
    cwd: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    shell: str | None = None
    interpreter: str | None = None  # command that receives ``code`` on stdin (engines, consoles)
    sudo: bool = False
    user: str | None = None
    serial: int | None = None
    max_fail: str | None = None
    # plain-runbook structure (command granularity)
    parent: str | None = None
    choice: str | None = None
    expected_output: str | None = None  # documentation of what the command should print
    #: where it was written (region, printed, transcript, output block) and whether it shows
    #: only part of the output (a sample: the output may hold more lines, keys or items)
    expected_from: str | None = None
    expected_sample: bool = False
    #: file lines of the ``ssh host`` / ``psql …`` line that opened the session this step runs
    #: in (its target or interpreter), and of the ``exit`` that closed it
    session_lines: tuple[int, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # unknown attributes, kept for lint

    @property
    def executable(self) -> bool:
        return self.kind in ("shell", "engine")

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def code_line(self) -> int:
        """The runbook line ``code`` starts on (a block's: the line after its fence)."""
        return self.line if self.parent else self.line + 1

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)


@dataclass(frozen=True)
class Runbook:
    """A parsed runbook: front matter, steps in document order, and what the parser noticed."""

    path: str
    title: str
    steps: tuple[Step, ...]
    description: str = ""
    tags: tuple[str, ...] = ()
    vars: tuple[VarSpec, ...] = ()
    hosts: Mapping[str, tuple[HostTarget, ...]] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    engines: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    sha256: str = ""
    granularity: Literal["auto", "block", "command"] = "auto"

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def var(self, name: str) -> VarSpec | None:
        for spec in self.vars:
            if spec.name == name:
                return spec
        return None
