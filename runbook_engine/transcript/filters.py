"""How reports show statuses, times, durations and counts: the report templates' filters."""

from __future__ import annotations

from typing import Any

from ..stamps import parse_ts

NOT_RUN = "not run"
UNFINISHED = "unfinished"

STATUS_ICONS = {
    "ok": "✅", "failed": "❌", "skipped": "⏭️", "timeout": "⏱️", "interrupted": "⛔",
    "blocked": "🚫", "aborted": "⛔", NOT_RUN: "▫️", UNFINISHED: "⚠️",
}


def fmt_duration(seconds: Any) -> str:
    """``0.42 s``, ``12.3 s``, ``3 min 02 s``, ``1 h 05 min``."""
    if not isinstance(seconds, (int, float)):
        return ""
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def fmt_time(ts: Any) -> str:
    """The ``HH:MM:SS`` of an event timestamp (the header gives the date)."""
    when = parse_ts(ts)
    return when.strftime("%H:%M:%S") if when else ""


def fmt_datetime(ts: Any) -> str:
    when = parse_ts(ts)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else ""


def fmt_counts(counts: Any) -> str:
    return " · ".join(f"{n} {name.replace('_', ' ')}" for name, n in dict(counts or {}).items())
