"""Each step of a rehearsed runbook as a test case: passed, failed or not verified, and why.

A step passes when its exit status and its expected output hold. A step that ran and failed
fails, unless the runbook tolerates its failure (``continue_on_error``) and the failure is not
that its program is missing or cannot run (exit 127/126: the runbook has rotted). A step whose
output differs from what the runbook (or ``--against``'s earlier run) expects fails too, with the
diff: in a rehearsal drift is what we look for. Steps that were not run (manual, refused as
dangerous, skipped by ``when``, blocked by a failed need, left because this machine lacks what
they need) are not verified, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from ..events import OutputChecked
from ..model import Step
from ..state import RunState, StepState

Outcome = Literal["passed", "failed", "not verified"]
#: exit codes that say the command itself is missing or cannot run: never a tolerated failure
NOT_RUNNABLE = {126: "cannot be run (exit 126)", 127: "command not found (exit 127)"}


@dataclass(frozen=True)
class Case:
    """One step as a test case."""

    step: Step
    outcome: Outcome
    reason: str = ""  # one line: why it failed or was not verified
    kind: str = ""  # for a failure: exit, timeout, interrupted, drift, expect, error
    details: str = ""  # the diff of each differing check, the failure's reason in full
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    checks: tuple[OutputChecked, ...] = ()


@dataclass
class BookResult:
    """A rehearsed runbook: its cases, or the error that kept it from running."""

    path: str
    title: str = ""
    cases: list[Case] = field(default_factory=list)
    transcript: str = ""
    run_id: str = ""
    started: str = ""
    duration_s: float = 0.0
    error: str = ""  # the book could not be loaded or run (one line)
    exit_code: int = 0  # for an error: 2 a usage or load error, 1 a failure mid-run

    def count(self, outcome: Outcome) -> int:
        return sum(1 for case in self.cases if case.outcome == outcome)

    @property
    def failed(self) -> bool:
        return bool(self.error) or self.count("failed") > 0


def judge(steps: Sequence[Step], state: RunState) -> list[Case]:
    """The test cases of the selected steps, from the run's state (documentation steps are
    not test cases)."""
    return [_case(step, state.steps.get(step.id)) for step in steps if step.kind != "doc"]


def _case(step: Step, record: StepState | None) -> Case:
    if record is None:
        return Case(step, "not verified", "not reached (the run ended before it)")
    stdout, stderr = _streams(record)
    ran = Case(step, "passed", stdout=stdout, stderr=stderr,
               duration_s=record.duration_s or 0.0, checks=tuple(record.checks))
    if record.status is None:
        return replace(ran, outcome="failed", reason="the run stopped during this step",
                       kind="interrupted")
    if record.status in ("skipped", "blocked"):
        reason = record.reason or record.status
        if step.kind == "manual":
            reason = "manual step: left to the operator"
        elif record.status == "blocked" and reason.startswith("needs "):
            reason = f"blocked: it {reason}, which did not succeed"
        elif reason.endswith("(--yes without --allow-danger)"):
            reason = reason.replace("(--yes without --allow-danger)",
                                    "(pass --allow-danger to rehearse it)")
        return replace(ran, outcome="not verified", reason=reason)
    drift = [c for c in record.checks if c.differs and not c.strict]
    if record.status != "ok":
        return _failure(ran, record, drift)
    if drift:
        return replace(ran, outcome="failed", reason=_drift_reason(drift), kind="drift",
                       details=_diffs(drift))
    return ran


def _failure(ran: Case, record: StepState, drift: list[OutputChecked]) -> Case:
    reason = record.reason or record.status or "failed"
    strict = [c for c in record.checks if c.strict and c.differs]
    kind = "expect" if strict else {"timeout": "timeout", "interrupted": "interrupted",
                                    "error": "error"}.get(str(record.status), "exit")
    not_runnable = NOT_RUNNABLE.get(record.exit_code or 0)
    if ran.step.continue_on_error and kind == "exit" and not not_runnable and not drift:
        # the runbook says this may fail ("lsof exits 1 when the port is free: good news")
        return replace(ran, reason=f"failed as the runbook allows ({reason})")
    if not_runnable:
        reason = f"{reason}: {not_runnable}"
    details = "\n\n".join(x for x in (reason, _diffs([*strict, *drift])) if x)
    return replace(ran, outcome="failed", reason=reason, kind=kind, details=details)


def _drift_reason(drift: list[OutputChecked]) -> str:
    first = drift[0]
    where = f" on {first.host}" if first.host else ""
    more = f" (and {len(drift) - 1} more)" if len(drift) > 1 else ""
    return f"output{where} differs from {first.source_label} ({first.mode}){more}"


def _diffs(checks: Sequence[OutputChecked]) -> str:
    parts = []
    for check in checks:
        where = f" on {check.host}" if check.host else ""
        parts.append(f"{check.source_label}{where} ({check.mode}):\n{check.diff}")
    return "\n\n".join(parts)


def _streams(record: StepState) -> tuple[str, str]:
    """What the step printed (every target's, named, when it ran on several)."""
    if len(record.hosts) <= 1:
        host = next(iter(record.hosts.values()), None)
        return (host.stdout.text, host.stderr.text) if host else ("", "")
    out = [f"== {name} ==\n{host.stdout.text}" for name, host in record.hosts.items()]
    err = [f"== {name} ==\n{host.stderr.text}" for name, host in record.hosts.items()
           if host.stderr.text]
    return "\n".join(out), "\n".join(err)
