"""POSIX shell words as ``shlex`` reads them, in linear time (shlex: quadratic in a word)."""

from __future__ import annotations

import re

from .. import lazyre

# One alternative per piece of a word, in the order shlex tries them; its `token += char` makes
# a 400 KB word cost seconds. tests/test_shellwords.py checks the two agree on any text.
_QUOTED = r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)"""
_PIECES = lazyre.compile(_QUOTED + r"""|([^\s'"\\#]+)|(\#[^\n]*)|([ \t\r\n]+)|(['"\\])|(.)""", re.S)
_PIECES_OPS = lazyre.compile(
    _QUOTED + r"""|([^\s'"\\#();<>|&]+)|(\#[^\n]*)|([ \t\r\n]+)|(['"\\])|([();<>|&]+)|(.)""", re.S
)
_DQ_ESCAPE = lazyre.compile(r'\\(["\\])')


def split(text: str) -> list[str]:
    """``shlex.split(text, comments=True)``; ValueError on an unclosed quote or a last ``\\``."""
    return _words(_PIECES, text)


def split_operators(text: str) -> list[str]:
    """Like ``shlex.shlex(text, posix=True, punctuation_chars=True)`` with whitespace_split:
    a run of ``();<>|&`` outside quotes is a word of its own."""
    return _words(_PIECES_OPS, text)


def _words(pieces: re.Pattern[str], text: str) -> list[str]:
    words: list[str] = []
    word: list[str] | None = None
    for match in pieces.finditer(text):
        single, double, escaped, plain, comment, space, unclosed = match.groups()[:7]
        operator = match.group(8) if pieces is _PIECES_OPS else None
        if space is not None or comment is not None or operator is not None:
            if word is not None:
                words.append("".join(word))
                word = None
            if operator is not None:
                words.append(operator)
            continue
        if unclosed is not None:
            raise ValueError("No escaped character" if unclosed == "\\" else "No closing quotation")
        if word is None:
            word = []
        if single is not None:
            word.append(single)
        elif double is not None:
            word.append(_DQ_ESCAPE.sub(r"\1", double))
        else:
            word.append(escaped if escaped is not None else plain or match.group(0))
    if word is not None:
        words.append("".join(word))
    return words
