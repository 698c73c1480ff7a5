"""Text that is safe inside Markdown: table cells, inline code spans and fences."""

from __future__ import annotations

from typing import Any


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
