"""Remote steps as Processes: an exec channel with framed stderr, or a pty relayed to a terminal."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import termios
import time
import tty
from collections.abc import Callable

import paramiko

from ..base import Chunk, Process, ProcessLost
from ..process import READ_BYTES, our_tty
from .protocol import Frames

#: what a broken connection raises out of paramiko
FAULTS = (paramiko.SSHException, OSError, EOFError)
LOST = "connection lost"
LOST_WAIT_S = 0.5  # how long a transport may take to notice it died


def transport_died(chan: paramiko.Channel) -> bool:
    """The channel ended without an exit status: was it the connection (sshd killed)?"""
    transport = chan.get_transport()
    end = time.monotonic() + LOST_WAIT_S
    while transport.is_active() and time.monotonic() < end:
        time.sleep(0.02)
    return not transport.is_active()


def wait_for(chan: paramiko.Channel, marker: bytes, timeout: float) -> None:
    """Read (and drop) a pty's output up to ``marker``; ProcessLost when it never comes."""
    seen, end = b"", time.monotonic() + timeout
    while marker not in seen:
        if chan.recv_ready():
            seen = seen[-len(marker):] + chan.recv(READ_BYTES)
        elif chan.closed or chan.eof_received or time.monotonic() > end:
            raise ProcessLost("the remote terminal did not get ready for the sudo password")
        else:
            select.select([chan], [], [], 0.05)


def drain(chan: paramiko.Channel, stdout: Callable[[bytes], bytes] | None,
          stderr: Callable[[bytes], bytes]) -> list[Chunk]:
    """What the channel holds now, each stream through its filter (which takes our frames out)."""
    chunks = list[Chunk]()
    while chan.recv_ready():
        data = chan.recv(READ_BYTES)
        if stdout is not None:
            data = stdout(data)
        if data:
            chunks.append(("stdout", data))
    while chan.recv_stderr_ready():
        data = stderr(chan.recv_stderr(READ_BYTES))
        if data:
            chunks.append(("stderr", data))
    return chunks


class Signaller:
    """Signals a step's remote process group through a second channel, opened at the first signal,
    that runs the signaller (see ``signaller_script``) and exits once the group is gone.
    ``command(pgid, first)`` gives its command and what goes first on its stdin (for a sudo step:
    the same sudo as the step's, and its password, or it could not signal root's processes).
    """

    def __init__(self, transport: paramiko.Transport,
                 command: Callable[[int, str], tuple[str, bytes]], open_timeout: float) -> None:
        self.transport, self.command, self.open_timeout = transport, command, open_timeout
        self.chan: paramiko.Channel | None = None
        self.pending: list[str] = []  # signals asked for before the pid came
        self.asked = False

    def ask(self, sig: signal.Signals, pgid: int | None) -> None:
        self.asked = True
        self.pending.append(sig.name.removeprefix("SIG"))
        with contextlib.suppress(*FAULTS):  # the connection is going: reading notices
            self.send(pgid)

    def send(self, pgid: int | None) -> None:
        """Deliver what was asked for, once the group's id is known."""
        if not self.pending or pgid is None:
            return
        if self.chan is None:
            chan = self.transport.open_session(timeout=self.open_timeout)
            command, stdin = self.command(pgid, self.pending[0])
            chan.exec_command(command)
            if stdin:
                chan.sendall(stdin)
            self.chan = chan
            del self.pending[0]
        if self.pending and not self.chan.exit_status_ready():
            self.chan.sendall("".join(f"{name}\n" for name in self.pending).encode())
        self.pending.clear()

    def group_gone(self) -> bool | None:
        """Whether the group has ended (the signaller exited); None before any signal went."""
        return None if self.chan is None else bool(self.chan.exit_status_ready())

    def wait(self, wait: float) -> None:
        """Up to ``wait`` s for the group's end (just sleep when nothing was signalled)."""
        if self.chan is not None:
            self.chan.status_event.wait(wait)
        else:
            time.sleep(wait)

    def close(self) -> None:
        if self.chan is not None:
            self.chan.close()


class ChannelProcess(Process):
    """A step on one exec channel: stdout as it comes, stderr through Frames (pid, epilogue)."""

    def __init__(self, chan: paramiko.Channel, frames: Frames, signaller: Signaller) -> None:
        self.chan, self.frames, self.signaller = chan, frames, signaller
        self.eof = False

    def _drain(self) -> list[Chunk]:
        return drain(self.chan, None, self.frames.feed)

    def read(self, wait: float) -> list[Chunk]:
        try:
            chunks = self._drain()
            if not chunks and not self.eof:
                if self.chan.eof_received or self.chan.closed:
                    self.eof = True
                    rest = self.frames.flush()  # a held-back tail that was no marker after all
                    chunks = [("stderr", rest)] if rest else []
                else:
                    select.select([self.chan], [], [], wait)
                    chunks = self._drain()
            elif not chunks:
                # At EOF the channel stays readable: wait for its exit, or the group's end.
                if self.chan.status_event.is_set():
                    self.signaller.wait(wait)
                else:
                    self.chan.status_event.wait(wait)
            self.signaller.send(self.frames.pid)
        except FAULTS:
            raise ProcessLost(LOST) from None
        return chunks

    @property
    def reading(self) -> bool:
        return not self.eof

    def exited(self) -> bool:
        return bool(self.chan.exit_status_ready())

    def returncode(self) -> int | None:
        code = int(self.chan.exit_status)
        if code >= 0:
            return code
        # No exit status: killed by a signal (ours, or another), or the connection died.
        unexplained = not self.signaller.asked and self.frames.state_and_outputs() is None
        if unexplained and transport_died(self.chan):
            raise ProcessLost(LOST)
        return None

    def signal(self, sig: signal.Signals) -> None:
        self.signaller.ask(sig, self.frames.pid)

    def group_alive(self) -> bool:
        gone = self.signaller.group_gone()
        if gone is None:  # the pid never came: the channel is all we know of it
            return not self.chan.exit_status_ready()
        return not gone

    def close(self) -> None:
        self.chan.close()
        self.signaller.close()


class PtyProcess(Process):
    """An interactive step on a remote pty: our terminal in raw mode, bytes relayed both ways.

    SIGINT is a Ctrl-C typed on the remote terminal (its foreground group gets it, as at a
    terminal); SIGTERM and SIGKILL hang the terminal up (the remote session gets SIGHUP).
    """

    def __init__(self, chan: paramiko.Channel) -> None:
        self.chan = chan
        self.local = our_tty()
        self.saved = termios.tcgetattr(self.local) if self.local is not None else None
        if self.local is not None:
            tty.setraw(self.local)
        self.hung_up = False
        self.size = self._local_size()

    def _local_size(self) -> os.terminal_size | None:
        if self.local is None:
            return None
        try:
            return os.get_terminal_size(self.local)
        except OSError:
            return None

    def _follow_resize(self) -> None:
        """Our window was resized: the remote pty follows (``resize_pty``, the SIGWINCH of the
        program on it). Polled at each read, so it works from any thread (no signal handler)."""
        size = self._local_size()
        if size is not None and size != self.size:
            self.size = size
            self.chan.resize_pty(width=size.columns, height=size.lines)

    def read(self, wait: float) -> list[Chunk]:
        chan, chunks = self.chan, list[Chunk]()
        try:
            ended = chan.eof_received or chan.closed  # then the channel stays readable
            watch: list[paramiko.Channel | int] = [] if ended else [chan]
            if self.local is not None:
                watch.append(self.local)
            self._follow_resize()
            ready, _, _ = select.select(watch, [], [], wait) if watch else ([], [], [])
            if not watch:
                chan.status_event.wait(wait)
            while chan.recv_ready():
                data = chan.recv(READ_BYTES)
                os.write(sys.stdout.fileno(), data)
                chunks.append(("stdout", data))
            if self.local is not None and self.local in ready and not ended:
                chan.send(os.read(self.local, 1024))
        except FAULTS:
            raise ProcessLost(LOST) from None
        return chunks

    @property
    def reading(self) -> bool:
        return not (self.chan.eof_received or self.chan.closed) or bool(self.chan.recv_ready())

    def exited(self) -> bool:
        return bool(self.chan.exit_status_ready())

    def returncode(self) -> int | None:
        code = int(self.chan.exit_status)
        if code >= 0 and not self.hung_up:
            return code
        if not self.hung_up and transport_died(self.chan):
            raise ProcessLost(LOST)
        return None

    def signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(*FAULTS):  # the connection is going: reading notices
            if sig == signal.SIGINT:
                self.chan.send(b"\x03")
            else:
                self.hung_up = True
                self.chan.close()

    def group_alive(self) -> bool:
        return not self.chan.exit_status_ready()

    def close(self) -> None:
        if self.saved is not None and self.local is not None:
            termios.tcsetattr(self.local, termios.TCSADRAIN, self.saved)
        self.chan.close()
