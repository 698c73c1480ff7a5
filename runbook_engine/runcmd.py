"""`runbook run` wiring: load, resolve targets, choose a controller, open the transcript, run."""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .events import Operator
from .load import Loaded, Selection
from .model import HostTarget, Problem, Runbook, RunbookError, Step, UsageError
from .runners.base import Runner
from .state import RunState
from .termination import Termination

if TYPE_CHECKING:
    from .checking import Reference
    from .control import Controller
    from .engine import Engine, RunOutcome
    from .hostlimit import HostLimit
    from .recording import Observer, Recorder
    from .runners.ended import BodyEnded

EXIT_USAGE = 2


def operator() -> Operator:
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
    return Operator(login=login, git_name=git_name)


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
    limit: str | None = None  # --limit PATTERN: only these hosts
    output: str = "fold"  # fold: a fan-out step's output folded by host when it ends; stream


class Runners:
    """One runner per target for the whole run; SSH is imported only when a host is remote.
    ``hold``: open files a local runner's reaper keeps open until the steps of a run that died
    are stopped (the transcript, whose lock then keeps a resume waiting)."""

    def __init__(self, request: RunRequest, hold: tuple[int, ...] = (),
                 ended: str | None = None) -> None:
        self.request = request
        self.hold = hold
        self.ended = ended  # the local steps' body-ended record (runners/ended.py)
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

            return LocalRunner(hold=self.hold, ended=self.ended)
        from .runners.ssh import SSHRunner

        ask = self._secret_prompt
        return SSHRunner(
            target,
            ssh_config_path=self.request.ssh_config,
            accept_new_host_keys=self.request.accept_new_host_keys,
            ask_pass=ask if self.request.ask_pass else None,
            passphrase_prompt=ask,
            sudo_password_prompt=ask,
            interactive_prompt=ask,  # keyboard-interactive (PAM, one-time codes), as ssh asks
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


#: problems a run does not refuse: a value nothing defines is asked for when a step needs it
ASKED_AT_RUN_TIME = frozenset({"RB210"})


def execute(request: RunRequest) -> int:
    """Run a runbook; returns the exit code. Every refusal happens before the transcript is
    opened, so a refused run writes nothing."""
    if not request.yes and not sys.stdin.isatty():
        raise UsageError("runbook run: standard input is not a terminal; pass --yes to run "
                         "unattended")
    loaded, state, overrides = prepare(request)
    code = _preflight(request, loaded, state)
    if code is not None:
        return code
    return _run(request, loaded, state, overrides)


def prepare(request: RunRequest) -> tuple[Loaded, RunState, tuple[str, ...]]:
    """The runbook loaded and, with --resume, the run so far: what a session starts from.
    Refuses (before anything is written) a runbook with errors and a transcript that does not
    continue it."""
    from .load import load

    loaded = load(request.book, request.var_items, request.selection)
    for warning in loaded.warnings():
        print(warning, file=sys.stderr)
    if request.limit:  # a step left without a host is not selected (nor asked about)
        limit, targets_for = host_targets(request, loaded)
        loaded = replace(loaded, steps=limit.steps(loaded.steps, targets_for))
    overrides = _refuse_problems(loaded, request.force)
    state = RunState()
    if request.resume_path:
        state, more = _resumed_state(request, loaded)
        overrides += more
    return loaded, state, tuple(overrides)


def host_targets(request: RunRequest, loaded: Loaded
                 ) -> tuple[HostLimit, Callable[[Step], list[HostTarget]]]:
    """The --limit read against the runbook and its inventory, and each step's targets in it."""
    from .hostlimit import host_limit
    from .targets import resolve_targets

    inventory = None
    if request.inventory:
        from .inventory import load_inventory

        inventory = load_inventory(request.inventory)
    limit = host_limit(request.limit, loaded.runbook, loaded.steps, inventory)

    def targets_for(step: Step) -> list[HostTarget]:
        return limit.targets(resolve_targets(loaded.runbook, step.on, inventory))

    return limit, targets_for


def _refuse_problems(loaded: Loaded, force: bool) -> list[str]:
    """Error-level problems of the runbook (those ``lint`` reports from the parser and the graph)
    refuse the run, each named with path:line; with --force they are what the run overrode."""
    problems = sorted((p for p in (*loaded.runbook.problems, *loaded.graph.problems)
                       if p.severity == "error" and p.code not in ASKED_AT_RUN_TIME),
                      key=lambda p: (p.path, p.line, p.column))
    lines = [_where(p) for p in problems]
    if problems and not force:
        lines.append(f"runbook run: {len(problems)} error(s) in the runbook; fix them, or pass "
                     "--force to run anyway")
        raise RunbookError("\n".join(lines))
    return lines


def _where(problem: Problem) -> str:
    return f"{problem.path}:{problem.line}: {problem.message}"


def _resumed_state(request: RunRequest, loaded: Loaded) -> tuple[RunState, list[str]]:
    from .transcript.lock import check_free
    from .transcript.resume import changed_finished_steps, check_same_runbook, load_state

    assert request.resume_path is not None
    check_free(request.resume_path)  # another run writes it, or a dead run's steps still stop
    state, warnings = load_state(request.resume_path)
    check_same_runbook(state, loaded.runbook, request.resume_path)
    if state.running is not None:
        warnings.append(_cut_warning(request.resume_path, state, loaded.runbook))
    for warning in warnings:  # a torn last line, a secret that must be set again, a step cut
        print(warning, file=sys.stderr)
    changed = changed_finished_steps(state, loaded.runbook) \
        if state.sha256 != loaded.runbook.sha256 else []
    if not changed:
        return state, []
    names = ", ".join(f"{s.id} ({s.location})" for s in changed)
    if not request.force:
        raise RunbookError(f"the runbook changed since this run; finished steps changed: "
                           f"{names}; pass --force to resume anyway", loaded.runbook.path)
    return state, [f"finished steps changed since they ran: {names}"]


def body_ended(state: RunState, transcript: str | Path) -> BodyEnded | None:
    """--resume: the record a local step's shell left when its body ended, if the step the
    earlier session ended in is one whose body ended (runners/ended.py); else None."""
    from .runners.ended import read_ended
    from .transcript.sidefiles import ended_path

    running = state.running
    if running is None or running.hosts not in ((), ("local",)):
        return None  # a remote step's shell is on its host: at least once (docs/cli.md)
    return read_ended(str(ended_path(Path(transcript))), running.attempt_id)


def _cut_warning(transcript: str, state: RunState, runbook: Runbook) -> str:
    """What --resume says of the step the earlier session ended in without its result."""
    assert state.running is not None
    name, ended = state.running.step, body_ended(state, transcript)
    if ended is None:
        return (f"{transcript}: step '{name}' was running when the earlier session ended "
                "without its result (killed?); it was stopped with it, and runs again from its "
                "start")
    head = (f"{transcript}: step '{name}' finished as the earlier session ended, before its "
            f"result was recorded (exit code {ended.exit_code})")
    step = next((s for s in runbook.steps if s.id == name), None)
    if step is not None and ended.exit_code != step.expect_exit:
        return f"{head}: its failure is recorded from its shell's record, and it runs again"
    return (f"{head}: it is not run again; its result is recorded from its shell's record (its "
            "output in the transcript may be cut short)")


def _preflight(request: RunRequest, loaded: Loaded, state: RunState) -> int | None:
    """--yes cannot ask: refuse up front what it would have to ask, or run unasked."""
    from .inputs import dangerous_steps, missing_inputs

    if not request.yes:
        return None
    missing = missing_inputs(loaded.steps, state, loaded.variables)
    if missing:
        lines = [f"{step.location}: step '{step.id}' needs {name}: pass --var {name}=VALUE"
                 for step, name in missing]
        print("\n".join(lines), file=sys.stderr)
        return 2
    if request.allow_danger:
        return None
    dangerous = dangerous_steps(loaded.steps, state, loaded.variables, request.selection.only)
    if dangerous:
        lines = [f"{step.location}: step '{step.id}' is dangerous: {'; '.join(reasons)}"
                 for step, reasons in dangerous]
        lines.append(f"refusing to run {len(dangerous)} dangerous step(s) with --yes; "
                     "pass --allow-danger to run them")
        print("\n".join(lines), file=sys.stderr)
        return 1
    return None


def _run(request: RunRequest, loaded: Loaded, state: RunState, overrides: tuple[str, ...]) -> int:
    from .control import AutoController
    from .events import Note
    from .ui.console import make_console
    from .ui.display import TerminalDisplay

    path = transcript_path(request, loaded.runbook.path)
    console = make_console()
    display = TerminalDisplay(console, state=state, unattended=request.yes,
                              fold=request.output == "fold")

    def controller(emit: Recorder) -> Controller:
        if request.yes:
            return AutoController()
        from .ui.interactive import InteractiveController

        return InteractiveController(console, sys.stdin, display=display,
                                     note=lambda text, step: emit(Note(step=step, text=text)))

    finished = False
    try:
        outcome = run_loaded(request, loaded, state, path=path, display=display,
                             controller=controller, overrides=overrides,
                             terminal=sys.stdin.isatty())  # else interactive=true cannot run
        finished = outcome.status == "ok"
    finally:
        display.close()  # the output still on its way to the screen comes before what follows
        if not finished:  # quit, Ctrl-C, a failed step, an unreachable host...
            print(f"to resume: {resume_command(request, path)}", file=sys.stderr)
    return outcome.exit_code


def transcript_path(request: RunRequest, runbook_path: str) -> Path:
    """Where this session writes: --transcript, the resumed file, or a new file in the folder."""
    from .transcript.log import default_transcript_path

    if request.transcript_path:
        return Path(request.transcript_path)
    if request.resume_path:
        return Path(request.resume_path)
    return default_transcript_path(runbook_path, request.transcript_dir)


def run_loaded(request: RunRequest, loaded: Loaded, state: RunState, *, path: Path,
               display: Observer | None, controller: Callable[[Recorder], Controller],
               overrides: tuple[str, ...] = (), against: Reference | None = None,
               skip_if: Callable[[Step], str | None] | None = None,
               kept: Sequence[Observer] = (), terminal: bool = True,
               started: Callable[[Engine], None] | None = None) -> RunOutcome:
    """Run the loaded steps with a transcript at ``path``: targets, options, the recorder, the
    engine (``run``, ``test`` and ``serve`` all come here); the runners and the transcript are
    closed. ``display`` sees every event as it happens, ``kept`` each recorded one once it is
    applied to the state; ``terminal``: a step that needs a terminal can have this one;
    ``started`` is given the engine before it runs (a web page stops its running step)."""
    from .engine import Engine, RunOptions, RunPlan
    from .recording import Recorder
    from .redact import Redactor
    from .transcript.log import TranscriptWriter, discard_reserved
    from .transcript.sidefiles import ended_path

    runbook = loaded.runbook
    try:
        limit, targets_for = host_targets(request, loaded)
        writer = TranscriptWriter(path, append=bool(request.resume_path))
    except BaseException:  # refused before the run started: leave no empty transcript behind
        if not request.resume_path:
            discard_reserved(path)
        raise
    selection = request.selection.recorded(runbook.granularity)
    if request.limit:
        selection = {**selection, "limit": request.limit}
    options = RunOptions(
        run_id=state.run_id or uuid.uuid4().hex[:12], yes=request.yes,
        allow_danger=request.allow_danger, continue_on_error=request.continue_on_error,
        forks=request.forks, selection=selection,
        only=request.selection.only, operator=operator(), hostname=socket.gethostname(),
        version=__version__, transcript=str(path), overrides=overrides, terminal=terminal,
        ended=body_ended(state, path) if request.resume_path else None)
    emit = Recorder(state, writer, Redactor(), display=display, kept=kept)
    ended = os.path.abspath(ended_path(path))  # the local steps' body-ended record
    runners = Runners(request, hold=(writer.fileno(),), ended=ended)
    plan = RunPlan(runbook, tuple(limit.steps(loaded.steps, targets_for)), targets_for,
                   loaded.variables, against=against, skip_if=skip_if)
    termination = Termination()  # SIGTERM and SIGHUP end the run as Ctrl-C does under --yes
    engine = Engine(plan, options, state=state, emit=emit,
                    controller=termination.controller(controller(emit)), runners=runners,
                    environ=os.environ)
    if started is not None:
        started(engine)
    try:
        with termination.handled():
            outcome = engine.run()
        outcome.exit_code = termination.exit_code or outcome.exit_code
        return outcome
    finally:
        runners.close()
        with contextlib.suppress(OSError):  # every result is recorded (or never will be)
            os.unlink(ended)
        writer.close()  # last: its lock keeps any other run off the record until then


def resume_command(request: RunRequest, transcript: Path, verb: str = "run") -> str:
    """The command that continues this run where it stopped (secret values are asked again);
    ``verb``: ``serve`` continues it in a browser."""
    words = ["runbook", verb, request.book, "--resume", str(transcript)]
    selection = request.selection
    for flag, values in (("--only", selection.only), ("--tag", selection.tags),
                         ("--section", selection.sections)):
        for item in values:
            words += [flag, item]
    options: tuple[tuple[str, str | None], ...] = (
        ("--from", selection.from_), ("--until", selection.until),
        ("--granularity", selection.granularity),
        ("--inventory", request.inventory), ("--ssh-config", request.ssh_config),
        ("--limit", request.limit), ("--output", request.output if request.output != "fold"
                                     else None))
    for flag, value in options:
        if value:
            words += [flag, value]
    if request.forks != 10:
        words += ["--forks", str(request.forks)]
    for flag, on in (("--yes", request.yes), ("--allow-danger", request.allow_danger),
                     ("--continue-on-error", request.continue_on_error),
                     ("--accept-new-host-keys", request.accept_new_host_keys),
                     ("--ask-pass", request.ask_pass)):
        if on:
            words.append(flag)
    return shlex.join(words)
