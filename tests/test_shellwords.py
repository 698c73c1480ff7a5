"""parse/shellwords.py reads words exactly as shlex does, in linear time."""

from __future__ import annotations

import shlex
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from runbook_engine.parse import shellwords

# the characters shlex treats specially, and a few it treats like any other
_TEXT = st.text(alphabet="ab #'\"\\\n\t\r;|&()<>$~-.*?=\x0b\u00a0é", max_size=24)


def _shlex(text: str, operators: bool) -> list[str] | str:
    try:
        if not operators:
            return shlex.split(text, comments=True)
        lex = shlex.shlex(text, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        return list(lex)
    except ValueError:
        return "refused"


def _ours(text: str, operators: bool) -> list[str] | str:
    try:
        return (shellwords.split_operators if operators else shellwords.split)(text)
    except ValueError:
        return "refused"


@settings(max_examples=3000, deadline=None)
@given(text=_TEXT, operators=st.booleans())
def test_words_are_shlex_words(text: str, operators: bool) -> None:
    assert _ours(text, operators) == _shlex(text, operators)


def test_examples() -> None:
    assert shellwords.split("ssh -p 22 'deploy user'@\"h\\\"x\" # note") == [
        "ssh", "-p", "22", 'deploy user@h"x']
    assert shellwords.split_operators("a&&b >f 'x|y'") == ["a", "&&", "b", ">", "f", "x|y"]
    assert _ours("echo 'open", False) == _ours("echo \\", True) == "refused"
    for text in ("a\x0bb  c\td\r\ne", "x\u00a0y z", "", " \t "):  # plain: read with one split
        for operators in (False, True):
            assert _ours(text, operators) == _shlex(text, operators)


def test_a_long_word_costs_linear_time() -> None:
    # shlex appends a character at a time to a string: 400 KB in one word took about 1 s
    text = "ssh dep" + "{" * 400_000 + "loy@host uptime"
    started = time.process_time()
    assert shellwords.split(text)[2] == "uptime"
    assert shellwords.split_operators(text)[1].startswith("dep{")
    assert time.process_time() - started < 0.5  # ~0.01 s; shlex: over 2 s for the two
