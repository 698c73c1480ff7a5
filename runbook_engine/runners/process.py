"""Local steps as Processes: pipes read through one selector, process groups signalled by pgid."""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import IO

from .base import KILL_WAIT_S, Chunk, Process, Stream

# Output is read in chunks of up to READ_BYTES from pipes widened to PIPE_BYTES (Linux's default
# for unprivileged users), so a fast step keeps writing while we process the last chunk.
READ_BYTES = 1024 * 1024
PIPE_BYTES = 1024 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def widen_pipe(fd: int) -> None:
    """Give the pipe (or FIFO) behind ``fd`` PIPE_BYTES of buffer where the system allows."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_BYTES)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """``sig`` to every process of the group; a group already gone (or not ours) is no error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """Some process of the group is still running; zombies do not count (a killed background job
    stays one until init reaps it, which some container inits are slow to do)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process (a sudo step): still there
        pass
    return _running_member(pgid)


def _running_member(pgid: int) -> bool:
    try:
        names = os.listdir("/proc")
    except OSError:  # no procfs: kill(0) is all we know
        return True
    wanted = str(pgid).encode()
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split(b" ", 3)
        if len(fields) > 2 and fields[2] == wanted and fields[0] != b"Z":
            return True
    return False


class Pipes:
    """A step's stdout and stderr fds, read as they become ready, plus one fd that wakes the loop
    when the step exits (a pidfd, or the shell server's reply pipe). ``poll`` keeps the fds in
    our memory: a step costs one system call per wait, none to set up or take down (an epoll
    selector cost eight a step)."""

    _READY = select.POLLIN | select.POLLHUP | select.POLLERR | select.POLLNVAL

    def __init__(self, streams: Mapping[int, Stream], wake: int | None = None) -> None:
        self.poller = select.poll()
        self.open = dict(streams)
        for fd in streams:
            widen_pipe(fd)
            self.poller.register(fd, select.POLLIN)
        self.wake = wake
        if wake is not None:
            self.poller.register(wake, select.POLLIN)

    def read(self, wait: float) -> tuple[list[Chunk], bool]:
        """(output ready, whether the wake fd is readable), after up to ``wait`` s."""
        chunks: list[Chunk] = []
        woke = False
        for fd, events in self.poller.poll(max(0, math.ceil(wait * 1000))):
            if not events & self._READY:
                continue
            if fd == self.wake:
                woke = True
                continue
            stream = self.open.get(fd)
            if stream is None:
                continue
            try:
                data = b"" if events & select.POLLNVAL else os.read(fd, READ_BYTES)
            except BlockingIOError:  # a FIFO's writer closed (POLLHUP) and one opened again
                continue
            if data:
                chunks.append((stream, data))
            else:
                self.poller.unregister(fd)
                del self.open[fd]
        return chunks, woke

    def unwake(self) -> None:
        """Stop watching the wake fd (it stays readable once it fired)."""
        if self.wake is not None:
            self.poller.unregister(self.wake)
            self.wake = None

    def close(self) -> None:
        """Nothing to release: the fds are their owner's (a poll object holds no kernel state)."""


def _pidfd(pid: int) -> int | None:
    """A fd that becomes readable when ``pid`` exits (Linux >= 5.3), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class ChildProcess(Process):
    """A step in a child process of ours that leads its own process group.

    Captured steps get a new session (no controlling terminal: sudo -n and ssh cannot prompt);
    a terminal step (``terminal=True``) is put in the foreground of our terminal instead, its
    output not captured, and the terminal is taken back on close.
    """

    def __init__(
        self, argv: list[str], *, env: Mapping[str, str], cwd: str | None,
        stdin: int | IO[bytes] = subprocess.DEVNULL, terminal: bool = False,
    ) -> None:
        self.tty = our_tty() if terminal else None
        if terminal:
            self.proc = subprocess.Popen(argv, env=env, cwd=cwd, process_group=0,
                                         preexec_fn=_foreground(self.tty))
        else:
            self.proc = subprocess.Popen(
                argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                cwd=cwd, start_new_session=True,
                close_fds=False,  # every fd Python opens is non-inheritable; much faster
            )
        streams: dict[int, Stream] = {}
        if self.proc.stdout is not None and self.proc.stderr is not None:
            streams = {self.proc.stdout.fileno(): "stdout", self.proc.stderr.fileno(): "stderr"}
        self.pidfd = _pidfd(self.proc.pid)
        self.pipes = Pipes(streams, self.pidfd)

    def read(self, wait: float) -> list[Chunk]:
        if self.pidfd is None and not self.pipes.open:  # nothing to select on: wait for the exit
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(wait)
            return []
        chunks, woke = self.pipes.read(wait)
        if woke:
            self.pipes.unwake()
        return chunks

    @property
    def reading(self) -> bool:
        return bool(self.pipes.open)

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def returncode(self) -> int | None:
        return self.proc.returncode

    def signal(self, sig: signal.Signals) -> None:
        signal_group(self.proc.pid, sig)

    def group_alive(self) -> bool:
        return group_alive(self.proc.pid)

    def close(self) -> None:
        self.pipes.close()
        for handle in (self.proc.stdout, self.proc.stderr):
            if handle is not None:
                handle.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
        if self.proc.poll() is None:
            signal_group(self.proc.pid, signal.SIGKILL)  # given up on it: do not leave it behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(KILL_WAIT_S)  # not for ever: a process stuck in the kernel stays stuck
        if self.tty is not None:
            _take_terminal_back(self.tty)


def our_tty() -> int | None:
    return sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None


def _foreground(tty: int | None) -> Callable[[], None] | None:
    """A preexec_fn that makes the child's process group the terminal's foreground group."""
    if tty is None:
        return None

    def preexec() -> None:  # runs in the child, before exec
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
        os.tcsetpgrp(tty, os.getpgrp())
        signal.pthread_sigmask(signal.SIG_SETMASK, old)

    return preexec


def _take_terminal_back(tty: int) -> None:
    # Blocking SIGTTOU (per thread, so this works from the engine's worker thread) lets a
    # background process group take the terminal back without being stopped.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(tty, os.getpgrp())
    except OSError:
        pass
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
