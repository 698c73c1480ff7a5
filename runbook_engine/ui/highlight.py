"""Styled text without rich: shell/SQL highlighting and step flags, converted to rich on demand.

`runbook plan` piped to a file or a pager must start about as fast as a bare import of its
libraries, so nothing here imports rich until a terminal asks for colours (`to_rich`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .. import lazyre

if TYPE_CHECKING:
    from rich.text import Text


class Styled:
    """A run of (text, style) pieces: ``plain`` for pipes, ``to_rich()`` for terminals."""

    def __init__(self, text: str = "", style: str = "") -> None:
        self.pieces: list[tuple[str, str]] = [(text, style)] if text else []

    def append(self, text: str, style: str = "") -> Styled:
        if text:
            self.pieces.append((text, style))
        return self

    def extend(self, other: Styled) -> Styled:
        self.pieces.extend(other.pieces)
        return self

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.pieces)

    def ansi(self) -> str:
        """The text with ANSI colours, for a terminal, without rich's rendering (fast)."""
        return "".join(f"{sgr(style)}{text}\x1b[0m" if style else text
                       for text, style in self.pieces)

    def to_rich(self) -> Text:
        from rich.text import Text

        text = Text()
        for piece, style in self.pieces:
            text.append(piece, style=style or None)
        return text


_SGR = {"bold": "1", "dim": "2", "italic": "3", "red": "31", "green": "32", "yellow": "33",
        "blue": "34", "magenta": "35", "cyan": "36"}


def sgr(style: str) -> str:
    codes = [_SGR[word] for word in style.split() if word in _SGR]
    return f"\x1b[{';'.join(codes)}m" if codes else ""


# A small highlighter instead of rich.Syntax: pygments' lexers cost ~100 ms of regex compilation
# per process, more than the whole plan of a seed runbook; shell and SQL need only a few colours.
_SHELL_RULES = (
    (lazyre.compile(r"(?m)(?:^|(?<=\s))#.*$"), "dim"),
    (lazyre.compile(r"'[^'\n]*'|\"(?:[^\"\\\n]|\\.)*\""), "green"),
    (lazyre.compile(r"\{\{(?:(?!\{\{).)*?\}\}|<[A-Za-z][\w.-]*>"), "bold yellow"),
    (lazyre.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?"), "cyan"),
    (lazyre.compile(r"(?m)(?:^|(?<=[|;&]))\s*(?:sudo\s+)?[A-Za-z0-9_./-]+"), "bold"),
)
_SQL_RULES = (
    (lazyre.compile(r"(?m)--.*$"), "dim"),
    (lazyre.compile(r"'[^'\n]*'"), "green"),
    (lazyre.compile(r"\{\{(?:(?!\{\{).)*?\}\}|<[A-Za-z][\w.-]*>"), "bold yellow"),
    (lazyre.compile(r"(?i)\b(?:select|from|where|group|order|by|insert|into|values|update|set|"
                    r"delete|create|drop|alter|table|index|join|on|and|or|not|limit|as|desc|asc|"
                    r"vacuum|analyze|truncate|begin|commit|rollback)\b"), "bold blue"),
)
_SHELLS = frozenset({"bash", "sh", "shell", "zsh", "console", "shell-session", "shellsession", ""})


def code_block(code: str, lang: str, indent: int = 2) -> Styled:
    """The code, indented, with shell or SQL highlighting (other languages plain)."""
    body = code.rstrip("\n") or " "
    rules = _SHELL_RULES if lang in _SHELLS else _SQL_RULES if lang == "sql" else ()
    spans: list[tuple[int, int, str]] = []
    for pattern, style in rules:
        spans = _claim(spans, pattern.finditer(body), style)
    out, pos, pad = Styled(), 0, " " * indent
    for start, end, style in [*spans, (len(body), len(body), "")]:
        _plain(out, body[pos:start], pad)
        _plain(out, body[start:end], pad, style)
        pos = end
    return Styled(pad).extend(out)


def _claim(owned: list[tuple[int, int, str]], matches: Iterator[re.Match[str]],
           style: str) -> list[tuple[int, int, str]]:
    """``owned`` (sorted, disjoint) plus the matches no earlier rule (comment, string) owns.

    One walk over both, both in order: checking each match against every span was quadratic
    (a damaged 400 KB block took 9 s in `plan --format html`).
    """
    out: list[tuple[int, int, str]] = []
    k = 0
    for match in matches:
        start, end = match.span()
        while k < len(owned) and owned[k][1] <= start:
            out.append(owned[k])
            k += 1
        if start < end and (k == len(owned) or end <= owned[k][0]):
            out.append((start, end, style))
    out.extend(owned[k:])
    return out


def _plain(out: Styled, text: str, pad: str, style: str = "") -> None:
    """Append text, indenting every line after a newline."""
    out.append(text.replace("\n", "\n" + pad) if pad else text, style)


def flag_text(flags: list[str] | tuple[str, ...]) -> Styled:
    text = Styled()
    for flag in flags:
        text.append(f"[{flag}] ", "bold red" if flag.startswith("danger") else "cyan")
    return text
