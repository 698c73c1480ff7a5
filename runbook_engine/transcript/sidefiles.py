"""Private files of a transcript, and its side files written by a thread of their own.

A stream's output past the transcript's inline limit goes to a side file. Writing it (a copy into
the page cache, ~1 s per GB here) is done by ``SidePump``'s thread, so it overlaps the reading of
the step's next output instead of adding to it. The pump is at most ``budget`` bytes behind; it is
settled (all written) before every fsync and close, so what the transcript says was synced is on
disk. Only a kill of ``runbook`` itself can lose the few MiB still queued, of a step that has no
result yet (and is run again on resume)."""

from __future__ import annotations

import os
import stat
import threading
from collections import deque
from pathlib import Path

from ..model import RunbookError
from ..state import last_chars

#: side-file bytes queued before a caller waits for the disk (a few reads' worth)
BUDGET_BYTES = 4 * 1024 * 1024


def open_private(path: Path) -> int:
    """Open for appending with mode 0600 (an existing file made with another umask too)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise RunbookError(f"cannot write the transcript: {exc.strerror}", str(path)) from None
    if stat.S_ISREG(os.fstat(fd).st_mode):  # never chmod a device (--transcript /dev/...)
        os.fchmod(fd, 0o600)
    return fd


def ended_path(transcript: Path) -> Path:
    """The run's body-ended record (``runners/ended.py``), a side file of the transcript."""
    return transcript.with_name(f"{transcript.stem}.ended")


def write_all(fd: int, data: bytes, path: Path) -> None:
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as exc:  # disk full, quota, a file size limit: name the file
        raise RunbookError(f"cannot write: {exc.strerror or exc}", str(path)) from None


def fsync(fd: int, path: Path) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        raise RunbookError(f"cannot write: {exc.strerror or exc}", str(path)) from None


class SidePump:
    """Writes (fd, bytes) in the order queued from a thread of its own. A failure (disk full) is
    raised to the caller, naming the file, at its next ``write`` or ``settle``."""

    def __init__(self, budget: int = BUDGET_BYTES) -> None:
        self.budget = budget
        self._queue: deque[tuple[int, Path, bytes]] = deque()
        self._pending = 0  # bytes queued or being written
        self._busy = False
        self._error: RunbookError | None = None
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def write(self, fd: int, path: Path, data: bytes) -> None:
        with self._cond:
            self._raise()
            while self._pending >= self.budget and self._error is None:
                self._cond.wait()
            self._raise()
            self._queue.append((fd, path, data))
            self._pending += len(data)
            self._cond.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="transcript-side-files")
                self._thread.start()

    def settle(self) -> None:
        """Wait until everything queued is written (before an fsync or a close of its file)."""
        with self._cond:
            while self._queue or self._busy:
                self._cond.wait()
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                fd, path, data = self._queue.popleft()
                self._busy = True
            try:
                write_all(fd, data, path)
            except RunbookError as exc:
                with self._cond:  # what was queued behind it is dropped: the run ends on this
                    self._error = exc
                    self._pending -= sum(len(item[2]) for item in self._queue)
                    self._queue.clear()
            with self._cond:
                self._pending -= len(data)
                self._busy = False
                self._cond.notify_all()


class Spill:
    """The side file receiving a stream's output beyond the inline limit, and its last chars."""

    def __init__(self, path: Path, tail_chars: int, pump: SidePump) -> None:
        self.path = path
        self.fd = open_private(path)
        self.pump = pump
        self.bytes = 0
        self.chars = 0
        self.tail = ""
        self.tail_chars = tail_chars
        self.dirty = False

    def write(self, text: str) -> None:
        data = text.encode("utf-8", "replace")
        self.pump.write(self.fd, self.path, data)
        self.bytes += len(data)
        self.chars += len(text)
        self.tail = last_chars(self.tail, text, self.tail_chars)
        self.dirty = True
