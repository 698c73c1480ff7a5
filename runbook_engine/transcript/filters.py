"""How reports show times, durations, counts and Markdown cells: the report templates' filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

NOT_RUN = "not run"
UNFINISHED = "unfinished"


def parse_ts(ts: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    except ValueError:
        return None


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


def md_cell(value: Any) -> str:
    """Text safe inside a GitHub table cell: no pipes, no newlines, no raw HTML."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def md_code(value: Any) -> str:
    """An inline code span whose backtick run cannot clash with the text."""
    text = " ".join(str(value or "").splitlines())
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def md_fence(text: Any) -> str:
    """A backtick fence longer than any backtick run in the text it encloses."""
    return "`" * max(3, _longest_run(str(text or ""), "`") + 1)


def _longest_run(text: str, char: str) -> int:
    best = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        best = max(best, run)
    return best


def fmt_counts(counts: Any) -> str:
    return " · ".join(f"{n} {name.replace('_', ' ')}" for name, n in dict(counts or {}).items())
