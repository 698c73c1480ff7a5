"""Continuing a run from its transcript: the state folded from it, and whether it fits."""

from __future__ import annotations

from pathlib import Path

from ..model import Runbook, Step
from ..stamps import code_sha256
from ..state import RunState
from .reader import NotATranscript, read_events


def load_state(path: str | Path) -> tuple[RunState, list[str]]:
    """The run state a transcript records, and warnings (unreadable lines, values to set again)."""
    events, warnings = read_events(path)
    state = RunState.fold(events)
    for host, name in state.lost_exports():
        warnings.append(f"{host}: exported variable {name} holds a secret; set it again before "
                        "resuming")
    return state, warnings


def check_same_runbook(state: RunState, runbook: Runbook, transcript: str | Path) -> None:
    """Refuse (exit 2) a transcript recorded from another runbook: neither its file nor its title
    match (a runbook moved, renamed or retitled keeps the other one)."""
    recorded = Path(state.path) if state.path else None
    if recorded is None or runbook.sha256 == state.sha256:
        return
    same_file = recorded.name == Path(runbook.path).name or _same_path(recorded, runbook.path)
    if same_file or (state.title and state.title == runbook.title):
        return
    raise NotATranscript(f"this transcript records another runbook ({state.path}, "
                         f"\"{state.title}\"), not {runbook.path} (\"{runbook.title}\")",
                         str(transcript))


def _same_path(recorded: Path, given: str) -> bool:
    try:
        return recorded.resolve() == Path(given).resolve()
    except OSError:
        return False


def changed_finished_steps(state: RunState, runbook: Runbook) -> list[Step]:
    """Finished steps whose code changed since they ran (refuse to resume unless --force)."""
    changed = []
    for step in runbook.steps:
        recorded = state.steps.get(step.id)
        if recorded is not None and recorded.done and recorded.code_sha256 and \
                code_sha256(step.code) != recorded.code_sha256:
            changed.append(step)
    return changed
