"""Where a value lands in shell code: the quoting layers around a position, outermost first.

A value substituted into a runbook command is data, so it must be quoted for every layer that
will read it: a shell word, single or double quotes, ``$'...'``, backticks, a here-document, an
arithmetic expression, the string another shell runs (``bash -c '...'``, ``ssh host '...'``,
``eval``, a here-document fed to ``bash`` or ``ssh``) and SQL fed to a database client. This
module only finds the layers (``quoting.py`` escapes for them); it follows bash's grammar for
those constructs and nothing more, and it never runs anything. No jinja here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .. import lazyre
from ..parse.consoles import client_language, shell_words


@dataclass(frozen=True)
class Layer:
    """One reader of the value. ``kind`` picks the escaping (see quoting.ESCAPES)."""

    kind: str
    delimiter: str = ""  # here-documents
    strip_tabs: bool = False  # ``<<-``
    in_dquote: bool = False  # backticks inside double quotes also unescape ``\\"``
    dialect: str = ""  # SQL: psql, mysql, sqlite
    tag: str = ""  # PostgreSQL dollar quotes; for sql_comment: line or block


Context = tuple[Layer, ...]

WORD, SQUOTE, DQUOTE, ANSI = Layer("word"), Layer("squote"), Layer("dquote"), Layer("ansi")
ARITH, OPAQUE = Layer("arith"), Layer("opaque")
DQUOTE_PARAM = Layer("dquote_param")  # the word of "${name:-word}"
#: a value used inside a local expansion of a string another program reads as code: it would
#: reach that program through the local command's output, which nothing can quote for
REFUSE = Layer("refuse")
_DIRECT = Layer("direct")  # scanning only: a span right in text another reader gets

_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "busybox"})
_SQL_CLIENTS = {"psql": "psql", "mysql": "mysql", "mariadb": "mysql", "sqlite3": "sqlite"}
_SQL_FLAGS = frozenset({"-c", "--command", "-e", "--execute"})
_CODE_FLAGS = {"python": "-c", "python3": "-c", "python2": "-c", "perl": "-e", "ruby": "-e",
               "node": "-e", "php": "-r"}
_ARITH_OPS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_SSH_VALUE_FLAGS = set("BbcDEeFIiJLlmOopQRSWw")
_HEREDOC_RE = lazyre.compile(r"<<(-?)[ \t]*(?:(['\"])(.*?)\2|\\?([^\s;&|<>()'\"]+))")
_ASSOC_RE = lazyre.compile(r"\b(?:declare|typeset|local)\s+-\w*A\w*\s+([A-Za-z_]\w*)")
_PARAM_NAME_RE = lazyre.compile(r"[!#]?(?:[A-Za-z_]\w*|[0-9]+|[@*#?$!-])")
_WORD_END = frozenset(" \t\n;&|()<>")


@dataclass(frozen=True)
class Role:
    """What reads a word besides this shell: another shell, a SQL client, other code, arithmetic."""

    kind: str  # shell, sql, opaque, arith
    dialect: str = ""


@dataclass
class Heredoc:
    """A here-document whose operator has been read; its body follows the next newline."""

    delimiter: str
    quoted: bool
    strip_tabs: bool
    role: Role | None
    start: int = 0  # body, once read
    end: int = 0


def _base(word: str) -> str:
    return word.rsplit("/", 1)[-1].strip("'\"")


# ---------------------------------------------------------------- roles of words and heredocs


def _ssh_remote_index(words: list[str], ssh: int) -> int | None:
    """Index of the first word of ssh's remote command, or None when there is none yet."""
    k = ssh + 1
    while k < len(words):
        word = words[k]
        if word.startswith("-") and len(word) > 1:
            k += 2 if word[-1] in _SSH_VALUE_FLAGS and len(word) == 2 else 1
            continue
        return k + 1  # words[k] is the destination
    return None


#: commands that run the rest of their words as a command (``sudo -u x psql``), and their
#: options that take a value
_PREFIXES = {"sudo": set("ugCDhpTrt"), "doas": set("uC"), "env": set("uSC"), "nice": set("n"),
             "nohup": set(), "time": set(), "exec": set("a"), "command": set(),
             "timeout": set("sk"), "stdbuf": set("ioe"), "xargs": set("IdEaLnPs")}


def command_start(words: list[str]) -> int:
    """Index of the command word in a simple command (assignments and prefixes skipped)."""
    k = 0
    while k < len(words):
        word = words[k]
        base = _base(word)
        if re.match(r"[A-Za-z_]\w*=", word):
            k += 1
        elif base in _PREFIXES:
            k += 1
            while k < len(words) and (words[k].startswith("-") or "=" in words[k]
                                      or (base == "timeout" and words[k][:1].isdigit())):
                flag = words[k]
                k += 2 if len(flag) == 2 and flag[1:] in _PREFIXES[base] else 1
        else:
            return k
    return k


def word_role(words: list[str], partial: str = "") -> Role | None:
    """The role of the word that follows ``words`` in a simple command (``partial``: its start)."""
    here = len(words)
    first = command_start(words)
    if first >= here:
        return None
    base = _base(words[first])
    if base == "let":
        return Role("arith")
    if base in ("eval", "watch"):  # both join their words and hand them to a shell
        return Role("shell")
    if base == "ssh":
        remote = _ssh_remote_index(words, first)
        if remote is not None and here >= remote:
            return Role("shell")
    for k in range(first, here):
        name = _base(words[k])
        if name in _SHELLS and k + 2 == here and re.fullmatch(r"-[a-z]*c", words[k + 1]):
            return Role("shell")  # bash -c CODE, also after docker exec / kubectl exec --
        if name in _SQL_CLIENTS:
            dialect = _SQL_CLIENTS[name]
            if words[-1] in _SQL_FLAGS or re.match(r"--(?:command|execute)=", partial):
                return Role("sql", dialect)
            positional = [w for w in words[k + 1:] if not w.startswith("-")]
            if name == "sqlite3" and len(positional) == 1:
                return Role("sql", dialect)
        flag = _CODE_FLAGS.get("python" if name.startswith("python") else name)
        if flag and k + 2 == here and words[-1] == flag:
            return Role("opaque")
    return None


def heredoc_role(words: list[str]) -> Role | None:
    """What reads a here-document given to ``words``: a shell, a SQL client, other code, or data."""
    language = client_language(words) if words else None
    bases = [_base(w) for w in words]
    if language in ("psql", "sql", "sqlite"):
        return Role("sql", {"psql": "psql", "sql": "mysql", "sqlite": "sqlite"}[language])
    if language == "shell":
        return Role("shell")
    for k, base in enumerate(bases):
        if base == "ssh":
            remote = _ssh_remote_index(words, k)
            if remote is None or remote >= len(words) or _base(words[remote]) in _SHELLS:
                return Role("shell")  # the remote login shell (or bash -s) reads stdin
        if base in _SHELLS and not any(re.fullmatch(r"-[a-z]*c", w) for w in words[k + 1:]) \
                and not [w for w in words[k + 1:] if not w.startswith("-")]:
            return Role("shell")
        if base in _SQL_CLIENTS:
            return Role("sql", _SQL_CLIENTS[base])
        if base.startswith("python") or base in _CODE_FLAGS:
            return Role("opaque")
    return None


def language_role(interpreter: str | None) -> Role | None:
    """What reads a step's code on stdin: None for our own shell, else its interpreter."""
    if not interpreter:
        return None
    words = shell_words(interpreter) or interpreter.split()
    role = heredoc_role(words)
    return role if role is not None else Role("opaque")


# ---------------------------------------------------------------- the scanner


class Scanner:
    """Walks shell code once, recording the context of each span start it is asked about."""

    def __init__(self, text: str, spans: dict[int, int]) -> None:
        self.text = text
        self.spans = spans
        self.found: dict[int, Context] = {}
        self.heredocs: list[Heredoc] = []
        self.assoc = set(_ASSOC_RE.findall(text))

    def _record(self, i: int, context: Context) -> int:
        self.found[i] = context
        return self.spans[i]

    # -- shell code ---------------------------------------------------------------------------

    def shell(self, i: int, end: int, outer: Context, stop: str = "") -> int:
        """Scan code from ``i`` to ``end`` or to ``stop`` at nesting 0; the index after it."""
        text = self.text
        words: list[str] = []
        word = ""
        pending: list[Heredoc] = []
        depth = 0

        def flush() -> None:
            nonlocal word
            if word:
                words.append(word)
                word = ""

        while i < end:
            if i in self.spans:
                role = word_role(words, word)
                start = i
                i = self._record(i, outer + self._word_layers(role, words, word, start))
                word += "_" * (i - start)
                continue
            c = text[i]
            if stop and depth == 0 and text.startswith(stop, i):
                return i + len(stop)
            if c == "\\":
                word += text[i:i + 2]
                i += 2
            elif c in " \t":
                flush()
                i += 1
            elif c == "\n":
                flush()
                words = []
                i += 1
                if pending:
                    i = self._bodies(i, end, pending, outer)
                    pending = []
            elif c in ";&|":
                flush()
                words = []
                i += 1
            elif c == "#" and not word:
                newline = text.find("\n", i, end)
                i = end if newline < 0 else newline
            elif c == "'":
                role = word_role(words, word)
                close = text.find("'", i + 1, end)
                close = end if close < 0 else close
                self._content(i + 1, close, outer + (SQUOTE,), role, escapes="")
                word += text[i:close + 1]
                i = close + 1
            elif text.startswith("$'", i):
                close = _ansi_end(text, i + 2, end)
                self._flat(i + 2, close, outer + (ANSI,))
                word += text[i:close + 1]
                i = close + 1
            elif c == '"' or text.startswith('$"', i):
                role = word_role(words, word)
                begin = i + (2 if c == "$" else 1)
                close = self.dquote(begin, end, outer, role)
                word += text[i:close]
                i = close
            elif text.startswith("$((", i) or text.startswith("$[", i):
                close = self.arith(i + (3 if text[i + 1] == "(" else 2), end, outer,
                                   "))" if text[i + 1] == "(" else "]")
                word += text[i:close]
                i = close
            elif text.startswith("$(", i):
                close = self.shell(i + 2, end, outer, ")")
                word += text[i:close]
                i = close
            elif text.startswith("${", i):
                close = self.param(i + 2, end, outer, WORD)
                word += text[i:close]
                i = close
            elif c == "`":
                close = self.shell(i + 1, end, outer + (Layer("backtick"),), "`")
                word += text[i:close]
                i = close
            elif text.startswith("<<<", i):
                flush()
                i += 3
            elif text.startswith("<<", i):
                flush()
                match = _HEREDOC_RE.match(text, i, end)
                if match is None:
                    i += 2
                    continue
                if match.group(2):
                    quoted, delimiter = True, match.group(3)
                else:  # <<\EOF is quoted too
                    quoted, delimiter = text[match.start(4) - 1] == "\\", match.group(4)
                pending.append(Heredoc(delimiter, quoted, bool(match.group(1)),
                                       heredoc_role(words)))
                i = match.end()
            elif c == "(" and not word and not words and text.startswith("((", i):
                i = self.arith(i + 2, end, outer, "))")
            elif c == "(":
                flush()
                depth += 1
                i += 1
            elif c == ")":
                flush()
                words = []
                depth = max(depth - 1, 0)
                i += 1
            elif c in "<>":
                flush()
                i += 1
            else:
                word += c
                i += 1
        return end

    def _word_layers(self, role: Role | None, words: list[str], word: str,
                     start: int) -> Context:
        """Layers for a span in an unquoted word of this shell."""
        if role is not None:
            return (WORD, *_inner_layers(role))
        if "[[" in words and (words[-1] in _ARITH_OPS or
                              _next_word(self.text, start) in _ARITH_OPS):
            return (ARITH,)  # [[ a -eq b ]] evaluates both sides as arithmetic
        subscript = re.search(r"([A-Za-z_]\w*)\[[^\]]*$", word)
        if subscript and subscript.group(1) not in self.assoc:
            return (ARITH,)  # an indexed array's subscript is arithmetic
        return (WORD,)

    # -- quoted text --------------------------------------------------------------------------

    def _content(self, start: int, end: int, outer: Context, role: Role | None,
                 escapes: str) -> None:
        """Spans inside quoted text from ``start`` to ``end``, read as ``role`` says."""
        if role is None or role.kind in ("opaque", "arith"):
            self._flat(start, end, outer + _inner_layers(role))
        elif role.kind == "shell":
            self._inner(start, end, outer, escapes, lambda sc, s, e, o: sc.shell(s, e, o))
        else:
            dialect = role.dialect
            self._inner(start, end, outer, escapes, lambda sc, s, e, o: sc.sql(s, e, o, dialect))

    def _flat(self, start: int, end: int, context: Context) -> None:
        for i in [s for s in self.spans if start <= s < end]:
            self.found[i] = context[:-1] + (self._line_start(context[-1], i),) if context \
                else context

    def _line_start(self, layer: Layer, i: int) -> Layer:
        """``<<-`` strips the tabs a line starts with: a value at a line's start says so."""
        if layer.strip_tabs and not self.text[self.text.rfind("\n", 0, i) + 1:i].strip("\t"):
            return replace(layer, tag="line-start")
        return layer

    def _inner(self, start: int, end: int, outer: Context, escapes: str,
               scan: Callable[[Scanner, int, int, Context], object]) -> None:
        """Scan what the inner reader sees: the content with this shell's escapes removed."""
        seen, where = _unescape(self.text, start, end, escapes)
        position = {source: k for k, source in enumerate(where)}
        inner = Scanner(seen, {position[s]: position.get(e, len(seen))
                               for s, e in self.spans.items() if s in position and s < end})
        inner.assoc = self.assoc
        scan(inner, 0, len(seen), outer)
        for at, context in inner.found.items():
            self.found[where[at]] = context

    def _read_as(self, start: int, end: int, outer: Context, layer: Layer, role: Role | None,
                 escapes: str, stop: str) -> int:
        """Text where only ``\\``, ``$`` and backticks act (double quotes, here-documents) that
        another program may read as code; the index after ``stop``."""
        if role is None:
            return self._expansions(start, end, outer, layer, stop)
        close = self._expansions(start, end, outer, _DIRECT, stop)
        local = {i: c for i, c in self.found.items() if start <= i < close}
        self._content(start, close - len(stop) if close < end or stop else close,
                      outer + (layer,), role, escapes)
        for i, context in local.items():
            if context[-1] is not _DIRECT:  # inside a local $(...): see REFUSE
                self.found[i] = outer + (REFUSE,)
        return close

    def dquote(self, i: int, end: int, outer: Context, role: Role | None) -> int:
        """Double-quoted text from ``i``; the index after its closing quote."""
        return self._read_as(i, end, outer, DQUOTE, role, '\\$`"', '"')

    def _expansions(self, i: int, end: int, outer: Context, layer: Layer, stop: str) -> int:
        """Text where only ``\\``, ``$`` and backticks act (double quotes, here-documents):
        spans in it get ``layer``; those in its expansions get theirs."""
        text = self.text
        while i < end:
            if i in self.spans:
                i = self._record(i, outer + (self._line_start(layer, i),))
                continue
            if stop and text.startswith(stop, i):
                return i + len(stop)
            if text[i] == "\\":
                i += 2
            elif text.startswith("$((", i):
                i = self.arith(i + 3, end, outer, "))")
            elif text.startswith("$(", i):
                i = self.shell(i + 2, end, outer, ")")
            elif text.startswith("${", i):
                i = self.param(i + 2, end, outer, layer)
            elif text[i] == "`":
                i = self.shell(i + 1, end, outer + (Layer("backtick", in_dquote=stop == '"'),),
                               "`")
            else:
                i += 1
        return end

    def arith(self, i: int, end: int, outer: Context, stop: str) -> int:
        depth = 0
        while i < end:
            if i in self.spans:
                i = self._record(i, outer + (ARITH,))
                continue
            if depth == 0 and self.text.startswith(stop, i):
                return i + len(stop)
            if self.text.startswith("$(", i) and not self.text.startswith("$((", i):
                i = self.shell(i + 2, end, outer, ")")
                continue
            depth += {"(": 1, ")": -1}.get(self.text[i], 0)
            i += 1
        return end

    def param(self, i: int, end: int, outer: Context, layer: Layer) -> int:
        """``${...}`` from after ``${``; the index after its ``}``."""
        text = self.text
        match = _PARAM_NAME_RE.match(text, i, end)
        name = match.group(0).lstrip("!#") if match else ""
        i = match.end() if match else i
        if i < end and text[i] == "[":
            close = text.find("]", i, end)
            close = end if close < 0 else close
            self._flat(i + 1, close, outer + ((layer,) if name in self.assoc else (ARITH,)))
            i = close + 1
        if i < end and text[i] == ":" and text[i + 1:i + 2] not in ("-", "=", "+", "?"):
            close = text.find("}", i, end)
            close = end if close < 0 else close
            self._flat(i, close, outer + (ARITH,))  # ${x:offset:length}
            return close + 1
        if layer is WORD:
            return self.shell(i, end, outer, "}")
        return self._expansions(i, end, outer, DQUOTE_PARAM if layer is DQUOTE else layer, "}")

    # -- here-documents -----------------------------------------------------------------------

    def _bodies(self, i: int, end: int, pending: list[Heredoc], outer: Context) -> int:
        for doc in pending:
            doc.start = i
            while i < end:
                newline = self.text.find("\n", i, end)
                line_end = end if newline < 0 else newline
                line = self.text[i:line_end]
                if (line.lstrip("\t") if doc.strip_tabs else line) == doc.delimiter:
                    break
                i = line_end + 1
            doc.end = min(i, end)
            self.heredocs.append(doc)
            self._body(doc, outer)
            newline = self.text.find("\n", doc.end, end)
            i = end if newline < 0 else newline + 1
        return i

    def _body(self, doc: Heredoc, outer: Context) -> None:
        layer = Layer("heredoc_q" if doc.quoted else "heredoc", delimiter=doc.delimiter,
                      strip_tabs=doc.strip_tabs)
        if doc.quoted:
            self._content(doc.start, doc.end, outer + (layer,), doc.role, escapes="")
        else:
            self._read_as(doc.start, doc.end, outer, layer, doc.role, "\\$`", "")

    # -- SQL ----------------------------------------------------------------------------------

    def sql(self, i: int, end: int, outer: Context, dialect: str) -> int:
        """SQL text fed to a client: strings, identifiers, comments and dollar quotes."""
        text = self.text
        while i < end:
            if i in self.spans:
                i = self._record(i, outer + (Layer("sql_bare", dialect=dialect),))
                continue
            c = text[i]
            two = text[i:i + 2]
            estring = c in "eE" and text[i + 1:i + 2] == "'" and \
                (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))
            if c == "'" or estring:
                backslash = dialect == "mysql" or estring
                start = i + (2 if estring else 1)
                close = _sql_quote_end(text, start, end, "'", backslash)
                self._flat(start, close, outer + (Layer("sql_string", dialect=dialect,
                                                        tag="backslash" if backslash else ""),))
                i = close + 1
            elif c in '"`':
                close = _sql_quote_end(text, i + 1, end, c, dialect == "mysql" and c == '"')
                kind = "sql_string" if dialect == "mysql" and c == '"' else "sql_ident"
                self._flat(i + 1, close, outer + (Layer(kind, dialect=dialect, tag=c),))
                i = close + 1
            elif two == "--" or (c == "#" and dialect == "mysql"):
                close = text.find("\n", i, end)
                close = end if close < 0 else close
                self._flat(i, close, outer + (Layer("sql_comment", tag="line"),))
                i = close
            elif two == "/*":
                close = text.find("*/", i + 2, end)
                close = end if close < 0 else close
                self._flat(i, close, outer + (Layer("sql_comment", tag="block"),))
                i = close + 2
            elif c == "$" and dialect == "psql" and (m := re.match(r"\$(\w*)\$", text[i:end])):
                tag = m.group(0)
                close = text.find(tag, i + len(tag), end)
                close = end if close < 0 else close
                self._flat(i + len(tag), close, outer + (Layer("sql_dollar", tag=tag),))
                i = close + len(tag)
            else:
                i += 1
        return end


def _inner_layers(role: Role | None) -> Context:
    if role is None:
        return ()
    if role.kind == "sql":
        return (Layer("sql_bare", dialect=role.dialect),)
    return {"shell": (WORD,), "opaque": (OPAQUE,), "arith": (ARITH,)}[role.kind]


def _ansi_end(text: str, i: int, end: int) -> int:
    while i < end and text[i] != "'":
        i += 2 if text[i] == "\\" else 1
    return min(i, end)


def _sql_quote_end(text: str, i: int, end: int, quote: str, backslash: bool) -> int:
    while i < end:
        if backslash and text[i] == "\\":
            i += 2
        elif text[i] == quote:
            if text[i + 1:i + 2] == quote:
                i += 2
                continue
            return i
        else:
            i += 1
    return end


def _next_word(text: str, i: int) -> str:
    while i < len(text) and text[i] not in _WORD_END:
        i += 1
    match = re.match(r"[ \t]*(\S+)", text[i:i + 64])
    return match.group(1) if match else ""


def _unescape(text: str, start: int, end: int, escapes: str) -> tuple[str, list[int]]:
    """The text an inner reader gets once this shell removed its backslashes before
    ``escapes`` (and backslash-newlines), with the source index of each character (plus end)."""
    out: list[str] = []
    where: list[int] = []
    i = start
    while i < end:
        if escapes and text[i] == "\\" and i + 1 < end and (text[i + 1] in escapes
                                                           or text[i + 1] == "\n"):
            if text[i + 1] != "\n":
                out.append(text[i + 1])
                where.append(i + 1)
            i += 2
            continue
        out.append(text[i])
        where.append(i)
        i += 1
    where.append(end)
    return "".join(out), where


def contexts(code: str, spans: Sequence[tuple[int, int]], role: Role | None = None
             ) -> tuple[list[Context], list[Heredoc]]:
    """The context of each span of ``code`` (masked: spans hold no shell syntax), and the
    here-documents found, for the caller's check that a value did not end one early."""
    masked = list(code)
    for start, end in spans:
        masked[start:end] = "_" * (end - start)
    scanner = Scanner("".join(masked), dict(spans))
    if role is None or role.kind == "shell":
        scanner.shell(0, len(code), ())
    elif role.kind == "sql":
        scanner.sql(0, len(code), (), role.dialect)
    else:
        scanner._flat(0, len(code), _inner_layers(role))
    return [scanner.found.get(start, (WORD,)) for start, _ in spans], scanner.heredocs
