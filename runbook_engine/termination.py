"""SIGTERM and SIGHUP end a run the way Ctrl-C ends one under --yes: the step in flight is stopped
(its whole process group), its result and the run's end are recorded, the resume command is
printed, and ``runbook`` exits with the signal's conventional code (128 + N: 143, 129).

The signal is turned into the Ctrl-C the engine already handles (the SIGINT handler in force:
the running step's stop, or KeyboardInterrupt at a prompt or between steps); a question asked
after that (what to do about the stopped step) is answered by ending the run, since nobody is
there to answer it. A hang-up that closed our terminal also points our standard streams at
/dev/null, so the end of the run is still recorded rather than lost to a write error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
from collections.abc import Iterator
from typing import Any, cast

from .control import Controller

#: the signals handled, and the exit code each gives
SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Termination:
    """Which signal ended the run (None: none did)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def exit_code(self) -> int | None:
        return None if self.signum is None else 128 + self.signum

    def _handle(self, signum: int, frame: Any) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        if signum == signal.SIGHUP:
            _detach_from_hung_up_terminal()
        if not first:
            return  # the run is already ending; a second signal must not cut the recording
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)  # the step's stop, or KeyboardInterrupt here
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def handled(self) -> Iterator[Termination]:
        """SIGTERM and SIGHUP handled while the run goes on (main thread only; else left as is)."""
        previous: dict[signal.Signals, Any] = {}
        try:
            for sig in SIGNALS:
                previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: signals are not ours to catch
            pass
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def controller(self, inner: Controller) -> Controller:
        """``inner``, except that once a signal came every question ends the run."""
        return cast(Controller, _Ending(inner, self))


class _Ending:
    """A Controller proxy: after SIGTERM/SIGHUP, asking anything is answered by Ctrl-C."""

    def __init__(self, inner: Controller, termination: Termination) -> None:
        self._inner = inner
        self._termination = termination

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not name.startswith("ask_") or not callable(attribute):
            return attribute

        def ask(*args: Any, **kwargs: Any) -> Any:
            if self._termination.signum is not None:
                raise KeyboardInterrupt
            return attribute(*args, **kwargs)

        return ask


def _detach_from_hung_up_terminal() -> None:
    """Our terminal was closed: writing to it fails from now on (EIO), so write nowhere instead.
    (A hung-up terminal no longer even answers isatty; a SIGHUP sent by hand leaves it as is.)"""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
        return  # still our terminal
    except OSError:
        pass
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            if stat.S_ISCHR(os.fstat(fd).st_mode):  # the terminal (not a file or a pipe)
                os.dup2(null, fd)
    os.close(null)
