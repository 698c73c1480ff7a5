"""`runbook follow TRANSCRIPT`: watch a live run from another terminal. The transcript's events
are shown by the terminal display the run itself uses, as they are written; it ends with the run."""

from __future__ import annotations

import time

from .events import RunFinished
from .state import RunState

#: how often the transcript is read for new events (the writer syncs at every decision point)
POLL_S = 0.1


def follow(path: str, poll: float = POLL_S) -> int:
    """Show the run recorded in ``path`` and what it records next, until a ``run_finished`` is
    the last event; the exit code says how the run ended (0 ok, 1 otherwise)."""
    from .transcript.reader import TranscriptTail
    from .ui.console import make_console
    from .ui.display import TerminalDisplay

    tail = TranscriptTail(path)
    state = RunState()
    # unattended: a line per step (the follower sees no prompt, so no step would be named)
    display = TerminalDisplay(make_console(), state=state, unattended=True)
    try:
        while True:
            events = tail.read()
            for event in events:
                display(event)  # before apply, as in the run: the header counts earlier sessions
                state.apply(event)
            if events and isinstance(events[-1], RunFinished):
                return 0 if events[-1].status == "ok" else 1
            time.sleep(poll)
    finally:
        tail.close()
        display.close()
