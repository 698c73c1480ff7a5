"""One Runner interface for every target, and the one template method that runs a step on any.

A runner starts a step as a ``Process`` (the small protocol below: read ready output, exited,
return code, signal the group, group alive, close); ``Runner.run`` owns everything else once: the
step loop, timeout, cancel (SIGINT, then SIGTERM, then SIGKILL, on the whole process group),
draining output after exit, exit-code normalisation and the Result. The design follows invoke's
``Runner`` (fabric's ``Remote`` only fills in how to start, read and signal).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

from ..outputs import StepOutput

Stream = Literal["stdout", "stderr"]
Status = Literal["ok", "failed", "timeout", "interrupted", "error"]
#: called for every chunk of output as it arrives (text decoded as UTF-8 with replacement)
OutputCallback = Callable[[Stream, str], None]

# How a step is stopped, for every runner: SIGINT, then SIGTERM, then SIGKILL, this far apart.
GRACE_S = 2.0
KILL_WAIT_S = 1.0  # after SIGKILL: how long to wait for the group before giving up on it
POLL_S = 0.05  # how often cancel is checked while a step runs quietly
DRAIN_S = 0.5  # keep reading this long after exit while a background job holds the output open

# Names a shell sets by itself; they are never part of a session's carried environment.
SHELL_OWNED_VARS = frozenset(
    {"_", "PWD", "OLDPWD", "SHLVL", "BASH_EXECUTION_STRING", "RUNBOOK_STEP", "RUNBOOK_OUTPUT",
     "RUNBOOK_RUN_ID", "RUNBOOK_STATE"}
)


@functools.cache
def keep_chunk_memory() -> None:
    """Ask glibc to serve chunk-sized buffers from the heap and keep freed memory a while.

    Each chunk of output is a few short-lived buffers of up to 1 MiB (read, decoded, encoded for
    the screen and the transcript); by default glibc maps and unmaps each, and every page of every
    chunk faults anew: some 700,000 page faults and a second of system time per GB. With these
    two settings the same run takes about 10,000, for a few MiB more resident memory."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 8 * 1024 * 1024)
        libc.mallopt(_M_TRIM_THRESHOLD, 32 * 1024 * 1024)
    except (OSError, AttributeError):  # not glibc: its allocator is left as it is
        pass


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


class TargetError(Exception):
    """A target cannot be reached or refused us; str() is one line starting with ``host: ``."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.message = message


@dataclass
class Session:
    """What carries over between steps on one target, like a terminal: cwd and exported env."""

    cwd: str | None = None
    # variables the steps exported (value) or unset (None), relative to the runner's base env
    env: dict[str, str | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"cwd": self.cwd, "env": dict(self.env)}


@dataclass(frozen=True)
class Command:
    """Everything a runner needs to run one step once."""

    code: str  # the rendered code
    step_id: str
    run_id: str
    shell: str = "bash"
    interpreter: str | None = None  # when set: run this shell command, feed ``code`` on stdin
    cwd: str | None = None  # step-level cwd (relative to the session cwd)
    env: Mapping[str, str] = field(default_factory=dict)  # step-level env, not carried over
    timeout: float | None = None
    interactive: bool = False  # hand the terminal over (pty)
    sudo: bool = False
    user: str | None = None
    attempt_id: str = ""  # this attempt's id (its ``step_started``), in its body-ended record
    #: a hint: a later step of the plan runs on this target too (the remote shell forks the
    #: next step's processes ahead of it; without, they are forked when a step comes)
    more_follow: bool = True


@dataclass
class Result:
    """What one attempt of a command produced."""

    exit_code: int | None  # None when killed before it exited
    status: Status
    duration_s: float
    stdout: str = ""  # head+tail kept in memory (see OutputBuffer); full text spilled to disk
    stderr: str = ""
    stdout_truncated: int = 0  # bytes left out of ``stdout`` (kept on disk when spilled)
    stderr_truncated: int = 0
    outputs: dict[str, str] = field(default_factory=dict)  # from $RUNBOOK_OUTPUT
    error: str | None = None  # one-line reason for status "error" (e.g. connection lost)


Chunk = tuple[Stream, bytes]


class ProcessLost(Exception):
    """The way to a running step is gone (the connection dropped): the Result is "error"."""


class Process(ABC):
    """One started step: the small protocol each runner implements and ``Runner.run`` drives.

    Nothing here loops, times out or escalates; a Process only moves bytes and delivers signals.
    Any method may raise ProcessLost.
    """

    @abstractmethod
    def read(self, wait: float) -> list[Chunk]:
        """Output ready now, in arrival order; block up to ``wait`` s for output or exit first."""

    @property
    @abstractmethod
    def reading(self) -> bool:
        """True while a stream may still produce output (not at end of file)."""

    @abstractmethod
    def exited(self) -> bool:
        """The step's shell (its process group leader) has exited. Does not block."""

    @abstractmethod
    def returncode(self) -> int | None:
        """Its exit status once exited: negative when killed by that signal, None when unknown."""

    @abstractmethod
    def signal(self, sig: signal.Signals) -> None:
        """Deliver ``sig`` to the step's whole process group (the remote one for SSH)."""

    @abstractmethod
    def group_alive(self) -> bool:
        """Some process of the step's group still runs (background jobs included)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release pipes, channels, the terminal. Called once, whatever happened."""


def exit_code(raw: int | None, stopped: bool) -> int | None:
    """The exit code as a shell reports it: killed by signal N is 128+N. A step that we stopped
    and that died of a signal has none (it did not exit)."""
    if raw is None:
        return None
    code = 128 - raw if raw < 0 else raw
    return None if stopped and code > 128 else code


class _Escalation:
    """Stopping a step, the same for every runner: SIGINT the group, SIGTERM after GRACE_S, SIGKILL
    after another GRACE_S, give up KILL_WAIT_S later. Once the step's shell is gone after SIGINT,
    what is left are background jobs, which a non-interactive bash starts with SIGINT ignored:
    SIGTERM follows at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)

    def __init__(self, process: Process, now: float) -> None:
        self.process = process
        self.stage = 0
        process.signal(self.SIGNALS[0])
        self.next_at = now + GRACE_S

    def advance(self, now: float, leader_gone: bool) -> None:
        last = len(self.SIGNALS) - 1
        early = self.stage == 0 and leader_gone and self.process.group_alive()
        if self.stage < last and (now >= self.next_at or early):
            self.stage += 1
            self.process.signal(self.SIGNALS[self.stage])
            self.next_at = now + (GRACE_S if self.stage < last else KILL_WAIT_S)

    def given_up(self, now: float) -> bool:
        return self.stage == len(self.SIGNALS) - 1 and now >= self.next_at


def drive(process: Process, command: Command, cancel: threading.Event,
          feed: Callable[[Stream, bytes], None]) -> Status | None:
    """The step loop: feed output until the step exited and its output ended (or stayed open
    DRAIN_S longer, held by a background job); on cancel or timeout stop the whole group and wait
    until it is gone. Returns "interrupted", "timeout" or None."""
    deadline = None if command.timeout is None else time.monotonic() + command.timeout
    how: Status | None = None
    stop: _Escalation | None = None
    exited_at: float | None = None
    while True:
        now = time.monotonic()
        if exited_at is None and process.exited():
            exited_at = now
        if stop is None:
            if cancel.is_set():
                how = "interrupted"
            elif deadline is not None and now >= deadline and exited_at is None:
                # a step that ended in time is not timed out while we read what it left
                how = "timeout"
            if how is not None:
                stop = _Escalation(process, now)
        if (exited_at is not None and (not process.reading or now - exited_at > DRAIN_S)
                and (stop is None or not process.group_alive())):
            break
        wait = POLL_S
        if stop is not None:
            if stop.given_up(now):
                break
            stop.advance(now, exited_at is not None)
        elif deadline is not None and exited_at is None:
            wait = max(0.0, min(wait, deadline - now))
        for stream, data in process.read(wait):
            feed(stream, data)
    return how


class Runner(ABC):
    """Runs commands on one target, keeping that target's Session between commands.

    Subclasses say how to ``start`` a step and how to ``finish`` it (carry its session, read its
    outputs); ``run`` is the template method that does the rest the same way for every target.
    """

    name: str = "local"
    spill_dir: str | None = None  # when set: the middle of a large output is kept here

    def __init__(self) -> None:
        self.session = Session()
        self._spills = 0

    def connect(self) -> None:  # noqa: B027 - optional hook
        """Open what the runner needs (SSH connection). Raises TargetError."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""

    @abstractmethod
    def start(self, command: Command) -> Process:
        """Start ``command`` in ``self.session``. Raises TargetError, ProcessLost or OSError."""

    @abstractmethod
    def finish(self, command: Command, process: Process) -> dict[str, str]:
        """After the step: carry its cwd/env into ``self.session``; return its $RUNBOOK_OUTPUT."""

    def code_first_line(self, command: Command) -> int:
        """The line on which bash runs the step's first line, as bash's own errors number it
        (``bash: line N:``); 0 when bash does not run the code itself (no renaming)."""
        return 0

    def lost(self) -> None:  # noqa: B027 - optional hook
        """The way to the target broke (ProcessLost): forget it, so the next step reconnects."""

    def run(self, command: Command, on_output: OutputCallback, cancel: threading.Event) -> Result:
        """Run once. Streams output through ``on_output``; updates ``self.session``.

        ``cancel`` set by another thread (Ctrl-C) stops the command's whole process group:
        SIGINT, then SIGTERM, then SIGKILL after a grace period; the Result is "interrupted".
        A timeout does the same and gives "timeout". Set before the start, nothing runs.
        """
        started = time.monotonic()
        if cancel.is_set():
            return Result(None, "interrupted", 0.0)
        try:
            process = self.start(command)
        except TargetError as exc:
            return Result(None, "error", time.monotonic() - started, error=exc.message)
        except ProcessLost as exc:
            self.lost()
            return Result(None, "error", time.monotonic() - started, error=str(exc))
        except OSError as exc:
            return Result(None, "error", time.monotonic() - started, error=str(exc))
        keep_chunk_memory()
        output = StepOutput(cast(Callable[[str, str], None], on_output), self._spill(command))
        try:
            try:
                how = drive(process, command, cancel, output.feed)
                code = exit_code(process.returncode(), how is not None)
            finally:
                process.close()
                for stream in output.buffers:
                    output.feed(stream, b"", final=True)  # a split character at the very end
                output.close()
            outputs = self.finish(command, process)
        except ProcessLost as exc:
            self.lost()
            return _result(output, None, "error", started, error=str(exc))
        return _result(output, code, how or ("ok" if code == 0 else "failed"), started, outputs)

    def _spill(self, command: Command) -> Callable[[str], str | None]:
        def path(stream: str) -> str | None:
            if self.spill_dir is None:
                return None
            self._spills += 1
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in command.step_id)
            return os.path.join(self.spill_dir, f"{safe}-{self._spills}.{stream}")

        return path


def _result(output: StepOutput, code: int | None, status: Status, started: float,
            outputs: dict[str, str] | None = None, error: str | None = None) -> Result:
    out, err = output.buffers["stdout"], output.buffers["stderr"]
    return Result(
        exit_code=code, status=status, duration_s=time.monotonic() - started,
        stdout=out.text(), stderr=err.text(), stdout_truncated=out.truncated,
        stderr_truncated=err.truncated, outputs=outputs or {}, error=error,
    )
