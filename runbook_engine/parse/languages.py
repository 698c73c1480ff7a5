"""One step per command in languages other than shell: SQL, PowerShell, JavaScript/mongo, Python,
Redis and Windows cmd. Each splitter returns fragments with ``lang`` set; the block reader decides
whether they are fed to a client or left to the operator as manual steps."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator

from .. import lazyre
from .lines import PSQL_META, SQL_START, Fragment, dedent

_SQL_COMMENT = lazyre.compile(r"^\s*(?:--|#(?!\w)|//)\s?(.*)$")
_SQL_OUTPUT = lazyre.compile(r"^\s*(?:[+|]-|\(\d+ rows?\)|-{3,}|\*{5,}|Query OK|Empty set"
                             r"|\d+ rows? in set|[\w ]+\|)")
_DOLLAR = lazyre.compile(r"\$[A-Za-z_]*\$")
#: words that start statements beyond the everyday ones of lines.SQL_START
_SQL_MORE = lazyre.compile(
    r"^(?:CALL|DO|EXEC|EXECUTE|MERGE|START|STOP|RESET|LOAD|OPTIMIZE|FLUSH|KILL|CHECKPOINT|DECLARE"
    r"|PREPARE|DEALLOCATE|NOTIFY|LISTEN|DISCARD|CHANGE|PURGE|INSTALL|UNINSTALL|REPAIR|CHECK|DESC"
    r"|RENAME|REPLACE|SOURCE|CONNECT|SAVEPOINT|RELEASE|ABORT|END|TABLE|VALUES|COMMENT|IMPORT"
    r"|FETCH|CLOSE|SECURITY|REASSIGN|CLUSTER|KEYS|STATUS|DBCC|BACKUP|RESTORE|SYSTEM|RECOVER"
    r"|DETACH|ATTACH|GO)\b", re.IGNORECASE)
#: console commands typed without a ``;`` (SQL*Plus, cqlsh, psql/mysql clients): one a line
_LINE_COMMANDS = lazyre.compile(
    r"^(?:conn(?:ect)?|startup|shutdown|archive\s+log|spool|host|prompt|whenever|define|exit"
    r"|quit|desc(?:ribe)?|show|use|source|set\s+(?:serveroutput|linesize|pagesize|timing"
    r"|echo|feedback|heading)|@@?\S*)\b(?![^;]*;\s*$)", re.IGNORECASE)


_BEGIN = lazyre.compile(r"^(?:BEGIN|START\s+TRANSACTION)\b\s*(?:TRANSACTION|WORK)?\s*;", re.I)
_END = lazyre.compile(r"^\s*(?:COMMIT|ROLLBACK|END)\b[^;]*;\s*(?:--.*)?$", re.I)


def is_sql_start(line: str) -> bool:
    """Whether a line starts an SQL statement (any letter case) or a client meta-command."""
    s = line.strip()
    return bool(SQL_START.match(s.upper()) or _SQL_MORE.match(s) or PSQL_META.match(s))


def _statement_end(text: str, start: int) -> int:
    """Index just past the end of the SQL statement starting at ``start`` (``;``, ``\\G``, a
    ``GO`` line), quotes, dollar quotes and comments skipped; len(text) if it runs to the end."""
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            j = text.find(c, i + 1)
            while j != -1 and j + 1 < n and text[j + 1] == c:  # '' escape
                j = text.find(c, j + 2)
            i = n if j == -1 else j + 1
            continue
        if c == "$":
            m = _DOLLAR.match(text, i)
            if m:
                j = text.find(m.group(), m.end())
                i = n if j == -1 else j + len(m.group())
                continue
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j == -1 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j == -1 else j + 2
            continue
        if c == ";":
            return i + 1
        if c == "\\" and i + 1 < n and text[i + 1] in "Gg":
            return i + 2
        if c == "\n" and re.match(r"[ \t]*GO[ \t]*(?:\n|$)", text[i + 1:]):
            return i + 1
        i += 1
    return n


def split_sql(code: str) -> list[Fragment]:
    """One fragment per statement or psql/mysql meta-command; comments above title them; result
    tables printed after a statement are its expected output."""
    out: list[Fragment] = []
    line_starts = [0]
    for m in re.finditer("\n", code):
        line_starts.append(m.end())
    lines = code.split("\n")
    title: str | None = None
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        comment = _SQL_COMMENT.match(lines[i])
        if not s or s.upper() == "GO":
            i += 1
            continue
        if comment and not s.startswith("#!"):
            title = comment.group(1).strip() or title
            i += 1
            continue
        if _SQL_OUTPUT.match(lines[i]) and not SQL_START.match(s.upper()):
            j = i
            while j + 1 < len(lines) and lines[j + 1].strip() and \
                    not SQL_START.match(lines[j + 1].strip().upper()):
                j += 1
            _attach_output(out, dedent("\n".join(lines[i:j + 1])), i)
            i = j + 1
            continue
        if not is_sql_start(s) and not s.startswith(".") and not _LINE_COMMANDS.match(s) \
                and not _terminated(code, line_starts[i]):
            j = i  # not SQL: a setting, a note; documentation up to a blank line or SQL
            while j + 1 < len(lines) and lines[j + 1].strip() and not is_sql_start(lines[j + 1]):
                j += 1
            out.append(Fragment("doc", dedent("\n".join(lines[i:j + 1])), i, title))
            title, i = None, j + 1
            continue
        if PSQL_META.match(s) or s.startswith(".") or s.lower() in ("exit", "quit", "\\q") or \
                _LINE_COMMANDS.match(s):
            out.append(Fragment("command", s, i, title, lang="sql"))
            title, i = None, i + 1
            continue
        end = _statement_end(code, line_starts[i])
        if _BEGIN.match(s):  # each step is its own client process: a transaction stays whole
            while end < len(code) and not _END.match(code[line_starts[i]:end].rstrip().split(
                    "\n")[-1]):
                nxt = _statement_end(code, end)
                if nxt <= end:
                    break
                end = nxt
        last = code.count("\n", 0, max(end - 1, line_starts[i]))
        text = dedent(code[line_starts[i]:end])
        out.append(Fragment("command", text, i, title, lang="sql"))
        title = None
        i = last + 1
    return out


def _terminated(code: str, start: int) -> bool:
    """A statement the client does not know by its first word that still reads as one: a word,
    then text up to a ``;`` before any blank line (``DBCC CHECKDB ('x');``, ``OPTIMIZE ...;``)."""
    if not re.match(r"[A-Za-z_]\w*\s", code[start:]) or re.match(r"[\w.]+\s*[=:]", code[start:]):
        return False  # `shared_buffers = 2GB`: a setting
    stop = code.find("\n\n", start)  # a statement never spans a blank line here
    chunk = code[start:stop if stop >= 0 else len(code)][:4000]  # bounded: plan time stays linear
    return chunk[:_statement_end(chunk, 0)].rstrip().endswith(";")


def _attach_output(out: list[Fragment], text: str, line: int) -> None:
    if out and out[-1].kind == "command":
        prev = out[-1]
        joined = f"{prev.expected_output}\n{text}" if prev.expected_output else text
        out[-1] = Fragment(prev.kind, prev.code, prev.line_offset, prev.title, prev.choice,
                           prev.target, prev.interpreter, joined, prev.lang, "printed")
    else:
        out.append(Fragment("doc", text, line))


# ---------------------------------------------------------------- PowerShell

_PS_COMMENT = lazyre.compile(r"^\s*#\s?(.*)$")
_PS_COMMAND = lazyre.compile(r"^\s*(?:[A-Z][a-z]+-[A-Za-z]+|\$[\w:]+(?:\.\w+)*\s*[-+*/]?=|&|\.\\|"
                             r"\.\s|\[[\w.]+\]::|[a-z][\w.-]*(?:\.exe)?\b|if\b|foreach\b|for\b|"
                             r"while\b|try\b|function\b|param\b|\$)", re.IGNORECASE)


def _ps_depth(line: str, depth: int, in_here: bool) -> tuple[int, bool]:
    """Bracket depth after ``line`` (strings and comments skipped) and whether a here-string is
    still open."""
    if in_here:
        return depth, not re.match(r"^\s*['\"]@", line)
    if re.search(r"@['\"]\s*$", line):
        return depth, True
    stripped = re.sub(r"'[^']*'|\"(?:[^\"`]|`.)*\"|#.*$", "", line)
    return depth + sum(stripped.count(c) for c in "({[") - sum(stripped.count(c) for c in ")}]"), \
        False


def _statements(lines: list[str], comment: Callable[[str], str | None],
                extent: Callable[[list[str], int], int]) -> Iterator[tuple[int, int, str | None]]:
    """(first line, last line, title) of each statement: blank lines skipped, comment lines
    (``comment`` gives their text, None for code) title the statement after them."""
    title: str | None = None
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        text = comment(lines[i])
        if text is not None:
            title, i = text or title, i + 1
            continue
        end = extent(lines, i)
        yield i, end, title
        title, i = None, end + 1


def _ps_comment(line: str) -> str | None:
    m = _PS_COMMENT.match(line)
    return m.group(1).strip() if m else None


def _ps_output(line: str) -> bool:
    return not _PS_COMMAND.match(line) or bool(re.match(r"^\s*-{3,}", line))


def _ps_extent(lines: list[str], i: int) -> int:
    """Last line of the pipeline (or of the printed output, or block comment) starting at i."""
    if lines[i].strip().startswith("<#"):
        while i + 1 < len(lines) and "#>" not in lines[i]:
            i += 1
        return i
    if _ps_output(lines[i]):
        while i + 1 < len(lines) and lines[i + 1].strip() and _ps_output(lines[i + 1]):
            i += 1
        return i
    depth, here = 0, False
    while True:
        depth, here = _ps_depth(lines[i], depth, here)
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        more = here or depth > 0 or lines[i].rstrip().endswith(("`", "|")) or \
            nxt.startswith(("|", "."))
        if not more or i + 1 >= len(lines):
            return i
        i += 1


def split_powershell(code: str) -> list[Fragment]:
    """One fragment per pipeline (backtick, pipe and bracket continuations); comments title the
    next one; aligned-column lines that are no command are the output of the one above."""
    lines = code.split("\n")
    out: list[Fragment] = []
    for start, end, title in _statements(lines, _ps_comment, _ps_extent):
        text = dedent("\n".join(lines[start:end + 1]))
        if text.startswith("<#"):
            continue
        if _ps_output(lines[start]):
            _attach_output(out, text, start)
        elif re.match(r"^(?:function|filter|class|enum|workflow)\s|^configuration\s+[\w-]+\s*\{",
                      text, re.IGNORECASE):
            # a helper to keep, or a DSC configuration to compile later: not a step
            out.append(Fragment("doc", text, start, title))
        else:
            out.append(Fragment("command", text, start, title, lang="powershell"))
    return out


# ---------------------------------------------------------------- JavaScript / mongo shell

_JS_DEFINITION = lazyre.compile(r"^\s*(?:function\b|const\b|let\b|var\b|class\b|import\b|export\b|"
                                r"module\.exports|require\(|async\s+function\b|[\w$.]+\s*=[^=])")
_JS_CALL = lazyre.compile(r"^\s*(?!(?:if|for|while|switch|return|catch|function|typeof|new)\b)"
                          r"(?:await\s+)?(?:[\w$]+(?:\.[\w$]+|\[[^\]]*\])*\s*\(|(?:db|rs|sh)\.|"
                          r"use\s+\w+|show\s+\w+)")
_JS_PROGRAM = lazyre.compile(r"^\s*(?:return\b|if\s*\(|for\s*\(|while\s*\(|switch\s*\(|try\s*\{"
                             r"|app\.|router\.|describe\(|it\()", re.M)


def _js_comment(line: str) -> str | None:
    s = line.strip()
    return s.lstrip("/").strip() if s.startswith("//") else None


def _js_extent(lines: list[str], i: int) -> int:
    depth = 0
    while True:
        stripped = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`|//.*$", "", lines[i])
        depth += sum(stripped.count(c) for c in "({[") - sum(stripped.count(c) for c in ")}]")
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if (depth <= 0 and not nxt.startswith(".")) or i + 1 >= len(lines):
            return i
        i += 1


def split_javascript(code: str) -> list[Fragment]:
    """Top-level calls (``db.users.find()``, ``rs.status()``) are steps; definitions and config
    are documentation."""
    lines = code.split("\n")
    out: list[Fragment] = []
    for start, end, title in _statements(lines, _js_comment, _js_extent):
        text = dedent("\n".join(lines[start:end + 1]))
        call = _JS_CALL.match(text) and not _JS_DEFINITION.match(text)
        out.append(Fragment("command" if call else "doc", text, start, title,
                            lang="javascript" if call else None))
    return out if _console_like(code, out) else []


def _console_like(code: str, frags: list[Fragment]) -> bool:
    """Calls typed into a console, not a program (control flow, returns) nor mostly definitions:
    a program is documentation, whatever calls it makes."""
    if re.search(r"^\s*(?:db|rs|sh)\.\w", code, re.M):
        return True
    calls = sum(f.kind == "command" for f in frags)
    return not _JS_PROGRAM.search(code) and calls * 2 >= len(frags) > 0

# ---------------------------------------------------------------- Python

def split_python(code: str, fed: bool = False) -> list[Fragment]:
    """Top-level calls are steps; imports, definitions and assignments are documentation. Typed
    into a shell the runbook opened (``fed``), every top-level statement is a step."""
    try:
        tree = ast.parse(dedent(code))
    except (SyntaxError, ValueError):
        return []  # not Python 3 (a transcript, Python 2): documentation
    lines = dedent(code).split("\n")
    offset = _first_line(code)
    out: list[Fragment] = []
    definitions = ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef
    control = ast.If | ast.For | ast.While | ast.With | ast.Try
    if any(isinstance(node, definitions if fed else definitions | control) for node in tree.body):
        return []  # a program or a module (a file to write): documentation
    for node in tree.body:
        start, end = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        text = "\n".join(lines[start:end + 1])
        value = node.value if isinstance(node, ast.Expr) else None
        if isinstance(value, ast.Await):
            value = value.value
        call = fed or isinstance(value, ast.Call)
        out.append(Fragment("command" if call else "doc", text, start + offset, None,
                            lang="python" if call else None))
    calls = sum(f.kind == "command" for f in out)
    return out if calls * 2 >= len(out) > 0 else []


def _first_line(code: str) -> int:
    return next((i for i, x in enumerate(code.split("\n")) if x.strip()), 0)


# ---------------------------------------------------------------- line-per-command languages

def split_lines(code: str, lang: str, comment: str = "#") -> list[Fragment]:
    """Redis, Windows cmd: every line that is no comment is one command."""
    out: list[Fragment] = []
    title: str | None = None
    markers = (comment, "REM ", "rem ", "::") if lang == "cmd" else (comment,)
    for i, line in enumerate(code.split("\n")):
        s = line.strip()
        if not s:
            continue
        if s.startswith(markers):
            title = s.lstrip("#:").removeprefix("REM ").removeprefix("rem ").strip() or title
            continue
        out.append(Fragment("command", s, i, title, lang=lang))
        title = None
    return out


# ---------------------------------------------------------------- HTTP consoles, Ruby

_HTTP_LINE = lazyre.compile(r"^\s*(?:GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS)\s+\S")


def split_http(code: str) -> list[Fragment]:
    """Dev-tools style requests (``GET _cluster/health``, ``PUT index`` + a JSON body): one step
    per request, its body included; the client (a browser console, curl) is the operator's."""
    lines = code.split("\n")
    out: list[Fragment] = []
    for start, end, title in _statements(lines, _js_comment, _http_extent):
        text = dedent("\n".join(lines[start:end + 1]))
        if _HTTP_LINE.match(lines[start]):
            out.append(Fragment("command", text, start, title, lang="http"))
        else:
            _attach_output(out, text, start)
    return out


def _http_extent(lines: list[str], i: int) -> int:
    while i + 1 < len(lines) and lines[i + 1].strip() and not _HTTP_LINE.match(lines[i + 1]):
        i += 1
    return i


_RB_OPEN = lazyre.compile(r"^\s*(?:if|unless|case|while|until|begin|def|class|module)\b"
                          r"|\bdo\b(?:\s*\|[^|]*\|)?\s*$")


def _rb_extent(lines: list[str], i: int) -> int:
    depth = 0
    while True:
        stripped = re.sub(r"'[^']*'|\"[^\"]*\"|#(?!\{).*$", "", lines[i])
        depth += sum(stripped.count(c) for c in "({[") - sum(stripped.count(c) for c in ")}]")
        depth += len(_RB_OPEN.findall(stripped)) - len(re.findall(r"\bend\b", stripped))
        more = depth > 0 or stripped.rstrip().endswith(("\\", ",", ".", "|", "&&", "||"))
        if not more or i + 1 >= len(lines):
            return i
        i += 1


def split_ruby(code: str, fed: bool = False) -> list[Fragment]:
    """Console statements (a Rails console, irb): one step each; ``def``/``class``/``module``
    are documentation."""
    lines = code.split("\n")
    out: list[Fragment] = []
    for start, end, title in _statements(lines, _ps_comment, _rb_extent):
        text = dedent("\n".join(lines[start:end + 1]))
        definition = re.match(r"^(?:def|class|module|require)\b", text)
        out.append(Fragment("doc" if definition else "command", text, start, title,
                            lang=None if definition else "ruby"))
    calls = sum(f.kind == "command" for f in out)
    return out if fed or calls * 2 >= len(out) > 0 else []


SPLITTERS = {"sql": split_sql, "powershell": split_powershell, "javascript": split_javascript,
             "python": split_python, "http": split_http, "ruby": split_ruby}
