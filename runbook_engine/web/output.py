"""A step's whole output, read back from its transcript: the output events of its last attempt
and, when the stream spilled, the side file next to the transcript (nothing else is read)."""

from __future__ import annotations

from pathlib import Path

from ..events import Output, OutputSpilled, StepStarted
from ..model import RunbookError
from ..transcript.reader import read_events


def full_output(transcript: Path, step: str, stream: str, host: str | None) -> str | None:
    """The text of ``stream`` of ``step``'s last attempt on ``host`` (None: the step never ran)."""
    try:
        events, _ = read_events(transcript)
    except RunbookError:  # not written yet (a reserved, still empty transcript): nothing ran
        return None
    starts = [i for i, e in enumerate(events) if isinstance(e, StepStarted) and e.step == step]
    if not starts:
        return None
    parts: list[str] = []
    spilled: str | None = None
    for event in events[starts[-1]:]:
        if isinstance(event, Output) and event.step == step and event.stream == stream \
                and event.host == host:
            parts.append(event.text)
        elif isinstance(event, OutputSpilled) and event.step == step and \
                event.stream == stream and event.host == host:
            spilled = event.file
    if spilled is not None:
        parts.append(_side_file(transcript, spilled))
    return "".join(parts)


def _side_file(transcript: Path, name: str) -> str:
    """A spill file the transcript names: only a plain name, in the transcript's own folder."""
    if Path(name).name != name or name in ("", ".", ".."):
        return f"\n[the rest is in {name!r}, which is not a side file of this transcript]\n"
    try:
        return (transcript.parent / name).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"\n[the rest was in {name}: {exc.strerror}]\n"
