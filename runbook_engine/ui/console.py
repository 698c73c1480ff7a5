"""The rich Console factory and shared renderers (ui is the only package importing rich)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text

#: fence languages rich/pygments knows under another name
LEXERS = {"sh": "bash", "shell": "bash", "zsh": "bash", "console": "bash", "sql": "sql", "": "text"}


def make_console(file: TextIO | None = None, *, stderr: bool = False) -> Console:
    """A Console that honours NO_COLOR and never wraps code lines mid-word."""
    return Console(
        file=file,
        stderr=stderr,
        highlight=False,
        no_color=bool(os.environ.get("NO_COLOR")),
        soft_wrap=False,
    )


def code_block(code: str, lang: str) -> Syntax:
    lexer = LEXERS.get(lang, lang or "text")
    return Syntax(code.rstrip("\n") or " ", lexer, theme="ansi_dark", word_wrap=True,
                  background_color="default")


def flag_text(flags: list[str] | tuple[str, ...]) -> Text:
    text = Text()
    for flag in flags:
        style = "bold red" if flag.startswith("danger") else "cyan"
        text.append(f"[{flag}] ", style=style)
    return text


def error_line(message: str) -> None:
    """Print one error line to stderr (plain: it may be parsed by scripts)."""
    print(message, file=sys.stderr)
