"""The crash-safe JSONL transcript writer: each event's line written at once and fsync'd at the next
decision point on a thread of its own (settled before the next step runs), 0600 files, big outputs
spilled to side files."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from .. import lazyre
from ..events import Event, Output, OutputSpilled, OutputTail, StepFinished, StepStarted, VarSet
from ..model import RunbookError
from ..stamps import now_ts
from ..state import TAIL_CHARS
from .lock import lock
from .sidefiles import SidePump, Spill, fsync, open_private, write_all

#: inline output kept in ``output`` events per (step, host, stream); the rest goes to a side file
INLINE_LIMIT = 1024 * 1024
#: events written without an fsync of their own: what follows them soon is synced with them.
#: A step's start and output, and the values it sets, precede its ``step_finished``; nothing is
#: decided on them (a step without a result runs again on resume). A power cut between the two
#: loses only the record that the step had started.
_SYNCED_LATER = (Output, OutputSpilled, OutputTail, StepStarted, VarSet)

_UNSAFE_NAME = lazyre.compile(r"[^A-Za-z0-9._-]+")
# one encoder for every line (json.dumps with options builds a new one per call)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def slugify(text: str) -> str:
    """A filename-safe lowercase slug (``Deploy the API!`` -> ``deploy-the-api``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "runbook"


def default_transcript_path(
    runbook_path: str, directory: str = "transcripts", when: datetime | None = None
) -> Path:
    """``<directory>/<UTC YYYYmmddTHHMMSSZ>-<runbook slug>.jsonl``, with -2, -3... when taken.

    The name is reserved: created empty (0600) with O_EXCL, so runs started in the same second,
    even at the same instant, each get their own (the writer takes an empty file as new)."""
    stamp = (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{stamp}-{slugify(Path(runbook_path).stem)}"
    folder = Path(directory)
    _make_private_dir(folder)
    for number in range(1, 10_000):
        path = folder / (f"{base}.jsonl" if number == 1 else f"{base}-{number}.jsonl")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunbookError(f"cannot write the transcript: {exc.strerror}", str(path)) from None
        return path
    raise RunbookError("no free transcript name", str(folder / base))


def discard_reserved(path: Path) -> None:
    """Remove a reserved transcript that was never written (the run stopped before starting)."""
    with contextlib.suppress(OSError):
        if path.stat().st_size == 0:
            path.unlink()


def _safe_part(text: str) -> str:
    return _UNSAFE_NAME.sub("_", text).strip("._") or "_"


def _open_transcript(path: Path, append: bool) -> int:
    """Open and lock it (one writer at a time); a new transcript never overwrites a written file
    (an empty one is a reserved name: see ``default_transcript_path``)."""
    fd = open_private(path)
    try:
        lock(fd, path)
        if not append and os.fstat(fd).st_size:
            raise RunbookError("transcript already exists; pass --resume to continue it",
                               str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _make_private_dir(folder: Path) -> None:
    """Create missing folders 0700; an existing folder (``.``, ``/tmp``) is left as it is."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for created in missing:
            os.chmod(created, 0o700)  # mkdir's mode is filtered by the umask
    except OSError as exc:
        raise RunbookError(
            f"cannot create the transcript folder: {exc.strerror}", str(folder)
        ) from None


Key = tuple[str, str, str]  # (step, host or "", stream)


class _Syncer:
    """fsyncs the transcript on a thread of its own, so the engine goes on while the disk works.

    A line is written before ``record`` returns, so a SIGKILL never loses it; the fsync is for a
    power cut. ``request`` asks for what is written so far to be made durable; ``settle`` waits
    for the last request (and raises the error it met): the engine settles before a step runs,
    so a step never starts before the result in front of it is on disk, as with an fsync inline.
    What overlaps the fsync is the work between two steps (showing the result, rendering and
    announcing the next step), which costs as much as the fsync on an idle disk.

    When the engine settles before the thread is done, it calls fsync itself instead of waiting
    for the thread: the kernel joins it to the one in flight, and it returns the moment the disk
    is done, without the thread having to be woken and given the GIL to say so (two hand-overs
    on every step's way when the disk is slower than the work between steps)."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd, self.path = fd, path
        self._cond = threading.Condition()
        self._asked = self._done = 0
        self._error: RunbookError | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        with self._cond:
            self._asked += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="transcript-fsync",
                                                daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def settle(self) -> None:
        if self._done == self._asked and self._error is None:
            return  # the usual case: done while the engine worked (ints are read atomically)
        with self._cond:
            if self._error is not None:
                raise self._error
            target = self._asked
        try:
            fsync(self.fd, self.path)  # all written before it is on disk when it returns
        except RunbookError as exc:
            with self._cond:
                self._error = exc
            raise
        with self._cond:
            self._done = max(self._done, target)

    def stop(self) -> None:
        """Settle, then end the thread (the file may be closed after this)."""
        try:
            self.settle()
        finally:
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
            if self._thread is not None:
                self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._done == self._asked and not self._stopping:
                    self._cond.wait()
                if self._done == self._asked:
                    return
                target = self._asked
            try:
                fsync(self.fd, self.path)
            except RunbookError as exc:
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._done = max(self._done, target)
                self._cond.notify_all()


class TranscriptWriter:
    """Records events as JSON lines; thread-safe, each line written before ``record`` returns and
    fsync'd with the next decision point (a result, a decision, a note, the run's start and end)
    by a ``_Syncer``; ``settle`` waits for that fsync.

    ``record`` returns the events as the file keeps them, which is what the run state applies:
    output beyond ``inline_limit`` bytes per stream and attempt goes to a side file, announced by
    ``output_spilled`` and closed by ``output_tail`` (its size and last characters) when the
    step's attempt ends."""

    def __init__(self, path: str | Path, append: bool = False, *, inline_limit: int = INLINE_LIMIT,
                 tail_chars: int = TAIL_CHARS) -> None:
        self.path = Path(path)
        self.inline_limit = inline_limit
        self.tail_chars = tail_chars
        _make_private_dir(self.path.parent)
        self._fd: int | None = _open_transcript(self.path, append)
        self._syncer = _Syncer(self._fd, self.path)
        self._lock = threading.Lock()
        self._unsynced = False
        self._inline: dict[Key, int] = {}
        self._spills: dict[Key, Spill] = {}
        self._pump = SidePump()  # side files are written while the step's next output is read
        self._attempt: dict[str, int] = {}
        if append:
            self._mend_torn_tail()

    def _mend_torn_tail(self) -> None:
        """After a crash mid-write, end the torn line so the next event starts on its own line."""
        size = os.fstat(self._require_fd()).st_size
        if size == 0:
            return
        with open(self.path, "rb") as handle:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                write_all(self._require_fd(), b"\n", self.path)

    def _require_fd(self) -> int:
        if self._fd is None:
            raise RunbookError("transcript is closed", str(self.path))
        return self._fd

    def record(self, event: Event) -> Sequence[Event]:
        """Write ``event`` (stamping its time if it has none); return the events as written."""
        with self._lock:
            fd = self._require_fd()
            kept = self._route(event)
            for item in kept:
                line = _ENCODER.encode(item.to_json())
                write_all(fd, line.encode("utf-8", "replace") + b"\n", self.path)
            if kept and not isinstance(kept[-1], _SYNCED_LATER):
                self._sync()
            elif kept:
                self._unsynced = True
            return kept

    def _route(self, event: Event) -> Sequence[Event]:
        if not event.ts:
            event = _stamped(event)
        if isinstance(event, Output):
            return self._route_output(event)
        if isinstance(event, (StepStarted, StepFinished)):
            # an attempt begins or the step ends: close its spilled streams, start counting anew
            tails = self._close_spills(event.step, event.ts)
            self._inline = {k: v for k, v in self._inline.items() if k[0] != event.step}
            if isinstance(event, StepStarted):
                self._attempt[event.step] = event.attempt
            return [*tails, event]
        return [event]

    def _route_output(self, event: Output) -> Sequence[Event]:
        """Keep the event inline while under the limit; otherwise append to the side file."""
        key = (event.step, event.host or "", event.stream)
        spill = self._spills.get(key)
        if spill is not None:
            spill.write(event.text)
            return []
        size = len(event.text.encode("utf-8", "replace"))
        used = self._inline.get(key, 0)
        if used + size <= self.inline_limit:
            self._inline[key] = used + size
            return [event]
        spill = self._spills[key] = Spill(self._spill_path(key), self.tail_chars, self._pump)
        spill.write(event.text)
        return [OutputSpilled(step=event.step, stream=event.stream, host=event.host,
                              file=spill.path.name, bytes=spill.bytes, ts=event.ts)]

    def _close_spills(self, step: str, ts: str) -> list[Event]:
        tails: list[Event] = []
        keys = [k for k in self._spills if k[0] == step]
        if keys:
            self._pump.settle()  # all of it written before the fsync and the close
        for key in keys:
            spill = self._spills.pop(key)
            fsync(spill.fd, spill.path)
            os.close(spill.fd)
            tails.append(OutputTail(step=step, stream=key[2], host=key[1] or None,
                                    file=spill.path.name, bytes=spill.bytes, chars=spill.chars,
                                    text=spill.tail, ts=ts))
        return tails

    def _sync(self) -> None:
        # spilled output here (rare, and its file may close soon), the transcript after it
        self._pump.settle()
        for spill in self._spills.values():
            if spill.dirty:
                fsync(spill.fd, spill.path)
                spill.dirty = False
        self._syncer.request()
        self._unsynced = False

    def settle(self) -> None:
        """Return once the last decision point is on disk; raises the fsync's error (a full
        disk, an I/O error) naming the file."""
        self._syncer.settle()

    def _spill_path(self, key: Key) -> Path:
        step, host, stream = key
        parts = [self.path.stem, _safe_part(step)]
        if host:
            parts.append(_safe_part(host))
        parts.append(_safe_part(stream))
        attempt = self._attempt.get(step, 1)
        if attempt > 1:
            parts.append(str(attempt))
        return self.path.with_name(".".join([*parts, "log"]))

    def fileno(self) -> int:
        """The transcript's open file, which holds its lock (a process reaper inherits it)."""
        return self._require_fd()

    def close(self) -> None:
        with self._lock:
            if self._fd is None:
                return
            try:
                if self._unsynced or any(s.dirty for s in self._spills.values()):
                    self._sync()
            finally:
                try:
                    self._syncer.stop()  # its error is the close's, once the files are closed
                finally:
                    with contextlib.suppress(RunbookError):  # said already, or being said
                        self._pump.settle()  # nothing is writing to a file closed here
                    for spill in self._spills.values():
                        os.close(spill.fd)
                    self._spills.clear()
                    os.close(self._fd)
                    self._fd = None

    def __enter__(self) -> TranscriptWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stamped(event: Event) -> Event:
    return dataclasses.replace(event, ts=now_ts())
