"""How the engine asks the operator: the Controller protocol and the --yes AutoController."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .model import Step, VarSpec

StepAnswer = Literal["run", "skip", "edit", "all", "quit"]
FailureAnswer = Literal["retry", "edit", "skip", "quit"]
ManualAnswer = Literal["done", "not_done", "skip", "quit"]


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


@dataclass(frozen=True)
class Decision:
    """An operator's answer. ``command`` is the edited code for ``edit``."""

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


class Controller(Protocol):
    """Implemented by ui.interactive (terminal) and AutoController (--yes)."""

    #: set by the engine: record an operator note (lines starting with ``#`` at any prompt)
    note: Callable[[str], None]

    def ask_step(self, view: StepView) -> Decision: ...

    def ask_failure(self, view: FailureView) -> Decision: ...

    def ask_manual(self, step: Step) -> Decision: ...

    def ask_choice(self, options: Sequence[StepView]) -> int | None:
        """Pick one alternative (index into options) or None for none of them."""
        ...

    def ask_var(self, spec: VarSpec) -> str: ...

    def ask_env(self, names: Sequence[str]) -> Mapping[str, str]:
        """Offer to set unset environment variables a step reads; return those set."""
        ...

    def on_event(self, event: Mapping[str, Any]) -> None:
        """Display an (already redacted) event: output chunks, step results, run summary."""
        ...


@dataclass
class AutoController:
    """--yes: run everything, first alternative, manual steps recorded as skipped."""

    note: Callable[[str], None] = field(default=lambda text: None)
    display: Callable[[Mapping[str, Any]], None] | None = None

    def ask_step(self, view: StepView) -> Decision:
        return Decision("run", prompt="--yes")

    def ask_failure(self, view: FailureView) -> Decision:
        return Decision("quit", prompt="--yes")

    def ask_manual(self, step: Step) -> Decision:
        return Decision("skip", prompt="--yes")

    def ask_choice(self, options: Sequence[StepView]) -> int | None:
        return 0 if options else None

    def ask_var(self, spec: VarSpec) -> str:
        from .model import RunbookError

        raise RunbookError(f"variable '{spec.name}' has no value: pass --var {spec.name}=VALUE")

    def ask_env(self, names: Sequence[str]) -> Mapping[str, str]:
        return {}

    def on_event(self, event: Mapping[str, Any]) -> None:
        if self.display is not None:
            self.display(event)
