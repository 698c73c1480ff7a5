"""The crash-safe JSONL event log: one fsync'd line per event, 0600 files, big outputs spilled."""

from __future__ import annotations

import json
import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..model import RunbookError
from ..stamps import now_ts

#: inline output kept in ``output`` events per (step, host, stream); the rest goes to a side file
INLINE_LIMIT = 1024 * 1024

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def slugify(text: str) -> str:
    """A filename-safe lowercase slug (``Deploy the API!`` -> ``deploy-the-api``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "runbook"


def default_transcript_path(
    runbook_path: str, directory: str = "transcripts", when: datetime | None = None
) -> Path:
    """``<directory>/<UTC YYYYmmddTHHMMSSZ>-<runbook slug>.jsonl``, with -2, -3... when taken."""
    stamp = (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{stamp}-{slugify(Path(runbook_path).stem)}"
    path = Path(directory) / f"{base}.jsonl"
    number = 2
    while path.exists():  # two runs in the same second must not collide
        path = Path(directory) / f"{base}-{number}.jsonl"
        number += 1
    return path


def _safe_part(text: str) -> str:
    return _UNSAFE_NAME.sub("_", text).strip("._") or "_"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _open_private(path: Path, append: bool) -> int:
    """Open for appending with mode 0600; a new transcript never overwrites an existing file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
    if not append:
        flags |= os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise RunbookError(
            "transcript already exists; pass --resume to continue it", str(path)
        ) from None
    except OSError as exc:
        raise RunbookError(f"cannot write the transcript: {exc.strerror}", str(path)) from None
    os.fchmod(fd, 0o600)  # an appended file made by someone else's umask gets tightened too
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


class _Spill:
    """One side file receiving the output of a (step, host, stream) beyond the inline limit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = _open_private(path, append=True)
        self.bytes = 0
        self.dirty = False


class TranscriptWriter:
    """An engine sink writing each event as one JSON line; thread-safe, on disk before returning."""

    def __init__(self, path: str | Path, append: bool = False) -> None:
        self.path = Path(path)
        _make_private_dir(self.path.parent)
        self._fd: int | None = _open_private(self.path, append)
        self._lock = threading.Lock()
        self._unsynced = False
        self._inline: dict[tuple[str, str, str], int] = {}
        self._spills: dict[tuple[str, str, str], _Spill] = {}
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
                _write_all(self._require_fd(), b"\n")

    def _require_fd(self) -> int:
        if self._fd is None:
            raise RunbookError("transcript is closed", str(self.path))
        return self._fd

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            fd = self._require_fd()
            if event.get("event") == "output":
                event = self._route_output(event)
                if not event:
                    return
            if "ts" not in event:
                event = {**event, "ts": now_ts()}
            line = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
            _write_all(fd, line.encode("utf-8", "replace") + b"\n")
            if event.get("event") == "output":
                self._unsynced = True  # output is not a decision point; sync at the next event
            else:
                self._sync()

    def _sync(self) -> None:
        for spill in self._spills.values():
            if spill.dirty:
                os.fsync(spill.fd)
                spill.dirty = False
        os.fsync(self._require_fd())
        self._unsynced = False

    def _route_output(self, event: dict[str, Any]) -> dict[str, Any]:
        """Keep the event inline while under the limit; otherwise append to the side file."""
        key = (str(event.get("step")), str(event.get("host") or ""), str(event.get("stream")))
        data = str(event.get("text", "")).encode("utf-8", "replace")
        spill = self._spills.get(key)
        if spill is None:
            used = self._inline.get(key, 0)
            if used + len(data) <= INLINE_LIMIT:
                self._inline[key] = used + len(data)
                return event
            spill = self._spills[key] = _Spill(self._spill_path(*key))
            _write_all(spill.fd, data)
            spill.bytes, spill.dirty = len(data), True
            announce = {
                "event": "output_spilled",
                "step": event.get("step"),
                "stream": event.get("stream"),
                "host": event.get("host"),
                "file": spill.path.name,
                "bytes": spill.bytes,
            }
            if "ts" in event:
                announce["ts"] = event["ts"]
            return announce
        _write_all(spill.fd, data)
        spill.bytes += len(data)
        spill.dirty = True
        return {}

    def _spill_path(self, step: str, host: str, stream: str) -> Path:
        parts = [self.path.stem, _safe_part(step)]
        if host:
            parts.append(_safe_part(host))
        parts += [_safe_part(stream), "log"]
        return self.path.with_name(".".join(parts))

    def close(self) -> None:
        with self._lock:
            if self._fd is None:
                return
            if self._unsynced or any(s.dirty for s in self._spills.values()):
                self._sync()
            for spill in self._spills.values():
                os.close(spill.fd)
            self._spills.clear()
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> TranscriptWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """All events of a transcript and warnings about lines that could not be read."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise RunbookError("no such transcript", str(path)) from None
    except OSError as exc:
        raise RunbookError(f"cannot read the transcript: {exc.strerror}", str(path)) from None
    lines = raw.split(b"\n")
    torn = lines[-1] != b""  # a complete file ends with a newline
    if not torn:
        lines.pop()
    events: list[dict[str, Any]] = []
    warnings: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        event = _parse_line(line)
        if event is not None:
            events.append(event)
        elif torn and number == len(lines):
            warnings.append(
                f"{path}:{number}: last line is incomplete "
                "(the run was interrupted while writing); ignored"
            )
        else:
            warnings.append(f"{path}:{number}: not a valid event (corrupt line); ignored")
    return events, warnings


def _parse_line(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line.decode("utf-8", "replace"))
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("event"), str):
        return None
    return value
