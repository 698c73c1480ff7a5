"""Rebuild a run's state (finished steps, variables, captures, sessions) from its transcript."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model import Runbook, Step
from ..redact import MASK
from ..stamps import code_sha256
from ..variables import Variable
from .log import read_events

#: statuses after which a step is not run again on resume
FINISHED = frozenset({"ok", "skipped"})


@dataclass
class ResumeState:
    """What a resumed run needs to continue where the transcript stopped."""

    run_id: str
    sha256: str
    path: str
    finished: dict[str, str]  # step id -> status (ok/skipped only count as finished)
    running: str | None  # step started but not finished
    variables: dict[str, Variable]
    captures: dict[str, Any]
    step_results: dict[str, dict[str, Any]]
    sessions: dict[str, dict[str, Any]]  # host -> {cwd, env} (secret values left out)
    step_code_sha: dict[str, str]
    forced: bool
    #: variables/captures whose recorded value is masked: they must be asked (or captured) again
    lost: list[str] = field(default_factory=list)
    decisions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    last_status: str | None = None  # run_finished status of the last attempt, if it got there
    resumes: int = 0  # how many times this transcript was resumed already
    warnings: list[str] = field(default_factory=list)


def _masked(value: Any) -> bool:
    return isinstance(value, str) and MASK in value


class _Builder:
    """Folds events into a ResumeState, one handler per event name."""

    def __init__(self) -> None:
        self.state = ResumeState(
            run_id="", sha256="", path="", finished={}, running=None, variables={},
            captures={}, step_results={}, sessions={}, step_code_sha={}, forced=False,
        )
        self.secret_names: set[str] = set()

    def feed(self, event: dict[str, Any]) -> None:
        handler = getattr(self, f"on_{event.get('event')}", None)
        if handler is not None:
            handler(event)

    def on_run_started(self, event: dict[str, Any]) -> None:
        state = self.state
        if state.run_id:
            state.resumes += 1  # a continuation keeps the first run's id
        else:
            state.run_id = str(event.get("run_id") or "")
        state.sha256 = str(event.get("sha256") or state.sha256)
        state.path = str(event.get("path") or state.path)
        state.forced = state.forced or bool(event.get("forced"))
        state.last_status = None
        for var in event.get("variables") or []:
            if isinstance(var, dict):
                self.set_var(var)

    def on_var_set(self, event: dict[str, Any]) -> None:
        self.set_var(event)

    def set_var(self, var: dict[str, Any]) -> None:
        name = str(var.get("name") or "")
        if not name:
            return
        value, source = var.get("value"), str(var.get("source") or "")
        if var.get("secret") or _masked(value):
            # The log only holds ****: a secret (or a value containing one) is asked again.
            self.secret_names.add(name)
            self.state.variables.pop(name, None)
            self.state.captures.pop(name, None)
            self._lose(name)
            return
        self.state.variables[name] = Variable(name, value, source, False)
        if source in ("capture", "output"):
            self.state.captures[name] = value
        self._found(name)

    def _lose(self, name: str) -> None:
        if name not in self.state.lost:
            self.state.lost.append(name)

    def _found(self, name: str) -> None:
        if name in self.state.lost:
            self.state.lost.remove(name)

    def on_step_started(self, event: dict[str, Any]) -> None:
        step = str(event.get("step"))
        self.state.running = step
        if event.get("code_sha256"):
            self.state.step_code_sha[step] = str(event["code_sha256"])

    def on_decision(self, event: dict[str, Any]) -> None:
        self.state.decisions.setdefault(str(event.get("step")), []).append(event)

    def on_step_finished(self, event: dict[str, Any]) -> None:
        state, step = self.state, str(event.get("step"))
        status = str(event.get("status"))
        if status in FINISHED:
            state.finished[step] = status
        else:
            state.finished.pop(step, None)  # failed/interrupted: offered again
        if state.running == step:
            state.running = None
        state.step_results[step] = {
            k: event.get(k) for k in ("status", "exit_code", "duration_s", "attempts", "hosts")
        }
        for name, value in (event.get("captured") or {}).items():
            if name in self.secret_names or _masked(value):
                self._lose(name)
            else:
                state.captures[name] = value
                self._found(name)
        for host, session in (event.get("session") or {}).items():
            state.sessions[host] = self._session(host, session)

    def _session(self, host: str, recorded: dict[str, Any]) -> dict[str, Any]:
        env: dict[str, str | None] = {}
        for name, value in (recorded.get("env") or {}).items():
            if _masked(value):
                # Restoring "****" into the environment would be worse than not restoring it.
                self.state.warnings.append(
                    f"{host}: exported variable {name} holds a secret; set it again before resuming"
                )
                continue
            env[name] = value
        return {"cwd": recorded.get("cwd"), "env": env}

    def on_run_finished(self, event: dict[str, Any]) -> None:
        self.state.last_status = str(event.get("status"))
        self.state.running = None


def state_from_events(events: list[dict[str, Any]]) -> ResumeState:
    """Fold events (in order) into the state a resumed run starts from."""
    builder = _Builder()
    for event in events:
        builder.feed(event)
    return builder.state


def load_resume_state(path: str | Path) -> ResumeState:
    """Read a transcript and rebuild its state; reader warnings land in ``state.warnings``."""
    events, warnings = read_events(path)
    state = state_from_events(events)
    state.warnings[:0] = warnings
    return state


def changed_finished_steps(state: ResumeState, runbook: Runbook) -> list[Step]:
    """Finished steps whose code changed since they ran (refuse to resume unless --force)."""
    return [
        step
        for step in runbook.steps
        if step.id in state.finished
        and step.id in state.step_code_sha
        and code_sha256(step.code) != state.step_code_sha[step.id]
    ]
