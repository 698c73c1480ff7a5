"""How the engine asks the operator: the Controller protocol and the --yes AutoController."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from .events import OutputChecked
from .model import RunbookError, Step, VarSpec

StepAnswer = Literal["run", "skip", "edit", "all", "quit"]
FailureAnswer = Literal["retry", "retry_all", "edit", "skip", "quit"]
ManualAnswer = Literal["done", "not_done", "skip", "quit"]
DriftAnswer = Literal["go_on", "note", "retry", "edit", "quit"]


class QuitRun(Exception):
    """The operator answered quit (at any prompt): the run ends as aborted."""


@dataclass(frozen=True)
class StepView:
    """What the operator is shown about a step before deciding (already redacted)."""

    step: Step
    command: str  # rendered code, secrets masked
    targets: tuple[str, ...]
    danger: tuple[str, ...]  # reasons; non-empty means the operator must type the id
    flags: tuple[str, ...] = ()
    missing_env: tuple[str, ...] = ()
    expected_output: str | None = None
    # What `e` opens in the editor: the command, or its template when the command holds a
    # secret (never put a secret in a temp file; the edited template is rendered afterwards).
    editable: str = ""
    confirm: str = ""  # the step's own ``confirm`` question, its values filled in


@dataclass(frozen=True)
class Answer:
    """An operator's answer at a prompt. ``command`` is the edited code for ``edit``."""

    answer: str
    command: str | None = None
    prompt: str = ""


@dataclass(frozen=True)
class FailureView:
    step: Step
    status: str  # failed / timeout / interrupted / error
    exit_code: int | None
    reason: str
    attempts: int
    editable: str = ""  # what `e` opens: the command that ran, or its template (see StepView)
    failed_hosts: tuple[str, ...] = ()  # a remote step: the hosts it failed on ...
    hosts: int = 0  # ... of this many (retry runs on the failed ones only)

    @property
    def partial(self) -> bool:
        """It failed on some of its hosts only: retry can run there alone, or everywhere."""
        return 0 < len(self.failed_hosts) < self.hosts


@dataclass(frozen=True)
class DriftView:
    """A step that ran well but printed something else than expected: the checks that differ
    (each with its diff, already shown by the display as it was emitted)."""

    step: Step
    checks: tuple[OutputChecked, ...]
    attempts: int
    editable: str = ""  # what `e` opens (see StepView)


class Controller(Protocol):
    """How the engine asks: ui.interactive (a terminal) and AutoController (--yes). Showing what
    happens is not its job: the display observes the events."""

    def begin_step(self, step: Step) -> None:
        """A step comes next: its values, placeholders and environment may be asked for before
        ``ask_step`` (a terminal shows the step's header first, so the operator knows what for)."""
        ...

    def ask_step(self, view: StepView) -> Answer: ...

    def ask_failure(self, view: FailureView) -> Answer: ...

    def ask_manual(self, step: Step) -> Answer: ...

    def ask_drift(self, view: DriftView) -> Answer:
        """The output differs from what was expected (the step did not fail): go_on, note (go on
        with a note recorded), retry, edit (then retry) or quit."""
        ...

    def ask_choice(self, options: Sequence[StepView]) -> int | None:
        """Pick one alternative (index into options) or None for none of them."""
        ...

    def ask_var(self, spec: VarSpec) -> str: ...

    def ask_env(self, specs: Sequence[VarSpec]) -> Mapping[str, str]:
        """Offer to set unset environment variables a step reads (each as a VarSpec: its name,
        the runbook's prompt when it declares one, secret or not); return those set."""
        ...


class AutoController:
    """--yes: run everything, first alternative, manual steps recorded as skipped."""

    def begin_step(self, step: Step) -> None:
        return None

    def ask_step(self, view: StepView) -> Answer:
        return Answer("run", prompt="--yes")

    def ask_failure(self, view: FailureView) -> Answer:
        return Answer("quit", prompt="--yes")

    def ask_manual(self, step: Step) -> Answer:
        return Answer("skip", prompt="--yes")

    def ask_drift(self, view: DriftView) -> Answer:
        return Answer("go_on", prompt="--yes")

    def ask_choice(self, options: Sequence[StepView]) -> int | None:
        return 0 if options else None

    def ask_var(self, spec: VarSpec) -> str:
        raise RunbookError(f"variable '{spec.name}' has no value: pass --var {spec.name}=VALUE")

    def ask_env(self, specs: Sequence[VarSpec]) -> Mapping[str, str]:
        return {}
