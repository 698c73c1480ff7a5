"""Running one step on its targets: attempts, retries, until, fan-out in batches, results."""

from __future__ import annotations

import concurrent.futures as cf
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from .control import FailureView, QuitRun
from .model import HostTarget, Step
from .outputs import LineBuffer
from .redact import looks_secret
from .runners.base import Command, Result, Runner, Session
from .stamps import code_sha256


@dataclass
class HostRun:
    """One target's outcome for one step (the last attempt that ran there)."""

    target: HostTarget
    status: str = "skipped"
    result: Result | None = None
    reason: str = ""
    capture: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def max_fail_limit(spec: str | None, hosts: int, serial: int | None) -> int | None:
    """Failures tolerated before the remaining batches are skipped (None: never stop)."""
    if spec is None:
        return 0 if serial else None
    text = str(spec).strip()
    if text.endswith("%"):
        return int(hosts * float(text[:-1]) / 100)
    return int(text)


UNTIL_DEFAULT_S = 600.0  # how long ``until`` polls when the step has no timeout or retries


class StopRun(Exception):
    """A failure ends the run (--yes without continue_on_error)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class ExecutionMixin:
    """The execution half of Engine (it uses the Engine's state: controller, emit, options)."""

    # -- running ----------------------------------------------------------------------------------

    def _runner(self, target: HostTarget) -> Runner:
        runner = self.runner_for(target)
        if target.name not in self._restored:
            self._restored.add(target.name)
            sessions = getattr(self.resume, "sessions", None) or {}
            if target.name in sessions:
                recorded = sessions[target.name]
                runner.session = Session(cwd=recorded["cwd"], env=dict(recorded["env"]))
        return runner


    def _execute(self, step: Step, command: Command, targets: list[HostTarget]) -> None:
        """Attempts (automatic retries, until, the failure menu), then the step's result."""
        hosts = {t.name: HostRun(t) for t in targets}
        remote = len(targets) > 1 or not all(t.is_local for t in targets)
        attempts, auto_left, started = 0, step.retries, time.monotonic()
        deadline = self._until_deadline(step)
        code_sha = code_sha256(step.code)
        self._ctrl_c = False
        while True:
            attempts += 1
            if deadline is not None:
                command = replace(command, timeout=max(0.1, deadline - time.monotonic()))
            self.emit({"event": "step_started", "step": step.id, "index": step.index,
                       "title": step.title, "section": list(step.section), "line": step.line,
                       "lang": step.lang, "targets": [t.name for t in targets],
                       "command": command.code, "attempt": attempts, "code_sha256": code_sha,
                       "interactive": step.interactive})
            self._attempt(step, command, [h.target for h in hosts.values() if not h.ok],
                          hosts, remote)
            failed = [h for h in hosts.values() if not h.ok]
            if not failed:
                return self._record(step, hosts, attempts, started, "ok", "")
            status, reason = _worst(failed)
            if self._ctrl_c and self._follows:
                # `tail -f` and friends end with Ctrl-C: that is success, not a failure
                for run in failed:
                    run.status, run.reason = "ok", "stopped by the operator"
                return self._record(step, hosts, attempts, started, "ok",
                                    "stopped by the operator (Ctrl-C)")
            if not self._ctrl_c:
                delay = (step.delay or 1.0) if step.until else step.delay
                if deadline is not None and time.monotonic() + delay < deadline \
                        and self._sleep(delay):
                    continue
                if deadline is None and auto_left > 0 and self._sleep(delay):
                    auto_left -= 1
                    continue
            if self.options.yes:
                self._record(step, hosts, attempts, started, status, reason)
                if self._ctrl_c or not (self.options.continue_on_error or step.continue_on_error):
                    raise StopRun(status)
                return None
            view = FailureView(step, status, _exit_code(failed), reason, attempts,
                               editable=self.editable(step, command.code))
            try:
                decision = self.controller.ask_failure(view)
            except KeyboardInterrupt:
                self._record(step, hosts, attempts, started, status, reason)
                raise
            self._ctrl_c = False
            answer = decision.answer
            if answer == "edit" and decision.command is not None:
                self._decision(step, decision.prompt, "edit", original=view.editable,
                               edited=decision.command)
                command = replace(command, code=self.apply_edit(step, view.editable,
                                                                decision.command))
            else:
                self._decision(step, decision.prompt, answer)
            if answer in ("retry", "edit"):
                auto_left, deadline = step.retries, self._until_deadline(step)
                continue
            self._record(step, hosts, attempts, started, status,
                         reason + ("; skipped by operator" if answer == "skip" else ""))
            if answer == "quit":
                raise QuitRun
            return None

    def _until_deadline(self, step: Step) -> float | None:
        if not step.until:
            return None
        if step.timeout:
            return time.monotonic() + step.timeout
        return None if step.retries else time.monotonic() + UNTIL_DEFAULT_S

    def _sleep(self, seconds: float) -> bool:
        """Wait between attempts; False when Ctrl-C cut it short (no more automatic retries)."""
        try:
            if seconds > 0:
                time.sleep(seconds)
        except KeyboardInterrupt:
            self._ctrl_c = True
            return False
        return True

    def _attempt(self, step: Step, command: Command, targets: list[HostTarget],
                 hosts: dict[str, HostRun], remote: bool) -> None:
        """Run once on every target: batches of ``serial``, ``max_fail`` skips later batches."""
        assert self._pool is not None
        size = step.serial or len(targets) or 1
        limit = max_fail_limit(step.max_fail, len(targets), step.serial)
        failures = 0
        cancel = threading.Event()
        for start in range(0, len(targets), size):
            batch = targets[start:start + size]
            if cancel.is_set() or (limit is not None and failures > limit):
                # after Ctrl-C or too many failures, later batches (rolling restarts) never start
                why = "interrupted" if cancel.is_set() else "max_fail reached"
                for target in batch:
                    hosts[target.name] = HostRun(target, "skipped", reason=why)
                continue
            futures = [self._pool.submit(self._run_on, step, command, t, cancel, remote)
                       for t in batch]
            self._wait(futures, cancel)
            for target, future in zip(batch, futures, strict=True):
                hosts[target.name] = future.result()
                failures += not hosts[target.name].ok

    def _wait(self, futures: list[cf.Future[HostRun]], cancel: threading.Event) -> None:
        # The main thread only waits, so Ctrl-C lands here and not inside a runner.
        pending = set(futures)
        while pending:
            try:
                _done, pending = cf.wait(pending)
            except KeyboardInterrupt:
                self._ctrl_c = True
                cancel.set()

    def _run_on(self, step: Step, command: Command, target: HostTarget, cancel: threading.Event,
                remote: bool) -> HostRun:
        host = target.name if remote else None
        held: list[tuple[str, str]] | None = [] if step.secret and step.capture else None
        lines = {"stdout": LineBuffer(), "stderr": LineBuffer()}

        def on_output(stream: str, text: str) -> None:
            ready = lines[stream].feed(text)
            if ready:
                self._output(step.id, stream, ready, host, held)

        started = time.monotonic()
        try:
            result = self._runner(target).run(command, on_output, cancel)
        except Exception as exc:  # noqa: BLE001 - one host's fault must not end the fan-out
            result = Result(None, "error", time.monotonic() - started, error=str(exc))
        for stream, buffer in lines.items():
            rest = buffer.flush()
            if rest:
                self._output(step.id, stream, rest, host, held)
        run = _judge(step, target, result)
        if held is not None:
            # A secret capture is known only now: its output was held back until it is masked.
            if run.capture is not None:
                self.redactor.add(run.capture)
            for stream, text in held:
                self._output(step.id, stream, text, host, None)
        return run

    def _output(self, step_id: str, stream: str, text: str, host: str | None,
                held: list[tuple[str, str]] | None) -> None:
        if held is not None:
            held.append((stream, text))
            return
        event = {"event": "output", "step": step_id, "stream": stream, "text": text}
        if host is not None:
            event["host"] = host
        self.emit(event)

    def _record(self, step: Step, hosts: dict[str, HostRun], attempts: int, started: float,
                status: str, reason: str) -> None:
        runs = list(hosts.values())
        multi = len(runs) > 1
        per_host = {name: _host_result(h) for name, h in hosts.items()}
        first = runs[0].result if runs and runs[0].result else Result(None, "error", 0.0)
        self.step_results[step.id] = {
            "stdout": first.stdout, "stderr": first.stderr, "exit_code": first.exit_code,
            "status": status, "hosts": per_host,
        }
        captured: dict[str, Any] = {}
        if status == "ok":
            if step.capture:
                value: Any = {n: h.capture for n, h in hosts.items()} if multi else runs[0].capture
                self._set_var(step.capture, value, "capture", step.secret)
                captured[step.capture] = value
            for name in dict.fromkeys(k for h in runs if h.result for k in h.result.outputs):
                values = {n: h.result.outputs.get(name) for n, h in hosts.items() if h.result}
                value = values if multi else values[runs[0].target.name]
                self._set_var(name, value, "output", looks_secret(name))
                captured[name] = value
        event: dict[str, Any] = {
            "exit_code": _exit_code(runs), "attempts": attempts,
            "duration_s": round(time.monotonic() - started, 3), "captured": captured,
            "session": self._sessions(runs),
        }
        if multi:
            event["hosts"] = {n: {k: r[k] for k in ("status", "exit_code", "duration_s")}
                              for n, r in per_host.items()}
        if reason:
            event["reason"] = reason
        self._finish(step, status, **event)

    def _sessions(self, runs: list[HostRun]) -> dict[str, Any]:
        sessions: dict[str, Any] = {}
        for run in runs:
            if run.result is not None and run.result.status != "error":
                session = self._runner(run.target).session
                # a step that exported DB_PASSWORD=...: mask it from now on (and in this event)
                for name, value in session.env.items():
                    if value and looks_secret(name):
                        self.redactor.add(value)
                sessions[run.target.name] = session.as_dict()
        return sessions


def _judge(step: Step, target: HostTarget, result: Result) -> HostRun:
    """Did this attempt succeed on this host: exit code, ``expect``, ``extract``."""
    if result.status in ("timeout", "interrupted", "error"):
        return HostRun(target, result.status, result, result.error or result.status)
    if result.exit_code != step.expect_exit:
        reason = f"exit code {result.exit_code}"
        if step.expect_exit:
            reason += f", expected {step.expect_exit}"
        return HostRun(target, "failed", result, reason)
    try:
        if step.expect and not re.search(step.expect, result.stdout + result.stderr, re.M):
            return HostRun(target, "failed", result, f"output does not match expect {step.expect}")
        capture = None
        if step.capture:
            capture = result.stdout.strip()
            if step.extract:
                match = re.search(step.extract, result.stdout, re.M)
                if match is None:
                    return HostRun(target, "failed", result, f"extract {step.extract} not found")
                capture = match.group(1) if match.re.groups else match.group(0)
    except re.error as exc:
        return HostRun(target, "failed", result, f"bad regular expression: {exc}")
    return HostRun(target, "ok", result, capture=capture)


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


def _host_result(run: HostRun) -> dict[str, Any]:
    result = run.result
    return {
        "status": run.status, "exit_code": result.exit_code if result else None,
        "duration_s": round(result.duration_s, 3) if result else 0.0,
        "stdout": result.stdout if result else "", "stderr": result.stderr if result else "",
        "capture": run.capture, "reason": run.reason,
    }

