"""The screen's writer thread: output is written while the next chunk is read, in order, bounded.

Writing to a terminal costs its line discipline (a pty passes ~4 KB a wakeup) and writing into a
pipe waits for its reader: done on the thread that reads a step's output, that time is added to
the transcript's and the step's, and the step waits on a full pipe. Here the display hands its
text to a thread of its own that writes it in the order given; a caller waits only when more than
``budget`` characters are pending (memory stays bounded whatever the terminal's speed).

Into a pipe the thread is not woken for every text: it is woken when it sleeps with nothing to
write, then collects what comes for up to ``flush_s`` and writes and flushes it at once (sooner
past ``WAKE_CHARS``). A run of many short steps thus costs the writer a couple of wake-ups per
``flush_s`` instead of a few per step (each a thread switch and a turn of the GIL on the path of
the step's own work)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import IO

#: characters waiting to be written before a caller waits for the screen (a few reads' worth)
BUDGET_CHARS = 4 * 1024 * 1024
#: into a pipe, characters pending that wake the writer before its flush delay is up
WAKE_CHARS = 256 * 1024


class ScreenWriter:
    """Writes text to ``file`` from its own thread. On a terminal each batch is flushed as soon
    as nothing more is waiting; into a pipe at most ``flush_s`` after it was written (a log or CI
    gets lines promptly without a write per line). An error writing (a closed pipe) is raised to
    the caller at its next ``write`` or ``drain``."""

    def __init__(self, file: IO[str], *, terminal: bool, flush_s: float,
                 budget: int = BUDGET_CHARS) -> None:
        self.file = file
        self.terminal = terminal
        self.flush_s = flush_s
        self.budget = budget
        self._queue: deque[str] = deque()
        self._pending = 0  # characters queued or being written
        self._queued = 0  # characters queued, not yet taken by the thread
        self._idle = False  # the thread sleeps with nothing to write and no flush due
        self._busy = False  # the thread holds text it has not finished writing
        self._flush_asked = False  # drain() waits for a flush
        self._dirty_since: float | None = None  # when the oldest text written unflushed was
        self._error: BaseException | None = None
        self.wake_chars = min(WAKE_CHARS, budget)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def write(self, text: str) -> None:
        """Queue ``text``; waits while the screen is more than ``budget`` characters behind."""
        if not text:
            return
        with self._cond:
            self._raise()
            while self._pending >= self.budget and self._error is None:
                self._cond.wait()
            self._raise()
            self._queue.append(text)
            self._pending += len(text)
            self._queued += len(text)
            if self.terminal or self._idle or self._queued >= self.wake_chars:
                self._cond.notify_all()  # else the thread comes for it by its flush time
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="screen-writer")
                self._thread.start()

    def drain(self) -> None:
        """Wait until all that was queued is written and flushed (before anything else writes
        to the same file: rich, a prompt, another stream)."""
        with self._cond:
            if self._thread is None:  # nothing was ever queued: no thread to race with
                self.file.flush()
                return
            if not (self._queue or self._busy or self._dirty_since is not None):
                self._raise()
                return  # all written and flushed already: no round trip to the thread
            self._flush_asked = True
            self._cond.notify_all()
            while (self._queue or self._busy or self._flush_asked) and self._error is None:
                self._cond.wait()
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._pending -= self._queued
            self._queued = 0
            self._queue.clear()
            self._flush_asked = False
            raise error

    def _due(self) -> bool:
        """Something to do now: on a terminal any text; into a pipe a flush asked for, the
        first text after an idle time, a flush delay run out, or ``wake_chars`` queued."""
        if self._flush_asked:
            return True
        if self.terminal or self._dirty_since is None:
            return bool(self._queue)
        return (self._queued >= self.wake_chars
                or time.monotonic() >= self._dirty_since + self.flush_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    since = self._dirty_since
                    self._idle = since is None  # then only text or a drain wakes it
                    self._cond.wait(None if since is None else
                                    max(0.0, since + self.flush_s - time.monotonic()))
                self._idle = False
                batch = list(self._queue)
                self._queue.clear()
                self._queued = 0
                self._busy = True
                flush = self.terminal or self._flush_asked or not batch
            try:
                if batch:  # one write: unbuffered (PYTHONUNBUFFERED) each is a system call
                    self.file.write(batch[0] if len(batch) == 1 else "".join(batch))
                if self._dirty_since is None:
                    self._dirty_since = time.monotonic()
                if flush or time.monotonic() - self._dirty_since >= self.flush_s:
                    self.file.flush()
                    self._dirty_since = None
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                self._dirty_since = None  # not retried: what could not be written is lost
                with self._cond:
                    self._error = exc
            with self._cond:
                self._pending -= sum(len(text) for text in batch)
                self._busy = False
                if flush:
                    self._flush_asked = False
                self._cond.notify_all()
