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
# Without these, a text's words are its runs of characters other than blanks (the common case,
# read with one split: a 400 KB line of 200,000 words cost 0.5 s a reading piece by piece)
_SPECIAL = lazyre.compile(r"""['"\\#]""")
_SPECIAL_OPS = lazyre.compile(r"""['"\\#();<>|&]""")
_BLANKS = lazyre.compile(r"[ \t\r\n]+")


def split(text: str) -> list[str]:
    """``shlex.split(text, comments=True)``; ValueError on an unclosed quote or a last ``\\``."""
    return _words(_PIECES, text)


def split_operators(text: str) -> list[str]:
    """Like ``shlex.shlex(text, posix=True, punctuation_chars=True)`` with whitespace_split:
    a run of ``();<>|&`` outside quotes is a word of its own."""
    return _words(_PIECES_OPS, text)


def _words(pieces: re.Pattern[str], text: str) -> list[str]:
    """The words of ``text``: stretches without a quote, ``\\``, ``#`` (or an operator) are split
    on blanks at once (a 400 KB line of 200,000 words and one quoted one: 0.5 s piece by piece);
    from each such character, one piece (a quoted string, a comment...) is read on its own."""
    special = _SPECIAL_OPS if pieces is _PIECES_OPS else _SPECIAL
    words: list[str] = []
    word: list[str] | None = None
    at = 0
    while at < len(text):
        found = special.search(text, at)
        stop = found.start() if found else len(text)
        if stop > at:
            word = _plain(text[at:stop], words, word)
        if found is None:
            break
        match = pieces.match(text, stop)
        assert match is not None  # the last alternative matches any character
        word = _piece(pieces, match, words, word)
        at = match.end()
    if word is not None:
        words.append("".join(word))
    return words


def _plain(stretch: str, words: list[str], word: list[str] | None) -> list[str] | None:
    """Add the words of a stretch of plain characters and blanks; the word still open."""
    parts = _BLANKS.split(stretch)
    if parts[0]:
        word = [*(word or []), parts[0]]
    if len(parts) == 1:
        return word
    if word is not None:
        words.append("".join(word))
    words.extend(parts[1:-1])  # between two blanks: whole words, never empty
    return [parts[-1]] if parts[-1] else None


def _piece(pieces: re.Pattern[str], match: re.Match[str], words: list[str],
           word: list[str] | None) -> list[str] | None:
    """Add one piece that begins with a special character; the word still open."""
    single, double, escaped, plain, comment, space, unclosed = match.groups()[:7]
    operator = match.group(8) if pieces is _PIECES_OPS else None
    if space is not None or comment is not None or operator is not None:
        if word is not None:
            words.append("".join(word))
            word = None
        if operator is not None:
            words.append(operator)
        return word
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
    return word
