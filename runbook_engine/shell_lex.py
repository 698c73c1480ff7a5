"""Shell lexer: code / quoted / comment / heredoc spans, shared by safety and danger rules."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Literal

from . import lazyre
from .model import SHELL_LANGS

SpanKind = Literal["code", "squote", "dquote", "comment", "heredoc", "heredoc_quoted"]

_HEREDOC_RE = lazyre.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_SPECIAL_RE = lazyre.compile(r"[\\'\"#<\n]")
_DQUOTE_REST_RE = lazyre.compile(r'(?:[^"\\]|\\.|\\\Z)*"?', re.DOTALL)


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
        special = _SPECIAL_RE.search(code, i)  # jump over ordinary characters
        if special is None:
            break
        i = special.start()
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
    if code[i] == "'":
        end = code.find("'", i + 1)
        return len(code) if end < 0 else end + 1
    match = _DQUOTE_REST_RE.match(code, i + 1)
    return match.end() if match else len(code)


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


# ---------------------------------------------------------------- simple commands


@dataclass
class Command:
    """One simple command: its words (quotes removed), what feeds it and where it sits."""

    words: list[str] = field(default_factory=list)
    sep: str = ""  # the operator before it: "", "|", "&&", ";", "\n", "$(" (nested), ...
    start: int = -1  # offset of its first character in the text (-1: none yet)
    end: int = 0
    redirects: list[tuple[str, str]] = field(default_factory=list)  # ("<", "dump.sql")
    heredoc: str | None = None  # the body of its heredoc
    quoted: list[bool] = field(default_factory=list)  # per word: was any of it quoted

    @property
    def piped(self) -> bool:
        """Reads the previous command's output."""
        return self.sep in ("|", "|&")


_LEX_RE = lazyre.compile(
    r"(?P<ws>[ \t\r]*)(?:"  # spaces before a token end the word being built
    r"(?P<comment>\#[^\n]*)"  # only reached at the start of a word
    r"|(?P<heredoc><<(?P<dash>-?)[ \t]*(?P<q>['\"]?)(?P<delim>[A-Za-z_][\w.-]*)(?P=q))"
    r"|(?P<redir>[0-9]*(?:<<<|<>|<&|>&|>>|>\||<|>)|&>>?)(?![(])"
    r"|(?P<open>\$\(|[<>]\()"
    r"|(?P<op>\|\||&&|;;&?|;&|\|&|[;&|()\n`])"
    # possessive (++, *+): sre keeps a frame per turn of a group that may give back (1 MB: 120 MB)
    r"|(?P<word>(?:\\.|'[^']*'?|\"(?:[^\"\\]|\\.)*+\"?|\$(?!\()|[^\s;&|()<>`\\'\"$])++)"
    r"|(?P<other>[^ \t\r]))",
    re.DOTALL,
)
_QUOTED_RE = lazyre.compile(r"\\(.)|'([^']*)'?|\"((?:[^\"\\]|\\.)*)\"?", re.DOTALL)
_DQUOTE_RE = lazyre.compile(r"'[^']*'?|(\"(?:[^\"\\]|\\.)*\"?)", re.DOTALL)
_DQ_ESCAPE_RE = lazyre.compile(r'\\(["\\$`\n])')
_SEPARATORS = frozenset({"||", "&&", ";;", ";;&", ";&", "|&", ";", "&", "|", "\n", "(", ")"})


def _unquoted(match: re.Match[str]) -> str:
    escaped, single, double = match.groups()
    if escaped is not None:
        return escaped
    if single is not None:
        return single
    return _DQ_ESCAPE_RE.sub(r"\1", double) if "\\" in double else double


class _Splitter:
    """The state of `commands` while it walks the tokens of one text."""

    def __init__(self, text: str, base: int) -> None:
        self.text, self.base = text, base
        self.done: list[Command] = []
        self.current = Command()
        self.word: list[str] = []  # pieces of the word being built (unquoted)
        self.word_start = -1
        self.word_quoted = False
        self.redirect: str | None = None  # a redirection waiting for its target word
        self.heredocs: list[tuple[Command, str, bool]] = []  # (owner, delimiter, strip tabs)
        self.stack: list[tuple[str, Command, list[str], int, bool]] = []  # open $( ` <(

    def flush(self, end: int) -> None:
        if self.word_start < 0:
            return
        value = "".join(self.word)
        current = self.current
        if current.start < 0:
            current.start = self.base + self.word_start
        current.end = self.base + end
        if self.redirect is not None:
            current.redirects.append((self.redirect, value))
            self.redirect = None
        else:
            current.words.append(value)
            current.quoted.append(self.word_quoted)
        self.word, self.word_start, self.word_quoted = [], -1, False

    def finish(self, sep: str) -> None:
        current = self.current
        if current.words or current.redirects:
            self.done.append(current)
        self.current = Command(sep=sep)

    def add_word(self, raw: str, start: int) -> None:
        if self.word_start < 0:
            self.word_start = start
        if "'" in raw or '"' in raw or "\\" in raw:
            self.word.append(_QUOTED_RE.sub(_unquoted, raw))
            self.word_quoted |= "'" in raw or '"' in raw
            if "$(" in raw or "`" in raw:  # substitutions inside double quotes still run
                for dq in _DQUOTE_RE.finditer(raw):
                    if dq.group(1):
                        self.done.extend(_substitutions(dq.group(1), self.base + start +
                                                        dq.start(1)))
        else:
            self.word.append(raw)

    def operator(self, kind: str, value: str, start: int) -> None:
        if kind == "open" or (value == "`" and not (self.stack and self.stack[-1][0] == "`")):
            if self.word_start < 0:
                self.word_start = start
            self.word.append("$(...)")
            self.stack.append((value, self.current, self.word, self.word_start, self.word_quoted))
            self.current, self.word, self.word_start = Command(sep="$("), [], -1
            return
        if value in (")", "`") and self.stack and self.stack[-1][0] != "(" and \
                (value == "`") == (self.stack[-1][0] == "`"):
            self.flush(start)
            self.finish("")
            _opener, self.current, self.word, self.word_start, self.word_quoted = \
                self.stack.pop()
            return
        self.flush(start)
        if kind == "redir":
            self.redirect = value.lstrip("0123456789")
        elif value == "(":
            self.stack.append(("(", self.current, [], -1, False))
            self.finish("(")
        elif value == ")":
            if self.stack and self.stack[-1][0] == "(":
                self.stack.pop()
            self.finish(")")
        elif value in _SEPARATORS:
            self.finish(value)

    def heredoc_bodies(self, pos: int) -> int:
        """Read the bodies of the heredocs opened on the line that just ended."""
        text = self.text
        for owner, delimiter, strip in self.heredocs:
            body_start = pos
            while pos < len(text):
                line_end = text.find("\n", pos)
                line_end = len(text) if line_end < 0 else line_end
                line = text[pos:line_end]
                if (line.lstrip("\t") if strip else line).strip() == delimiter:
                    owner.heredoc = text[body_start:pos]
                    owner.end = self.base + line_end
                    pos = line_end + 1
                    break
                pos = line_end + 1
            else:
                owner.heredoc = text[body_start:]
                owner.end = self.base + len(text)
        self.heredocs = []
        return min(pos, len(text))

    def run(self) -> list[Command]:
        text, pos, size = self.text, 0, len(self.text)
        match_at = _LEX_RE.match
        while pos < size:
            match = match_at(text, pos)
            if match is None:  # only trailing spaces are left
                break
            kind, begin, pos = match.lastgroup, match.start(), match.end()
            start = match.end("ws")
            if start > begin and self.word_start >= 0:
                self.flush(begin)
            if kind == "word":
                raw = match.group(kind)
                if "'" in raw or '"' in raw or "\\" in raw:
                    self.add_word(raw, start)
                elif self.word_start < 0:
                    self.word, self.word_start = [raw], start
                else:
                    self.word.append(raw)
            elif kind == "other":
                self.add_word(match.group(kind), start)
            elif kind == "comment":
                if self.word_start >= 0:  # `a#b` is one word
                    self.add_word(match.group(kind), start)
                    continue
            elif kind == "heredoc":
                self.flush(start)
                current = self.current
                if current.start < 0:
                    current.start = self.base + start
                current.redirects.append(("<<", ""))
                self.heredocs.append((current, match.group("delim"), bool(match.group("dash"))))
            elif kind is not None:
                value = match.group(kind)
                self.operator(kind, value, start)
                if value == "\n" and self.heredocs:
                    pos = self.heredoc_bodies(pos)
        self.flush(size)
        self.finish("")
        done = {id(command) for command in self.done}  # a set: thousands of unclosed $( met
        while self.stack:  # an unclosed $( keeps its outer command
            _opener, outer, _word, _start, _quoted = self.stack.pop()
            if outer.words and id(outer) not in done:
                done.add(id(outer))
                self.done.append(outer)
        return self.done


def commands(text: str, base: int = 0) -> list[Command]:
    """Split shell code into simple commands (a lexer, not a parser; never raises).

    Quotes are removed from words, heredoc bodies belong to the command that opened them, and
    ``$(...)``, backticks and ``<(...)`` give nested commands while the outer one goes on.
    Offsets (``start``/``end``) are relative to ``base``. The result is shared: do not mutate.
    """
    if len(text) > CACHED_MAX:  # the words of an 8 MB command line would stay cached: ~60 MB
        return _Splitter(text, base).run()
    return list(_commands(text, base))


#: texts longer than this are not kept in the lexers' caches (nor in liveness's)
CACHED_MAX = 1 << 16


@functools.lru_cache(maxsize=4096)
def _commands(text: str, base: int) -> tuple[Command, ...]:
    return tuple(_Splitter(text, base).run())


def _substitutions(quoted: str, base: int) -> list[Command]:
    """Commands inside the ``$(...)`` and backticks of a double-quoted string."""
    found: list[Command] = []
    pos = 0
    while True:
        dollar, tick = quoted.find("$(", pos), quoted.find("`", pos)
        if dollar < 0 and tick < 0:
            return found
        if tick < 0 or 0 <= dollar < tick:
            start, depth, end = dollar + 2, 1, dollar + 2
            while end < len(quoted) and depth:
                depth += {"(": 1, ")": -1}.get(quoted[end], 0)
                end += 1
            inner_end = end - 1 if depth == 0 else end
        else:
            start = tick + 1
            inner_end = quoted.find("`", start)
            inner_end = len(quoted) if inner_end < 0 else inner_end
            end = inner_end + 1
        for command in commands(quoted[start:inner_end], base + start):
            command.sep = "$("
            found.append(command)
        pos = max(end, start)


# ---------------------------------------------------------------- PowerShell and cmd

_PS_TOKEN_RE = lazyre.compile(
    r"(?P<comment><#.*?#>|#[^\n]*)"
    r"|(?P<cont>`\r?\n)"
    r"|(?P<squote>'(?:[^']|'')*'?)"
    r"|(?P<dquote>\"(?:[^\"`]|`.|\"\")*\"?)"
    r"|(?P<op>&&|\|\||[;|{}()\n])"
    r"|(?P<ws>[ \t\r]+)"
    r"|(?P<word>[^\s;|{}()'\"]+)",
    re.DOTALL,
)
_CMD_TOKEN_RE = lazyre.compile(
    r"(?P<comment>^[ \t@]*(?:rem\b|::)[^\n]*)"
    r"|(?P<cont>\^\r?\n)"
    r"|(?P<dquote>\"[^\"\n]*\"?)"
    r"|(?P<op>&&|\|\||[&|()\n])"
    r"|(?P<ws>[ \t\r]+)"
    r"|(?P<word>[^\s&|()\"]+)",
    re.IGNORECASE | re.MULTILINE,
)
_PS_KEYWORDS = frozenset({
    "if", "elseif", "else", "foreach", "for", "while", "do", "until", "switch", "try", "catch",
    "finally", "return", "param", "function", "filter", "begin", "process", "end", "trap",
    "throw", "exit", "break", "continue", "in", "=", "&", ".", "@"})


def windows_commands(text: str, powershell: bool) -> list[Command]:
    """PowerShell pipelines or cmd.exe lines as simple commands (``$x = Remove-Item`` keeps
    only the command; keywords, call operators and ``@echo off`` prefixes are skipped)."""
    found: list[Command] = []
    current = Command()
    pattern = _PS_TOKEN_RE if powershell else _CMD_TOKEN_RE
    for match in pattern.finditer(text):
        kind, value = match.lastgroup, match.group(0)
        if kind in ("comment", "cont", "ws"):
            continue
        if kind == "op":
            if current.words:
                found.append(current)
            current = Command(sep=value)
            continue
        if kind == "squote":
            value = value[1:-1].replace("''", "'") if value.endswith("'") and len(value) > 1 \
                else value[1:]
        elif kind == "dquote":
            value = value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:]
        elif not current.words and (value.lower() in _PS_KEYWORDS or value.startswith("$")
                                    or value.startswith("[")):
            continue  # `$x = Remove-Item ...`, `& tool`, `[void](...)`: the command comes next
        if current.start < 0:
            current.start = match.start()
        current.end = match.end()
        current.words.append(value.lstrip("@") if not current.words else value)
        current.quoted.append(kind in ("squote", "dquote"))
    if current.words:
        found.append(current)
    return found
