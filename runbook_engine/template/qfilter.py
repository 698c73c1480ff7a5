"""The ``q`` filter: a value as data wherever it lands in the command (no jinja2 here: a
template of plain lookups renders without it)."""

from __future__ import annotations

import shlex
from contextvars import ContextVar
from typing import Any

from .. import lazyre


def shell_quote(value: Any) -> str:
    """One shell word, whatever the value holds (the reports' ``q``)."""
    return shlex.quote(value if isinstance(value, str) else str(value))


# The ``q`` filter quotes for wherever its result lands (a word, "...", a here-document, SQL),
# which only the whole rendered text tells: while a render runs it leaves a marker, and the
# render replaces each marker by the value quoted for its place (quoting.substitute).
quoted: ContextVar[list[str] | None] = ContextVar("runbook_q_values", default=None)
MARKER_RE = lazyre.compile("\ue000([0-9]+)\ue001")


def q(value: Any) -> str:
    """The ``q`` filter: the value as data wherever it lands in the command."""
    text = value if isinstance(value, str) else str(value)
    pending = quoted.get()
    if pending is None:  # outside a render (``when`` expressions): one shell word
        return shell_quote(text)
    if "\ue000" in text:  # ``x | q | q``: the inner q made one shell word of x
        text = MARKER_RE.sub(lambda m: shell_quote(pending[int(m.group(1))]), text)
    pending.append(text)
    return f"\ue000{len(pending) - 1}\ue001"
