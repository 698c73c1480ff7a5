"""How reports show statuses, times, durations and counts: the report templates' filters."""

from __future__ import annotations

from typing import Any

from ..stamps import parse_ts, spell_elapsed

NOT_RUN = "not run"
UNFINISHED = "unfinished"

STATUS_ICONS = {
    "ok": "✅", "failed": "❌", "skipped": "⏭️", "timeout": "⏱️", "interrupted": "⛔",
    "blocked": "🚫", "aborted": "⛔", NOT_RUN: "▫️", UNFINISHED: "⚠️",
}


def fmt_duration(seconds: Any) -> str:
    """``0.42s``, ``12.3s``, ``3m02s``, ``1h05m``: as the terminal shows them."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return ""
    return spell_elapsed(seconds)


def fmt_time(ts: Any) -> str:
    """The ``HH:MM:SS`` of an event timestamp (the header gives the date)."""
    when = parse_ts(ts)
    return when.strftime("%H:%M:%S") if when else ""


def fmt_datetime(ts: Any) -> str:
    when = parse_ts(ts)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else ""


def fmt_counts(counts: Any) -> str:
    return " · ".join(f"{n} {name.replace('_', ' ')}" for name, n in dict(counts or {}).items())
