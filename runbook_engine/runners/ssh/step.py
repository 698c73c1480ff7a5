"""Pumping one step's channel: output, cancel/timeout, the epilogue; and the interactive relay."""

from __future__ import annotations

import codecs
import os
import select
import sys
import termios
import threading
import time
import tty
from typing import TYPE_CHECKING

import paramiko

from ...outputs import OutputBuffer, StepOutput
from ..base import Command, OutputCallback, Result
from .protocol import DRAIN_S, GRACE_S, POLL_S, Frames

if TYPE_CHECKING:
    from .runner import SSHRunner


def relay(
    chan: paramiko.Channel, command: Command, out: OutputBuffer, on_output: OutputCallback,
    cancel: threading.Event, start: float,
) -> str | None:
    """Terminal <-> channel until the remote exits; Ctrl-C/timeout send ^C, then hang up."""
    local = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
    saved = termios.tcgetattr(local) if local is not None else None
    if local is not None:
        tty.setraw(local)
    deadline = None if command.timeout is None else start + command.timeout
    how: str | None = None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    watch = [chan] if local is None else [chan, local]
    try:
        while not chan.exit_status_ready() or chan.recv_ready():
            expired = deadline is not None and time.monotonic() > deadline
            if how is None and (cancel.is_set() or expired):
                how = "interrupted" if cancel.is_set() else "timeout"
                chan.send(b"\x03")  # Ctrl-C on the remote terminal; closing it hangs up
                deadline = time.monotonic() + GRACE_S
            elif how is not None and expired:
                break
            ready, _, _ = select.select(watch, [], [], POLL_S)
            if chan.recv_ready():
                data = chan.recv(65536)
                out.write(data)
                os.write(sys.stdout.fileno(), data)
                on_output("stdout", decoder.decode(data))
            if local is not None and local in ready:
                chan.send(os.read(local, 1024))
            if chan.closed and not chan.exit_status_ready():
                raise EOFError("connection lost")
    finally:
        if saved is not None and local is not None:
            termios.tcsetattr(local, termios.TCSADRAIN, saved)
    return how


class StepPump:
    """Pumps one step's channel: output, timeout/cancel, the epilogue, then the Result."""

    def __init__(
        self, runner: SSHRunner, chan: paramiko.Channel, command: Command,
        on_output: OutputCallback, cancel: threading.Event, start: float,
    ) -> None:
        self.runner, self.chan, self.command = runner, chan, command
        self.on_output, self.cancel, self.start = on_output, cancel, start
        self.frames = Frames(runner._mark_bytes)
        self.output = StepOutput(on_output)  # type: ignore[arg-type]
        self.buffers = self.output.buffers
        self._emit = self.output.feed

    def _read(self) -> None:
        chan = self.chan
        while chan.recv_ready():
            self._emit("stdout", chan.recv(65536))
        while chan.recv_stderr_ready():
            self._emit("stderr", self.frames.feed(chan.recv_stderr(65536)))

    def pump(self) -> Result:
        chan, command = self.chan, self.command
        deadline = None if command.timeout is None else self.start + command.timeout
        how: str | None = None
        give_up: float | None = None
        exited: float | None = None
        stopper: paramiko.Channel | None = None
        lost = False
        while True:
            now = time.monotonic()
            if how is None and (self.cancel.is_set() or deadline is not None and now >= deadline):
                how = "interrupted" if self.cancel.is_set() else "timeout"
                give_up = now + 2 * GRACE_S + 2.0
            if how is not None and stopper is None and self.frames.pid is not None:
                stopper = self.runner.stop_remote(self.frames.pid)  # once the pid has arrived
            self._read()
            if chan.exit_status_ready():
                exited = exited or now
                if chan.eof_received or now - exited > DRAIN_S:
                    self._read()
                    break
            if chan.closed and not chan.recv_ready() and not chan.recv_stderr_ready():
                lost = not chan.exit_status_ready()
                break
            if give_up is not None and now > give_up:
                break
            if chan.eof_received:
                chan.status_event.wait(POLL_S)  # EOF came first: wait for the exit status only
            else:
                wait = POLL_S if deadline is None or how else max(0.0, min(POLL_S, deadline - now))
                select.select([chan], [], [], wait)
        self._emit("stderr", self.frames.flush(), final=True)
        self._emit("stdout", b"", final=True)
        code = chan.recv_exit_status() if chan.exit_status_ready() else None
        chan.close()
        if stopper is not None:
            stopper.close()
        self.output.close()
        if how is None and code in (None, -1) and self.frames.state_and_outputs() is None:
            lost = lost or self._transport_died()  # no exit status and no epilogue
        duration = time.monotonic() - self.start
        if lost:
            self.runner._drop()
            return self._result(None, "error", duration, {}, error="connection lost")
        outputs = self.runner.finish(command, self.frames)
        code = None if code is None or code < 0 or (how and code > 128) else code
        return self._result(code, how or ("ok" if code == 0 else "failed"), duration, outputs)

    def _transport_died(self) -> bool:
        """The step ended without its epilogue: was it the connection (sshd killed) or a signal?"""
        transport = self.runner._chain[-1] if self.runner._chain else None
        end = time.monotonic() + 0.5
        while transport is not None and transport.is_active() and time.monotonic() < end:
            time.sleep(0.02)
        return transport is None or not transport.is_active()

    def _result(
        self, code: int | None, status: str, duration: float, outputs: dict[str, str],
        error: str | None = None,
    ) -> Result:
        out, err = self.buffers["stdout"], self.buffers["stderr"]
        return Result(
            exit_code=code, status=status, duration_s=duration,  # type: ignore[arg-type]
            stdout=out.text(), stderr=err.text(), stdout_truncated=out.truncated,
            stderr_truncated=err.truncated, outputs=outputs, error=error,
        )
