"""The one way an event leaves the engine: stamped, masked, shown, kept, applied to the state."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .events import Event, Output
from .redact import Redactor
from .stamps import now_ts
from .state import RunState

#: something that shows or forwards events (the terminal, a test, later a web page)
Observer = Callable[[Event], None]


class Journal(Protocol):
    """Where recorded events are kept (the transcript); returns them as kept (big output may be
    replaced by a notice that it went to a side file): that is what the state applies."""

    def record(self, event: Event) -> Sequence[Event]: ...

    def settle(self) -> None:
        """Return once what was recorded is as durable as the journal makes it; raises the
        error that prevented it."""


class MemoryJournal:
    """Keeps every event as it is, in memory (runs without a transcript file, tests)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, event: Event) -> Sequence[Event]:
        self.events.append(event)
        return (event,)

    def settle(self) -> None:
        """In memory: nothing to wait for."""


class Recorder:
    """Emits events: every one is stamped and masked once (the secrets choke point), shown to the
    ``display`` as it happens, and, when it is a recorded kind, written to the journal and
    applied to the state in the order written. ``kept`` observers see what was written."""

    def __init__(self, state: RunState, journal: Journal, redactor: Redactor, *,
                 display: Observer | None = None, kept: Sequence[Observer] = ()) -> None:
        self.state = state
        self.journal = journal
        self.redactor = redactor
        self._display = display
        self._kept = tuple(kept)
        self._lock = threading.Lock()  # fan-out threads emit output at the same time

    def __call__(self, event: Event) -> None:
        if not event.ts:
            event = dataclasses.replace(event, ts=now_ts())
        if self.redactor.active:
            event = self._masked(event)
        with self._lock:
            if self._display is not None:
                self._display(event)
            if not event.recorded:
                return
            for kept in self.journal.record(event):
                self.state.apply(kept)
                for observer in self._kept:
                    observer(kept)

    def settle(self) -> None:
        """Wait until the journal's last decision point is durable: the engine calls it before
        a step runs, so no step's effects ever come before the result in front of it is safe."""
        self.journal.settle()

    def secret(self, value: Any) -> None:
        """From now on, mask this value (and each of its lines) wherever it appears."""
        self.redactor.add(value)

    def mask(self, text: str) -> str:
        return self.redactor.redact(text)

    def safe_end(self, text: str) -> int:
        """How much of a stream's unmasked rest can be emitted now without cutting a secret."""
        return self.redactor.safe_end(text)

    def _masked(self, event: Event) -> Event:
        if isinstance(event, Output):  # the common case, without the JSON round trip
            text = self.redactor.redact(event.text)
            return event if text == event.text else dataclasses.replace(event, text=text)
        data = event.to_json()
        masked = self.redactor.redact_value(data)
        return event if masked == data else type(event).from_json(masked)
