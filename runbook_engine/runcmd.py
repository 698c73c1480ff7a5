"""`runbook run` wiring: load, resolve targets, choose a controller, open the transcript, run."""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .load import Selection
from .model import HostTarget, RunbookError, Step, UsageError
from .runners.base import Runner

EXIT_USAGE = 2


def operator() -> dict[str, str | None]:
    """Who ran it: login name and git user.name when set."""
    try:
        login = getpass.getuser()
    except Exception:  # no passwd entry in a container: still record something
        login = os.environ.get("USER") or str(os.getuid())
    try:
        git_name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True,
                                  timeout=2).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        git_name = None
    return {"login": login, "git_name": git_name}


@dataclass(frozen=True)
class RunRequest:
    """What ``runbook run`` was asked to do: the typed form of its command line."""

    book: str
    var_items: tuple[str, ...] = ()
    selection: Selection = field(default_factory=Selection)
    yes: bool = False
    allow_danger: bool = False
    continue_on_error: bool = False
    transcript_path: str | None = None
    transcript_dir: str = "transcripts"
    resume_path: str | None = None
    force: bool = False
    inventory: str | None = None
    ssh_config: str | None = None
    accept_new_host_keys: bool = False
    ask_pass: bool = False
    forks: int = 10


class Runners:
    """One runner per target for the whole run; SSH is imported only when a host is remote."""

    def __init__(self, request: RunRequest) -> None:
        self.request = request
        self._runners: dict[str, Runner] = {}
        self._prompt_lock = threading.Lock()  # fan-out threads must not prompt at once

    def __call__(self, target: HostTarget) -> Runner:
        runner = self._runners.get(target.name)
        if runner is None:
            runner = self._make(target)
            runner.connect()
            self._runners[target.name] = runner
        return runner

    def _make(self, target: HostTarget) -> Runner:
        if target.is_local:
            from .runners.local import LocalRunner

            return LocalRunner()
        from .runners.ssh import SSHRunner

        ask = self._secret_prompt
        return SSHRunner(
            target,
            ssh_config_path=self.request.ssh_config,
            accept_new_host_keys=self.request.accept_new_host_keys,
            ask_pass=ask if self.request.ask_pass else None,
            passphrase_prompt=ask,
            sudo_password_prompt=ask,
        )

    def _secret_prompt(self, prompt: str) -> str:
        if not sys.stdin.isatty():
            raise RunbookError(f"{prompt.rstrip(': ')}: no terminal to ask on")
        with self._prompt_lock:
            return getpass.getpass(prompt)

    def close(self) -> None:
        for runner in self._runners.values():
            with contextlib.suppress(Exception):  # closing must never hide the run's result
                runner.close()


def execute(request: RunRequest) -> int:
    """Run a runbook; returns the exit code."""
    from .control import AutoController
    from .engine import Engine, RunOptions
    from .load import load
    from .redact import Redactor
    from .targets import resolve_targets
    from .transcript.log import TranscriptWriter, default_transcript_path
    from .ui.console import make_console

    yes = request.yes
    if not yes and not sys.stdin.isatty():
        raise UsageError("runbook run: standard input is not a terminal; pass --yes to run "
                         "unattended")
    loaded = load(request.book, request.var_items, request.selection)
    runbook = loaded.runbook
    inventory = None
    if request.inventory:
        from .inventory import load_inventory

        inventory = load_inventory(request.inventory)

    redactor = Redactor(v.value for v in loaded.variables.values() if v.secret)
    resume = _load_resume(request, runbook)
    if resume is not None:
        for name, variable in resume.variables.items():
            loaded.variables.setdefault(name, variable)

    console = make_console()
    if yes:
        from .ui.interactive import PlainDisplay

        controller: Any = AutoController(display=PlainDisplay(console))
    else:
        from .ui.interactive import InteractiveController

        controller = InteractiveController(console, sys.stdin)

    def targets_for(step: Step) -> list[HostTarget]:
        return resolve_targets(runbook, step.on, inventory)

    run_id = resume.run_id if resume is not None else uuid.uuid4().hex[:12]
    run_options = RunOptions(run_id=run_id, yes=yes, allow_danger=request.allow_danger,
                             continue_on_error=request.continue_on_error, forks=request.forks,
                             selection=request.selection.recorded(runbook.granularity),
                             only=request.selection.only)
    runners = Runners(request)
    if request.transcript_path:
        path = Path(request.transcript_path)
    elif request.resume_path:
        path = Path(request.resume_path)
    else:
        path = default_transcript_path(runbook.path, request.transcript_dir)

    engine = Engine(
        loaded.graph, loaded.steps, controller=controller, sinks=[],
        targets_for=targets_for, runner_for=runners, variables=loaded.variables,
        options=run_options, redactor=redactor, environ=dict(os.environ), resume=resume,
    )
    if yes:
        missing = engine.missing_inputs()
        if missing:
            lines = [f"{step.location}: step '{step.id}' needs {name}: pass --var {name}=VALUE"
                     for step, name in missing]
            print("\n".join(lines), file=sys.stderr)
            return 2
    if yes and not run_options.allow_danger:
        dangerous = engine.dangerous_steps()
        if dangerous:
            lines = [f"{step.location}: step '{step.id}' is dangerous: {'; '.join(reasons)}"
                     for step, reasons in dangerous]
            lines.append(f"refusing to run {len(dangerous)} dangerous step(s) with --yes; "
                         "pass --allow-danger to run them")
            print("\n".join(lines), file=sys.stderr)
            return 1
    writer = TranscriptWriter(path, append=resume is not None)
    engine.sinks.append(writer)
    engine.run_info = {"operator": operator(), "hostname": socket.gethostname(),
                       "version": __version__, "transcript": str(path),
                       "forced": request.force and resume is not None}
    try:
        outcome = engine.run()
    finally:
        runners.close()
        writer.close()
    return outcome.exit_code


def _load_resume(request: RunRequest, runbook: Any) -> Any:
    if not request.resume_path:
        return None
    from .transcript.resume import changed_finished_steps, load_resume_state

    state = load_resume_state(request.resume_path)
    for warning in state.warnings:  # a torn last line, a secret that must be asked again
        print(warning, file=sys.stderr)
    if state.sha256 != runbook.sha256:
        changed = changed_finished_steps(state, runbook)
        if changed and not request.force:
            names = ", ".join(f"{s.id} ({s.location})" for s in changed)
            raise RunbookError(f"the runbook changed since this run; finished steps changed: "
                               f"{names}; pass --force to resume anyway", runbook.path)
    state.forced = request.force and state.sha256 != runbook.sha256
    return state
