"""Running one step on its targets: attempts, retries, until, fan-out in batches, results."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import regexes
from .checking import COMBINED_CHARS, Check, OutputChecker, shown_expectation
from .control import Controller, DriftView, FailureView, QuitRun
from .events import (
    Decision,
    HostResult,
    Output,
    OutputChecked,
    SessionRecord,
    StepFinished,
    StepStarted,
)
from .fanout import FanOut
from .inputs import Inputs
from .model import LOCAL, HostTarget, Step
from .outputs import LineBuffer
from .recording import Recorder
from .redact import MASK, looks_secret
from .runners.base import Command, Result, Runner, Session
from .runners.ended import BodyEnded
from .runners.script import blame
from .stamps import code_sha256, parse_ts
from .state import HostState, Running, RunState, StepState

UNTIL_DEFAULT_S = 600.0  # how long ``until`` polls when the step has no timeout or retries


@dataclass
class HostRun:
    """One target's outcome for one step (the last attempt that ran there)."""

    target: HostTarget
    status: str = "skipped"
    result: Result | None = None
    reason: str = ""
    capture: str | None = None
    checks: list[Check] = field(default_factory=list)
    kept: bool = False  # finished well in an earlier session: not run again

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class StopRun(Exception):
    """A failure ends the run (--yes without continue_on_error)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def max_fail_limit(spec: str | None, hosts: int, serial: int | None) -> int | None:
    """Failures tolerated before the remaining batches are skipped (None: never stop)."""
    if spec is None:
        return 0 if serial else None
    text = str(spec).strip()
    if text.endswith("%"):
        return int(hosts * float(text[:-1]) / 100)
    return int(text)


class TargetRunners:
    """The runner of each target. On a target's first use in this session, the session (cwd,
    exports) an earlier session of the run recorded there is restored, secrets excepted."""

    def __init__(self, runners: Callable[[HostTarget], Runner], state: RunState) -> None:
        self._runners = runners
        self._state = state
        self._restored: set[str] = set()

    def __call__(self, target: HostTarget) -> Runner:
        runner = self._runners(target)
        if target.name not in self._restored:
            self._restored.add(target.name)
            recorded = self._state.sessions.get(target.name)
            if recorded is not None:
                env = {k: v for k, v in recorded.env.items() if v is None or MASK not in v}
                runner.session = Session(cwd=recorded.cwd, env=env)
        return runner


class Executor:
    """Runs a prepared step: its attempts on every target, the failure menu, then its result."""

    def __init__(self, emit: Recorder, controller: Controller, runner: TargetRunners,
                 inputs: Inputs, *, yes: bool, continue_on_error: bool, forks: int,
                 checker: OutputChecker | None = None) -> None:
        self.emit = emit
        self.checker = checker or OutputChecker()
        self.controller = controller
        self.runner = runner
        self.inputs = inputs
        self.yes = yes
        self.continue_on_error = continue_on_error
        self.pool = FanOut(forks)
        self.ctrl_c = False  # Ctrl-C stopped the current step
        self._cancel: threading.Event | None = None  # the attempt running now

    def interrupt(self) -> bool:
        """What Ctrl-C does to the attempt running now, asked from another thread; False when
        no step runs."""
        cancel = self._cancel
        if cancel is None:
            return False
        self.ctrl_c = True
        cancel.set()
        return True

    def close(self) -> None:
        self.pool.close()

    def execute(self, step: Step, command: Command, targets: list[HostTarget],
                follows: bool = False, kept: Mapping[str, HostRun] | None = None) -> None:
        """Attempts (automatic retries, until, the failure menu), then the step's result.
        ``follows``: the step runs until stopped (``tail -f``), so Ctrl-C ends it well.
        ``kept``: hosts an earlier session finished well (``--resume``): run on the others."""
        hosts = {t.name: (kept or {}).get(t.name) or HostRun(t) for t in targets}
        remote = len(targets) > 1 or not all(t.is_local for t in targets)
        attempts, auto_left, started = 0, step.retries, time.monotonic()
        deadline = _until_deadline(step)
        code_sha = code_sha256(step.code)
        self.ctrl_c = False
        while True:
            attempts += 1
            if deadline is not None:
                command = replace(command, timeout=max(0.1, deadline - time.monotonic()))
            pending = [h.target for h in hosts.values() if not h.ok]
            # the attempt's id: its shell's body-ended record names it (runners/ended.py)
            command = replace(command, attempt_id=os.urandom(6).hex())
            self.emit(StepStarted(
                step=step.id, index=step.index, title=step.title, section=step.section,
                line=step.line, lang=step.lang, targets=tuple(hosts),
                hosts=tuple(t.name for t in pending) if len(pending) < len(hosts) else (),
                command=command.code, attempt=attempts, code_sha256=code_sha,
                interactive=command.interactive, attempt_id=command.attempt_id))
            self._attempt(step, command, pending, hosts, remote)
            drift = self._checked(step, attempts, pending, hosts, remote)
            failed = [h for h in hosts.values() if not h.ok]
            if not failed:
                asked = time.monotonic()
                again = self._drift(step, command, drift, attempts, tuple(hosts))
                started += time.monotonic() - asked  # the operator's time is not the step's
                if again is None:
                    return self._record(step, hosts, attempts, started, "ok", "")
                if again == "quit":
                    self._record(step, hosts, attempts, started, "ok", "")
                    raise QuitRun
                command = replace(command, code=again)  # retry (the edited code, if edited)
                hosts = {t.name: HostRun(t) for t in targets}
                auto_left, deadline = step.retries, _until_deadline(step)
                continue
            status, reason = _worst(failed)
            if follows and (self.ctrl_c or (command.interactive and _ended_by_ctrl_c(failed))):
                # `tail -f` and friends end with Ctrl-C: that is success, not a failure (on the
                # terminal the Ctrl-C reaches the step, not us: its exit status tells)
                for run in failed:
                    run.status, run.reason = "ok", "stopped by the operator"
                return self._record(step, hosts, attempts, started, "ok",
                                    "stopped by the operator (Ctrl-C)")
            if not self.ctrl_c:
                delay = (step.delay or 1.0) if step.until else step.delay
                if deadline is not None and time.monotonic() + delay < deadline \
                        and self._sleep(delay):
                    continue
                if deadline is None and auto_left > 0 and self._sleep(delay):
                    auto_left -= 1
                    continue
            if self.yes:
                self._record(step, hosts, attempts, started, status, reason)
                if self.ctrl_c or not (self.continue_on_error or step.continue_on_error):
                    raise StopRun(status)
                return None
            if step.continue_on_error and not self.ctrl_c:
                # the runbook expects this may fail ("exits 1 when the port is free"): no menu
                self._record(step, hosts, attempts, started, status,
                             f"{reason}; going on (continue_on_error)")
                return None
            view = FailureView(step, status, _exit_code(failed), reason, attempts,
                               editable=self.inputs.editable(step, command.code),
                               failed_hosts=tuple(h.target.name for h in failed) if remote
                               else (), hosts=len(hosts) if remote else 0)
            try:
                asked = time.monotonic()
                answer = self.controller.ask_failure(view)
            except KeyboardInterrupt:
                self._record(step, hosts, attempts, started, status, reason)
                raise
            started += time.monotonic() - asked  # the operator's time is not the step's
            self.ctrl_c = False
            if answer.answer == "edit" and answer.command is not None:
                self.emit(Decision(step=step.id, prompt=answer.prompt, answer="edit",
                                   original=view.editable, edited=answer.command))
                edited = self.inputs.apply_edit(step, view.editable, answer.command)
                try:
                    verdict, edited = self.inputs.confirm_edit(step, command.code, edited,
                                                               tuple(hosts))
                except QuitRun:
                    self._record(step, hosts, attempts, started, status, reason)
                    raise
                if verdict == "skip":
                    self._record(step, hosts, attempts, started, status,
                                 reason + "; skipped by operator")
                    return None
                command = replace(command, code=edited)
            else:
                self.emit(Decision(step=step.id, prompt=answer.prompt, answer=answer.answer))
            if answer.answer == "retry_all":  # the hosts that went well run again too
                hosts = {t.name: HostRun(t) for t in targets}
            if answer.answer in ("retry", "retry_all", "edit"):
                auto_left, deadline = step.retries, _until_deadline(step)
                continue
            self._record(step, hosts, attempts, started, status,
                         reason + ("; skipped by operator" if answer.answer == "skip" else ""))
            if answer.answer == "quit":
                raise QuitRun
            return None

    def record_ended(self, step: Step, record: StepState | None, running: Running,
                     ended: BodyEnded) -> None:
        """--resume: the local step whose body ended as the earlier session ended, before its
        result: its result from its shell's record (runners/ended.py), so it does not run again.
        Its output is what the transcript holds (it may be cut short): no output checks."""
        host = record.host(LOCAL.name) if record is not None else HostState()
        begun = parse_ts(running.started)
        duration = max(0.0, ended.ended - begun.timestamp()) if ended.ended and begun else 0.0
        result = Result(ended.exit_code, "ok" if ended.exit_code == 0 else "failed", duration,
                        stdout=host.stdout.text, stderr=host.stderr.text)
        why = "its body ended as the earlier session ended: the result is its shell's record"
        if step.capture and self.inputs.may_create_secret(step, step.code):
            # its output was held until its end, so the transcript has none: asked when needed
            why += f"; {step.capture} is not known (its output was held)"
            step = replace(step, capture=None, extract=None)
        run = _judge(step, LOCAL, result, [])
        runner = self.runner(LOCAL)  # the session recorded before it, restored
        if ended.cwd:
            runner.session = Session(cwd=ended.cwd, env=dict(runner.session.env))
        self._record(step, {LOCAL.name: run}, running.attempt, time.monotonic() - duration,
                     run.status, f"{run.reason}; {why}" if run.reason else why)

    # -- expectations ---------------------------------------------------------------------------

    def _checked(self, step: Step, attempt: int, ran: list[HostTarget],
                 hosts: dict[str, HostRun], remote: bool) -> list[OutputChecked]:
        """Emit this attempt's output checks; return those that differ without failing it."""
        drift: list[OutputChecked] = []
        for target in ran:
            for check in hosts[target.name].checks:
                e, c = check.expectation, check.comparison
                event = OutputChecked(
                    step=step.id, attempt=attempt, host=target.name if remote else None,
                    source=e.source, strict=e.strict, sample=e.sample, verdict=c.verdict,
                    mode=c.mode, diff=c.diff, expected=shown_expectation(e.text),
                    reference=e.reference)
                self.emit(event)
                if not c.matches and not e.strict:
                    drift.append(event)
        return drift

    def _drift(self, step: Step, command: Command, drift: list[OutputChecked],
               attempts: int, targets: tuple[str, ...]) -> str | None:
        """The output differs from what was expected: ask. None: go on; "quit"; else the code
        to run again (retry, or the edited command)."""
        if not drift or self.yes:
            return None
        view = DriftView(step, tuple(drift), attempts,
                         editable=self.inputs.editable(step, command.code))
        answer = self.controller.ask_drift(view)
        if answer.answer == "edit" and answer.command is not None:
            self.emit(Decision(step=step.id, prompt=answer.prompt, answer="edit",
                               original=view.editable, edited=answer.command))
            edited = self.inputs.apply_edit(step, view.editable, answer.command)
            try:
                verdict, edited = self.inputs.confirm_edit(step, command.code, edited, targets)
            except QuitRun:
                return "quit"
            return edited if verdict == "run" else None
        self.emit(Decision(step=step.id, prompt=answer.prompt, answer=answer.answer))
        if answer.answer == "quit":
            return "quit"
        return command.code if answer.answer == "retry" else None

    def _sleep(self, seconds: float) -> bool:
        """Wait between attempts; False when Ctrl-C cut it short (no more automatic retries)."""
        try:
            if seconds > 0:
                time.sleep(seconds)
        except KeyboardInterrupt:
            self.ctrl_c = True
            return False
        return True

    # -- one attempt on every target ------------------------------------------------------------

    def _attempt(self, step: Step, command: Command, targets: list[HostTarget],
                 hosts: dict[str, HostRun], remote: bool) -> None:
        """Run once on every target: batches of ``serial``, ``max_fail`` skips later batches."""
        self.emit.settle()  # the results before this step are on disk before it runs
        cancel = self._cancel = threading.Event()  # what interrupt() sets, from another thread
        try:
            with self._ctrl_c_stops(cancel) as caught:
                if caught and len(targets) == 1 and not remote:
                    # one local target, the common case: run it here, without a thread handover
                    hosts[targets[0].name] = self._run_on(step, command, targets[0], cancel,
                                                          remote)
                    return
                self._batches(step, command, targets, hosts, remote, cancel)
        finally:
            self._cancel = None

    @contextlib.contextmanager
    def _ctrl_c_stops(self, cancel: threading.Event) -> Iterator[bool]:
        """While a step runs, Ctrl-C stops it (through ``cancel``, which every runner watches)
        instead of raising wherever it lands. False where signals cannot be caught (not the
        main thread): then Ctrl-C is caught while waiting for the hosts."""

        def stop(signum: int, frame: object) -> None:
            self.ctrl_c = True
            cancel.set()

        try:
            previous = signal.signal(signal.SIGINT, stop)
        except ValueError:
            yield False
            return
        try:
            yield True
        finally:
            signal.signal(signal.SIGINT, previous)

    def _batches(self, step: Step, command: Command, targets: list[HostTarget],
                 hosts: dict[str, HostRun], remote: bool, cancel: threading.Event) -> None:
        size = step.serial or len(targets) or 1
        limit = max_fail_limit(step.max_fail, len(targets), step.serial)
        failures = 0
        for start in range(0, len(targets), size):
            batch = targets[start:start + size]
            if cancel.is_set() or (limit is not None and failures > limit):
                # after Ctrl-C or too many failures, later batches (rolling restarts) never start
                why = "interrupted" if cancel.is_set() else "max_fail reached"
                for target in batch:
                    hosts[target.name] = HostRun(target, "skipped", reason=why)
                continue
            futures: list[cf.Future[HostRun]] = []
            try:
                for target in batch:
                    futures.append(self.pool.submit(self._run_on, step, command, target, cancel,
                                                    remote))
            except KeyboardInterrupt:  # Ctrl-C as the batch starts: it is stopped like any other
                self.ctrl_c = True
                cancel.set()
            self._wait(futures, cancel)
            for target, future in zip(batch, futures, strict=False):
                hosts[target.name] = future.result()
                failures += not hosts[target.name].ok
            for target in batch[len(futures):]:
                hosts[target.name] = HostRun(target, "interrupted", reason="interrupted")

    def _wait(self, futures: list[cf.Future[HostRun]], cancel: threading.Event) -> None:
        # The main thread only waits, so Ctrl-C lands here and not inside a runner.
        pending = list(futures)
        while True:
            try:
                while pending:
                    pending[-1].exception()  # waits (interruptibly); the result is read later
                    pending.pop()
                return
            except KeyboardInterrupt:
                self.ctrl_c = True
                cancel.set()

    def _run_on(self, step: Step, command: Command, target: HostTarget, cancel: threading.Event,
                remote: bool) -> HostRun:
        host = target.name if remote else None
        if remote:  # so a step on many hosts can tell them apart (Ansible's inventory_hostname)
            command = replace(command, env={**command.env, "RUNBOOK_HOST": target.name})
        # a secret the step makes (a capture, an export, $RUNBOOK_OUTPUT) is known only when it
        # ends: until then its output is held, then shown masked
        held: list[tuple[str, str]] | None = \
            [] if self.inputs.may_create_secret(step, command.code) else None
        lines = {s: LineBuffer(safe_end=self.emit.safe_end) for s in ("stdout", "stderr")}
        # both streams as they came, as a terminal shows them: what a runbook's expected output
        # was copied from (kept only when there is an output to compare)
        combined: list[str] | None = [] if self.checker.wants_combined(step) else None
        kept = [0]
        first: list[int] = []  # known once the runner has started the step (served or not)

        def on_output(stream: str, text: str) -> None:
            ready = lines[stream].feed(text)
            if ready and stream == "stderr":
                if not first:
                    first.append(self.runner(target).code_first_line(command))
                ready = blame(ready, first[0], lambda n: _code_line(step, n))
            if ready:
                self._output(step.id, stream, ready, host, held)
            if combined is not None and kept[0] < COMBINED_CHARS:
                combined.append(text)
                kept[0] += len(text)

        started = time.monotonic()
        try:
            result = self.runner(target).run(command, on_output, cancel)
        except Exception as exc:  # noqa: BLE001 - one host's fault must not end the fan-out
            result = Result(None, "error", time.monotonic() - started, error=str(exc))
        for stream, buffer in lines.items():
            rest = buffer.flush()
            if rest:
                self._output(step.id, stream, rest, host, held)
        checks: list[Check] = []
        if result.status in ("ok", "failed"):  # it ran to its end: what it printed is whole
            checks = self.checker.check(step, target.name, result.stdout, result.stderr,
                                        "".join(combined) if combined is not None else None)
        run = _judge(step, target, result, checks)
        if held is not None:
            self._secrets_made(step, target, result, run)
            for stream, text in held:
                self._output(step.id, stream, text, host, None)
        return run

    def _secrets_made(self, step: Step, target: HostTarget, result: Result, run: HostRun) -> None:
        """Mask what the step made secret before its held output is shown."""
        if run.capture is not None and step.secret:
            self.emit.secret(run.capture)
        for name, value in result.outputs.items():
            if value and self.inputs.output_is_secret(step, name):
                self.emit.secret(value)
        if result.status != "error":
            for name, env_value in self.runner(target).session.env.items():
                if env_value and looks_secret(name):
                    self.emit.secret(env_value)

    def _output(self, step_id: str, stream: str, text: str, host: str | None,
                held: list[tuple[str, str]] | None) -> None:
        if held is not None:
            held.append((stream, text))
            return
        self.emit(Output(step=step_id, stream=stream, text=text, host=host))

    # -- the result -----------------------------------------------------------------------------

    def _record(self, step: Step, hosts: dict[str, HostRun], attempts: int, started: float,
                status: str, reason: str) -> None:
        runs = list(hosts.values())
        multi = len(runs) > 1
        captured: dict[str, Any] = {}
        if status == "ok":
            if step.capture:
                value: Any = {n: h.capture for n, h in hosts.items()} if multi else runs[0].capture
                self.inputs.set_var(step.capture, value, "capture", step.secret)
                captured[step.capture] = MASK if step.secret else value
            for name in dict.fromkeys(k for h in runs if h.result for k in h.result.outputs):
                values = {n: h.result.outputs.get(name) for n, h in hosts.items() if h.result}
                value = values if multi else values[runs[0].target.name]
                secret = self.inputs.output_is_secret(step, name)
                self.inputs.set_var(name, value, "output", secret)
                captured[name] = MASK if secret else value
        per_host = {n: HostResult(status=h.status, exit_code=h.result.exit_code if h.result
                                  else None,
                                  duration_s=round(h.result.duration_s, 3) if h.result else 0.0,
                                  reason=h.reason)
                    for n, h in hosts.items()} if multi else {}
        self.emit(StepFinished(
            step=step.id, status=status, exit_code=_exit_code(runs), attempts=attempts,
            duration_s=round(time.monotonic() - started, 3), reason=reason, hosts=per_host,
            captured=captured, session=self._sessions(runs)))

    def _sessions(self, runs: list[HostRun]) -> dict[str, SessionRecord]:
        sessions: dict[str, SessionRecord] = {}
        for run in runs:
            if run.result is not None and run.result.status != "error" and not run.kept:
                session = self.runner(run.target).session
                # a step that exported DB_PASSWORD=...: mask it from now on (and in this event)
                for name, value in session.env.items():
                    if value and looks_secret(name):
                        self.emit.secret(value)
                sessions[run.target.name] = SessionRecord(cwd=session.cwd, env=dict(session.env))
        return sessions


def kept_run(step: Step, target: HostTarget, record: StepState) -> HostRun:
    """A host an earlier session ran the step on well, as this session's result there: its
    exit code, duration and output as recorded; its capture read again from that output (a
    failed step records no captures), its ``$RUNBOOK_OUTPUT`` values when the step recorded
    them."""
    host = record.hosts[target.name]
    outputs = {name: str(value[target.name]) for name, value in record.captured.items()
               if name != step.capture and isinstance(value, dict)
               and value.get(target.name) is not None}
    result = Result(host.exit_code, "ok", host.duration_s or 0.0, stdout=host.stdout.text,
                    stderr=host.stderr.text, outputs=outputs)
    return replace(_judge(step, target, result, []), status="ok", reason="", kept=True)


def _until_deadline(step: Step) -> float | None:
    if not step.until:
        return None
    if step.timeout:
        return time.monotonic() + step.timeout
    return None if step.retries else time.monotonic() + UNTIL_DEFAULT_S


def _judge(step: Step, target: HostTarget, result: Result, checks: list[Check]) -> HostRun:
    """Did this attempt succeed on this host: exit code, ``expect``, ``extract``."""
    if result.status in ("timeout", "interrupted", "error"):
        return HostRun(target, result.status, result, result.error or result.status,
                       checks=checks)
    if result.exit_code != step.expect_exit:
        reason = f"exit code {result.exit_code}"
        if step.expect_exit:
            reason += f", expected {step.expect_exit}"
        return HostRun(target, "failed", result, reason, checks=checks)
    strict = next((c for c in checks if c.fails_step), None)
    if strict is not None:
        return HostRun(target, "failed", result, strict.comparison.diff, checks=checks)
    try:
        capture = None
        if step.capture:
            capture = result.stdout.strip()
            if step.extract:
                capture = regexes.search(step.extract, result.stdout, re.M)
                if capture is None:
                    return HostRun(target, "failed", result, f"extract {step.extract} not found",
                                   checks=checks)
    except re.error as exc:
        return HostRun(target, "failed", result, f"bad regular expression: {exc}", checks=checks)
    except regexes.PatternTimeout as exc:
        return HostRun(target, "failed", result, f"extract: {exc}", checks=checks)
    return HostRun(target, "ok", result, capture=capture, checks=checks)


def _ended_by_ctrl_c(runs: list[HostRun]) -> bool:
    """Every run ended on SIGINT (exit status 130, as a shell reports it)."""
    return all(run.result is not None and run.result.exit_code == 130 for run in runs)


def _code_line(step: Step, n: int) -> str:
    """Where line ``n`` of a step's code is in its runbook (an error bash reported there)."""
    if n < 1:  # the wrapper's set-up: the step's cwd or env
        return f"{step.location} (setting up step {step.id})"
    return f"{step.path}:{step.code_line + n - 1} (line {n} of step {step.id})"


def _worst(failed: list[HostRun]) -> tuple[str, str]:
    """The step status and reason from the failed hosts: interrupted > timeout > failed."""
    statuses = {h.status for h in failed}
    status = next((s for s in ("interrupted", "timeout") if s in statuses), "failed")
    reasons = [f"{h.target.name}: {h.reason}" if len(failed) > 1 else h.reason for h in failed]
    return status, "; ".join(r for r in reasons if r)


def _exit_code(runs: list[HostRun]) -> int | None:
    for run in runs:
        if not run.ok and run.result is not None:
            return run.result.exit_code
    return runs[0].result.exit_code if runs and runs[0].result else None
