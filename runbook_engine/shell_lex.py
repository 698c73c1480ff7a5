"""Shell lexer: code / quoted / comment / heredoc spans, shared by safety and danger rules."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from .model import SHELL_LANGS

SpanKind = Literal["code", "squote", "dquote", "comment", "heredoc", "heredoc_quoted"]

_HEREDOC_RE = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_.-]*)\2")


@dataclass(frozen=True)
class Span:
    """A stretch of shell source in one lexical context."""

    kind: SpanKind
    start: int
    end: int
    text: str


@functools.lru_cache(maxsize=4096)
def scan(code: str) -> tuple[Span, ...]:
    """Split shell code into code / quoted / comment / heredoc spans (a lexer, not a parser)."""
    spans: list[Span] = []
    pending: list[tuple[str, bool, bool]] = []  # heredoc (delimiter, quoted, strip tabs)
    i, start, n = 0, 0, len(code)

    def close(kind: SpanKind, end: int) -> None:
        if end > start:
            spans.append(Span(kind, start, end, code[start:end]))

    while i < n:
        ch = code[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "'\"":
            close("code", i)
            end = _quote_end(code, i)
            spans.append(Span("squote" if ch == "'" else "dquote", i, end, code[i:end]))
            i = start = end
            continue
        if ch == "#" and (i == 0 or code[i - 1] in " \t\n;&|("):
            close("code", i)
            end = code.find("\n", i)
            end = n if end < 0 else end
            spans.append(Span("comment", i, end, code[i:end]))
            i = start = end
            continue
        if ch == "<" and code.startswith("<<", i) and not code.startswith("<<<", i):
            match = _HEREDOC_RE.match(code, i)
            if match:
                pending.append((match.group(3), bool(match.group(2)), bool(match.group(1))))
                i = match.end()
                continue
        if ch == "\n" and pending:
            close("code", i + 1)
            i = start = _heredoc_bodies(code, i + 1, pending, spans)
            pending = []
            continue
        i += 1
    close("code", n)
    return tuple(spans)


def _quote_end(code: str, i: int) -> int:
    """Index just past the quote that closes the one at ``i`` (or the end of the code)."""
    quote, j = code[i], i + 1
    while j < len(code):
        if code[j] == "\\" and quote == '"':
            j += 2
            continue
        if code[j] == quote:
            return j + 1
        j += 1
    return len(code)


def _heredoc_bodies(code: str, pos: int, pending: list[tuple[str, bool, bool]],
                    spans: list[Span]) -> int:
    for delimiter, quoted, _strip in pending:
        body_start = pos
        while pos < len(code):
            end = code.find("\n", pos)
            end = len(code) if end < 0 else end
            if code[pos:end].strip() == delimiter:
                break
            pos = end + 1
        kind: SpanKind = "heredoc_quoted" if quoted else "heredoc"
        if pos > body_start:
            spans.append(Span(kind, body_start, min(pos, len(code)), code[body_start:pos]))
        end = code.find("\n", pos)
        pos = len(code) if end < 0 else end + 1  # skip the delimiter line
    return min(pos, len(code))


def without_comments(code: str, lang: str = "bash") -> str:
    """The code with comments blanked (newlines kept, so line numbers still match)."""
    if lang and lang not in SHELL_LANGS:
        marker = "--" if lang in ("sql", "psql", "mysql", "sqlite", "sqlite3") else "#"
        pattern = re.compile(rf"^\s*({re.escape(marker)}|//).*$", re.MULTILINE)
        return pattern.sub("", code)
    return "".join(" " * len(s.text) if s.kind == "comment" else s.text for s in scan(code))
