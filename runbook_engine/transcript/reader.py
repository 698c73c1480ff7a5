"""Reading a transcript back: typed events, warnings for torn or corrupt lines, and one clear
line for a file that is not a transcript or comes from a newer version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..events import Event, RunStarted, SchemaError, check_schema, event_from_json
from ..model import RunbookError


class NotATranscript(RunbookError):
    """The file is not a runbook-engine transcript (or one this version cannot read): exit 2."""


def read_events(path: str | Path) -> tuple[list[Event], list[str]]:
    """All events of a transcript, and warnings about lines that could not be read (a torn last
    line after a crash, a corrupt line). Raises NotATranscript for anything else."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise RunbookError("no such transcript", str(path)) from None
    except IsADirectoryError:
        raise NotATranscript("is a folder, not a transcript", str(path)) from None
    except OSError as exc:
        raise RunbookError(f"cannot read the transcript: {exc.strerror}", str(path)) from None
    if not raw.strip():
        raise NotATranscript("empty file, not a transcript", str(path))
    lines = raw.split(b"\n")
    torn = lines[-1] != b""  # a complete file ends with a newline
    if not torn:
        lines.pop()
    events: list[Event] = []
    warnings: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        event = _parse_line(line)
        if event is None:
            if not events and number == 1 and not torn:
                raise NotATranscript("not a transcript (its first line is not a runbook event)",
                                     str(path))
            why = ("last line is incomplete (the run was interrupted while writing)"
                   if torn and number == len(lines) else "not a valid event (corrupt line)")
            warnings.append(f"{path}:{number}: {why}; ignored")
            continue
        _check(event, path, number, first=not events)
        events.append(event)
    if not events:
        raise NotATranscript("no complete event in it (the run stopped before recording one)",
                             str(path))
    return events, warnings


class TranscriptTail:
    """A transcript still being written (``runbook follow``): each ``read()`` returns the events
    of the lines completed since the last one; a line still being written waits for its end."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._file = open(path, "rb")  # noqa: SIM115 - kept open while the run goes on
        except FileNotFoundError:
            raise RunbookError("no such transcript", self.path) from None
        except IsADirectoryError:
            raise NotATranscript("is a folder, not a transcript", self.path) from None
        except OSError as exc:
            raise RunbookError(f"cannot read the transcript: {exc.strerror}", self.path) from None
        self._rest = b""
        self._number = 0
        self._seen = 0
        self.warnings: list[str] = []

    def read(self) -> list[Event]:
        *lines, self._rest = (self._rest + self._file.read()).split(b"\n")
        events: list[Event] = []
        for line in lines:
            self._number += 1
            if not line.strip():
                continue
            event = _parse_line(line)
            if event is None:
                if not self._seen:
                    raise NotATranscript("not a transcript (its first line is not a runbook "
                                         "event)", self.path)
                self.warnings.append(f"{self.path}:{self._number}: not a valid event (corrupt "
                                     "line); ignored")
                continue
            _check(event, self.path, self._number, first=not self._seen)
            self._seen += 1
            events.append(event)
        return events

    def close(self) -> None:
        self._file.close()


def _check(event: Event, path: str | Path, number: int, first: bool) -> None:
    """A transcript starts with ``run_started`` and has no schema newer than this version's."""
    if first and not isinstance(event, RunStarted):
        raise NotATranscript(f"not a transcript (it starts with '{_name(event)}', not "
                             "'run_started')", str(path))
    if isinstance(event, RunStarted):
        try:
            check_schema(event.schema)
        except SchemaError as exc:
            raise NotATranscript(str(exc), f"{path}:{number}") from None


def _parse_line(line: bytes) -> Event | None:
    try:
        value = json.loads(line.decode("utf-8", "replace"), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # not JSON, NaN or Infinity, nested too deep
        return None
    if not isinstance(value, dict) or not isinstance(value.get("event"), str):
        return None
    try:
        return event_from_json(value)
    except (TypeError, ValueError):  # a known event whose fields cannot be read at all
        return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _name(event: Event) -> str:
    return event.kind or str(getattr(event, "event_name", "?"))
