"""Command granularity: split a shell block into commands, alternatives, consoles and docs."""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Literal

from tree_sitter import Node, Parser

# How a block is read, in three passes over its lines:
# 1. a light lexer finds logical lines (quotes, `\`, heredocs, trailing `|`/`&&`) and each one is
#    classified: blank, comment, expected output, SQL/JSON doc, `ssh dest` opener, client console
#    with the lines it reads, or shell. Line-level first, because tree-sitter's error recovery on
#    SQL or JSON typed into a bash block glues unrelated lines together.
# 2. runs of shell lines go through tree-sitter-bash: its top-level nodes are the commands, and a
#    node with an error becomes a doc for that logical line only, then parsing resumes after it.
# 3. the assembler walks the items in order and attaches titles, `# Or` choices, ssh targets and
#    expected output.


@dataclass(frozen=True)
class Fragment:
    """One step-sized piece of a shell block (a command, a fed console, or documentation)."""

    kind: Literal["command", "doc"]
    code: str  # the command text (or the doc text)
    line_offset: int  # 0-based line within the block where it starts
    title: str | None = None  # the comment right before it
    choice: int | None = None  # same number = alternatives of one choice within this block
    target: str | None = None  # destination of a preceding session-opening `ssh dest` line
    interpreter: str | None = None  # client console command that receives `code` on stdin
    expected_output: str | None = None  # documented expected output that follows the command


@dataclass
class _Item:
    """A classified region of the block (internal): lines start..end inclusive."""

    kind: str  # blank comment shell cmd doc expected console ssh
    start: int
    end: int
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_PLACEHOLDER = re.compile(r"(?<!<)<[A-Za-z][A-Za-z0-9_.-]*>")
_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][\w-]*)\2")
_OR = re.compile(r"^(?:or|alternatively)\b[\s,:.\-]*(.*)$", re.IGNORECASE)
_EXPECTED = re.compile(
    r"^(expected(?:\s+[\w-]+){0,3}?\s+(?:output|response|result|reply|json|body)s?|expected"
    r"|(?:sample|example)\s+(?:output|response)|output|response|result"
    r"|should\s+(?:return|print|output|show)|returns?)\b\s*(:?)\s*(.*)$",
    re.IGNORECASE,
)
_SQL_START = re.compile(
    r"^(?:(?:SELECT|INSERT|UPDATE|DELETE|WITH|ALTER|CREATE|DROP|VACUUM|ANALYZE|EXPLAIN|TRUNCATE"
    r"|GRANT|REVOKE|REINDEX|BEGIN|COMMIT|ROLLBACK|SHOW|SET|USE|DESCRIBE|PRAGMA|CLUSTER|REFRESH"
    r"|COPY|LOCK|ATTACH|DETACH)\b|(?i:select\s.*\bfrom\b|insert\s+into|delete\s+from"
    r"|update\s+\S+\s+set\b|alter\s+table|vacuum\b|create\s+(?:unique\s+)?(?:table|index)))"
)
_PSQL_META = re.compile(r"^\\[A-Za-z?!]")
_JSON_START = re.compile(r"^(?:\{\s*\"[^\"]*\"\s*:|\[(?:\{|\"[^\"]*\"\s*[,\]]|\d))")
_JSON_NEXT = re.compile(r"^[\"{\[\d]")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_REDIS_WORDS = _words(
    "PING GET SET DEL KEYS SCAN INFO DBSIZE FLUSHDB FLUSHALL TTL PTTL EXPIRE EXISTS TYPE HGET "
    "HGETALL HSET HDEL HKEYS HLEN LRANGE LPUSH RPUSH LPOP RPOP LLEN SMEMBERS SADD SREM SCARD "
    "ZRANGE ZADD ZCARD ZSCORE INCR DECR MGET MSET CONFIG CLIENT SLOWLOG MEMORY MONITOR SELECT "
    "AUTH PUBLISH XADD XRANGE XLEN XINFO CLUSTER BGSAVE SAVE LASTSAVE OBJECT SCRIPT EVAL UNLINK "
    "RENAME PERSIST APPEND STRLEN SETEX SETNX LATENCY ACL COMMAND ECHO TIME"
)
# lowercase redis words that are not also everyday shell commands (ping, echo, time, set...)
_REDIS_LOWER = _words(
    "get hget hgetall hset keys scan dbsize flushdb flushall ttl expire lrange llen smembers "
    "zrange incr slowlog mget del"
)
_MONGO = re.compile(r"^(?:(?:db|rs|sh)\.\w|use\s+\w+;?$|show\s+(?:dbs|databases|collections)\b)")
_SHELLS = frozenset({"sh", "bash", "ash", "zsh", "dash", "/bin/sh", "/bin/bash", "/bin/ash"})
_OPERATORS = set("();<>|&")


@cache
def _parser() -> Parser:
    """The tree-sitter-bash parser, built once on first use."""
    import tree_sitter_bash
    from tree_sitter import Language

    return Parser(Language(tree_sitter_bash.language()))


def _mask(code: str) -> str:
    """Replace ``<name>`` placeholders by a same-length word (bash would read a redirection)."""
    return _PLACEHOLDER.sub(lambda m: "_" + "x" * (len(m.group()) - 2) + "_", code)


# ---------------------------------------------------------------- logical lines (light lexer)


def _scan_chars(line: str, stack: list[str]) -> tuple[bool, list[str]]:
    """Advance the quote/substitution ``stack`` over one line: (line continues, heredoc words)."""
    docs: list[str] = []
    idx, size = 0, len(line)
    code_end = size
    while idx < size:
        c, top = line[idx], (stack[-1] if stack else "")
        if top == "'":
            if c == "'":
                stack.pop()
        elif c == "\\":
            if idx == size - 1:
                return True, docs
            idx += 1
        elif top == '"':
            if c == '"':
                stack.pop()
            elif line.startswith("$(", idx):
                stack.append("$(")
                idx += 1
        elif c == "#" and (idx == 0 or line[idx - 1] in " \t;|&()"):
            code_end = idx
            break
        elif c in "'\"":
            stack.append(c)
        elif c == "`" and top == "`":
            stack.pop()
        elif c == "`":
            stack.append("`")
        elif line.startswith("$(", idx):
            stack.append("$(")
            idx += 1
        elif c == "(" and top in ("$(", "("):
            stack.append("(")
        elif c == ")" and top in ("$(", "("):
            stack.pop()
        elif line.startswith("<<", idx) and not line.startswith("<<<", idx):
            m = _HEREDOC.match(line, idx)
            if m:
                docs.append(m.group(3))
                idx = m.end()
                continue
        idx += 1
    tail = line[:code_end].rstrip()
    return (not stack and tail.endswith(("|", "&&"))), docs


def _unit_end(lines: list[str], i: int) -> int:
    """Last line of the logical line starting at ``i`` (quotes, ``\\``, heredocs, ``|``/``&&``)."""
    stack: list[str] = []
    j, n = i, len(lines)
    while j < n:
        cont, docs = _scan_chars(lines[j], stack)
        for delim in docs:  # heredoc bodies follow the line that opened them
            j += 1
            while j < n and lines[j].strip() != delim:
                j += 1
            if j >= n:
                return n - 1
        if (stack or cont) and j + 1 < n:
            j += 1
            continue
        return i if stack else j
    return n - 1


# ---------------------------------------------------------------- line classification


def _comment_text(line: str) -> str:
    return line.strip().lstrip("#").strip()


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _sql_end(lines: list[str], i: int, stop_at_comment: bool = True) -> int:
    """Last line of the SQL statement starting at ``i``: up to ``;``, a blank or a comment line."""
    j = i
    while True:
        if lines[j].split("--")[0].rstrip().endswith(";") or _PSQL_META.match(lines[j].strip()):
            return j
        nxt = lines[j + 1] if j + 1 < len(lines) else ""
        if not nxt.strip() or (stop_at_comment and _is_comment(nxt)):
            return j
        j += 1


def _json_end(lines: list[str], i: int) -> int:
    """Last line of a JSON value starting at ``i`` (bracket depth outside strings)."""
    depth = 0
    for j in range(i, len(lines)):
        stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', lines[j])
        depth += sum(stripped.count(c) for c in "{[") - sum(stripped.count(c) for c in "}]")
        if depth <= 0 or j + 1 >= len(lines) or not lines[j + 1].strip():
            return j
    return len(lines) - 1


def _is_json_start(lines: list[str], i: int) -> bool:
    s = lines[i].strip()
    if _JSON_START.match(s):
        return True
    nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return s in ("{", "[") and bool(_JSON_NEXT.match(nxt))


def _expected_region(lines: list[str], i: int) -> tuple[int, str] | None:
    """(last line, text) of the output documented after an ``# Expected output`` comment."""
    m = _EXPECTED.match(_comment_text(lines[i]))
    if not m:
        return None
    key, colon, inline = m.group(1).lower(), m.group(2), m.group(3).strip()
    if inline and not colon and not key.startswith(("should", "return")):
        return None  # "# Expected to take a while", "# Output logs to a file": plain comments
    if inline:  # "# Output: 42", "# Should return 200": the output is on the comment line
        return i, inline
    out: list[str] = []
    j = i + 1
    while j < len(lines) and lines[j].strip():
        if _is_comment(lines[j]) and any(not _is_comment(x) for x in lines[i + 1 : j]):
            break  # a comment after plain output lines starts the next paragraph
        out.append(lines[j])
        j += 1
    body = lines[i + 1 : j]
    if body and all(_is_comment(x) for x in body):
        out = [re.sub(r"^\s*#\s?", "", x) for x in body]
    if not out:
        return None
    return j - 1, _dedent("\n".join(out))


def _dedent(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def _tokens(masked: str, original: str) -> list[str] | None:
    """Words of a simple command (original text), or None if it has operators or bad quoting."""
    try:
        lex = shlex.shlex(masked, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        words = list(lex)
        if any(w and set(w) <= _OPERATORS for w in words):
            return None
        orig = shlex.split(original, comments=True)
    except ValueError:
        return None
    return orig if len(orig) == len(words) else None


def _ssh_dest(words: list[str]) -> str | None:
    """Destination of ``ssh [options] dest`` with no remote command (a session opener)."""
    if not words or words[0] != "ssh":
        return None
    with_value = set("bcDEeFIiJLlmOopQRSWwB")
    dest, user, port, k = None, None, None, 1
    while k < len(words):
        w = words[k]
        if w.startswith("-") and len(w) > 1:
            if set(w[1:]) & set("NfLRDWO"):
                return None  # tunnels / background: not an interactive session
            if w[-1] in with_value and k + 1 < len(words):
                user = words[k + 1] if w[-1] == "l" else user
                port = words[k + 1] if w[-1] == "p" else port
                k += 1
        elif dest is None:
            dest = w
        else:
            return None  # a remote command: an ordinary command
        k += 1
    if dest and user and "@" not in dest:
        dest = f"{user}@{dest}"
    return f"{dest}:{port}" if dest and port and "://" not in dest else dest


# ---------------------------------------------------------------- client consoles


def _positionals(
    args: list[str],
    value_short: str = "",
    stop_short: str = "",
    value_long: frozenset[str] = frozenset(),
    stop_long: frozenset[str] = frozenset(),
    long_ok: frozenset[str] | None = None,
    first_only: bool = False,
) -> list[str] | None:
    """Positional words of an option list; None when an option makes the client non-interactive."""
    pos: list[str] = []
    k = 0
    while k < len(args):
        w = args[k]
        if w == "--":
            return pos + args[k + 1 :]
        if w.startswith("--"):
            name = w.split("=", 1)[0]
            if name in stop_long or (long_ok is not None and name not in long_ok | value_long):
                return None
            k += 1 if name in value_long and "=" not in w else 0
        elif w.startswith("-") and len(w) > 1:
            for idx, ch in enumerate(w[1:]):
                if ch in stop_short:
                    return None
                if ch in value_short:
                    k += 1 if idx == len(w) - 2 else 0
                    break
        elif first_only:  # options after the container name belong to the inner command
            return args[k:]
        else:
            pos.append(w)
        k += 1
    return pos


def _short_flag(args: list[str], flag: str, long: str) -> bool:
    return any(a == long or (re.match(r"^-[A-Za-z]+$", a) and flag in a) for a in args)


def _client(words: list[str]) -> str | None:
    """The language a client console reads when ``words`` open it interactively, else None."""
    if not words:
        return None
    name, args = words[0].rsplit("/", 1)[-1], words[1:]
    if name == "docker" and args[:2] == ["compose", "exec"]:
        return _container_client(args[2:], "uwe", frozenset({"--user", "--workdir", "--env"}))
    if name == "docker-compose" and args[:1] == ["exec"]:
        return _container_client(args[1:], "uwe", frozenset({"--user", "--workdir", "--env"}))
    if name in ("docker", "podman") and args[:1] == ["exec"]:
        if not _short_flag(args[1:], "i", "--interactive"):
            return None
        return _container_client(args[1:], "uwe", frozenset({"--user", "--workdir", "--env"}))
    if name == "kubectl" and args[:1] == ["exec"]:
        if not _short_flag(args[1:], "i", "--stdin"):
            return None
        return _container_client(args[1:], "cn", frozenset({"--container", "--namespace"}))
    return _db_client(name, args)


def _container_client(args: list[str], value_short: str, value_long: frozenset[str]) -> str | None:
    pos = _positionals(args, value_short, "d", value_long, frozenset({"--detach"}), first_only=True)
    if not pos or len(pos) < 2:
        return None
    inner = pos[2:] if pos[1] == "--" else pos[1:]  # kubectl exec POD -- CMD
    if not inner:
        return None
    if inner[0] in _SHELLS and inner[1:] in ([], ["-l"], ["-i"]):
        return "shell"
    return _client(inner)


def _db_client(name: str, args: list[str]) -> str | None:
    if name == "psql":
        pos = _positionals(
            args, "cdfhpUvoLFRPT", "cflV?",
            frozenset({"--dbname", "--host", "--port", "--username", "--set", "--variable"}),
            frozenset({"--command", "--file", "--list", "--version", "--help"}),
        )  # fmt: skip
        return "psql" if pos is not None and len(pos) <= 2 else None
    if name in ("mysql", "mariadb"):
        pos = _positionals(
            args, "uhPDSp", "eV",
            frozenset({"--user", "--host", "--port", "--database", "--socket"}),
            frozenset({"--execute", "--version", "--help"}),
        )  # fmt: skip
        return "sql" if pos is not None and len(pos) <= 1 else None
    if name == "redis-cli":
        pos = _positionals(
            args, "hpsaun", "xri",
            frozenset({"--user", "--pass", "--cacert", "--cert", "--key", "--sni"}),
            long_ok=frozenset({"--tls", "--raw", "--no-raw", "--no-auth-warning", "--insecure"}),
        )  # fmt: skip
        return "redis" if pos == [] else None
    if name in ("mongosh", "mongo"):
        pos = _positionals(
            args, "up", "f", frozenset({"--host", "--port", "--username", "--password"}),
            frozenset({"--eval", "--file", "--help", "--version"}),
        )  # fmt: skip
        ok = pos is not None and len(pos) <= 1 and not any(p.endswith(".js") for p in pos)
        return "mongo" if ok else None
    if name == "sqlite3":
        pos = [a for a in args if not a.startswith("-")]
        stop = any(a in ("-version", "-help", "--version", "--help") for a in args)
        return "sqlite" if len(pos) == 1 and not stop and "-cmd" not in args else None
    return None


def _client_line(lang: str, s: str) -> bool:
    """Whether stripped line ``s`` is written in the console's language."""
    if lang == "redis":
        word = s.split()[0]
        return word in _REDIS_WORDS or (word.upper() in _REDIS_WORDS and word in _REDIS_LOWER)
    if lang == "mongo":
        return bool(_MONGO.match(s))
    if _SQL_START.match(s) or _SQL_START.match(s.upper()):
        return True
    return (lang == "psql" and bool(_PSQL_META.match(s))) or (lang == "sqlite" and s[:1] == ".")


def _console_end(lines: list[str], j: int, lang: str) -> int | None:
    """Last line fed to a console opened on the line before ``j`` (None: nothing to feed)."""
    last, k = None, j
    while k < len(lines):
        s = lines[k].strip()
        if lang == "shell" and s in ("exit", "logout"):
            return k if last is not None else None
        if lang == "shell" and not s:
            break  # a shell console reads its own paragraph; after a blank line the host resumes
        if not s or _is_comment(lines[k]) or (lang != "shell" and s.startswith("--")):
            k += 1
            continue
        if lang == "shell":
            last = k = _unit_end(lines, k)
        elif _client_line(lang, s):
            last = k = _sql_end(lines, k) if lang in ("psql", "sql", "sqlite") else k
        else:
            break
        k += 1
    return last


def _console_code(lines: list[str], lang: str) -> str:
    """The text fed to the client: its lines, without ``#`` comments (not valid in SQL/redis)."""
    if lang == "shell":
        kept = [x for x in lines if x.strip() not in ("exit", "logout")]
    else:
        kept = [x for x in lines if x.strip() and not _is_comment(x)]
    return _dedent("\n".join(kept))


def _interactive_off_tty(interp: str) -> str:
    """Container consoles fed on stdin must not ask for a TTY (``-it`` fails without one)."""
    interp = re.sub(r"(?<=\s)-(?:it|ti)(?=\s)", "-i", interp)
    interp = re.sub(r"\s(?:-t|--tty)(?=\s)", "", interp)
    if re.match(r"^\s*(?:docker compose|docker-compose) exec\s", interp) and " -T" not in interp:
        interp = re.sub(r"\bexec\s", "exec -T ", interp, count=1)
    return interp


def _opener(lines: list[str], masked: list[str], i: int, end: int) -> _Item | None:
    """An ``ssh dest`` session line or a client console followed by lines it should read."""
    orig = "\n".join(lines[i : end + 1])
    words = _tokens(re.sub(r"\\\n", " ", "\n".join(masked[i : end + 1])), orig.replace("\\\n", " "))
    if not words:
        return None
    dest = _ssh_dest(words)
    if dest:
        return _Item("ssh", i, end, orig.strip(), {"dest": dest})
    lang = _client(words)
    last = _console_end(lines, end + 1, lang) if lang else None
    if lang is None or last is None:
        return None
    interp = orig.strip()
    if words[0] in ("docker", "docker-compose", "podman", "kubectl"):
        interp = _interactive_off_tty(interp)
    code = _console_code(lines[end + 1 : last + 1], lang)
    return _Item("console", i, last, code, {"interpreter": interp})


# ---------------------------------------------------------------- pass 1: regions


_WINDOW = 200  # lines parsed at once: keeps pathological blocks linear, far above real constructs
_COMPOUND = re.compile(
    r"^\s*(?:(?:if|for|while|until|case|select|function)\b|[{(]|[\w.:-]+\s*\(\))"
    r"|(?:\bdo|\bthen|\bin|[{(])\s*$"
)


def _compound_end(masked: list[str], i: int, unit_end: int) -> int:
    """Last line of a loop, ``if``, function or group opened at line ``i`` (bodies stay whole)."""
    size = 8  # small windows first: an unrelated error further down cannot leak in
    while True:
        tree = _parser().parse("\n".join(masked[i : i + size]).encode())
        node = next((n for n in tree.root_node.children if n.type != "comment"), None)
        if node is None or node.start_point.row != 0:
            return unit_end
        cut = node.end_point.row >= size - 1 and i + size < len(masked)
        if not cut:  # complete within the window: clean, or really broken
            return unit_end if node.has_error else max(unit_end, i + node.end_point.row)
        if size >= _WINDOW * 5:
            return unit_end
        size *= 5


def _scan(lines: list[str], masked: list[str]) -> list[_Item]:
    """Classify lines into blank, comment, expected, doc, console, ssh and shell items."""
    items: list[_Item] = []
    i = 0
    while i < len(lines):
        item = _classify(lines, masked, i)
        items.append(item)
        i = item.end + 1
    return items


def _classify(lines: list[str], masked: list[str], i: int) -> _Item:
    s = lines[i].strip()
    if not s:
        return _Item("blank", i, i)
    if _is_comment(lines[i]):
        exp = _expected_region(lines, i)
        if exp:
            return _Item("expected", i, exp[0], exp[1])
        return _Item("comment", i, i, _comment_text(lines[i]))
    if _is_json_start(lines, i):
        end = _json_end(lines, i)
        return _Item("doc", i, end, _dedent("\n".join(lines[i : end + 1])))
    if _SQL_START.match(s) or _PSQL_META.match(s):
        end = _sql_end(lines, i)
        return _Item("doc", i, end, _dedent("\n".join(lines[i : end + 1])))
    unit_end = _unit_end(masked, i)
    if _COMPOUND.search(masked[i]):
        return _Item("shell", i, _compound_end(masked, i, unit_end))
    return _opener(lines, masked, i, unit_end) or _Item("shell", i, unit_end)


# ---------------------------------------------------------------- pass 2: tree-sitter


def _expand(items: list[_Item], lines: list[str], masked: list[str]) -> list[_Item]:
    """Replace runs of shell lines by their top-level commands (or docs where not valid shell)."""
    out: list[_Item] = []
    k = 0
    while k < len(items):
        if items[k].kind != "shell":
            out.append(items[k])
            k += 1
            continue
        run = [items[k]]
        k += 1
        while k < len(items) and items[k].kind == "shell":
            run.append(items[k])
            k += 1
        out.extend(_parse_run(run, lines, masked))
    return out


def _parse_run(units: list[_Item], lines: list[str], masked: list[str]) -> list[_Item]:
    """Parse adjacent shell units; an error turns its unit into a doc and parsing resumes after."""
    results: list[_Item] = []
    first = 0
    while first < len(units):
        last = first  # units are whole constructs, so a window may end after any of them
        while last + 1 < len(units) and units[last + 1].end - units[first].start < _WINDOW:
            last += 1
        a, b = units[first].start, units[last].end
        src = "\n".join(masked[a : b + 1]).encode()
        orig = "\n".join(lines[a : b + 1]).encode()
        groups, error_row = _top_level(_parser().parse(src).root_node, a)
        bad = None
        if error_row is not None:
            bad = next((u for u in units[first:] if u.start <= error_row <= u.end), units[last])
        for g in groups:
            if bad is None or g["start"] < bad.start:
                text = orig[g["sb"] : g["eb"]].decode("utf-8", "replace")
                results.append(_Item("cmd", g["start"], g["end"], text, {"trailing": g["trail"]}))
        if bad is None:
            first = last + 1
            continue
        results.append(
            _Item("doc", bad.start, bad.end, _dedent("\n".join(lines[bad.start : bad.end + 1])))
        )
        first = units.index(bad) + 1
    return results


def _top_level(root: Node, row0: int) -> tuple[list[dict[str, Any]], int | None]:
    """Group top-level nodes into commands (nodes on one line stay together); first error row."""
    groups: list[dict[str, Any]] = []
    for node in root.children:
        row, end_row = node.start_point.row + row0, node.end_point.row + row0
        if node.type == "comment":
            if groups and row == groups[-1]["end"]:
                groups[-1]["trail"] = _comment_text(node.text.decode("utf-8", "replace"))
            continue
        if node.type == "ERROR" or node.has_error:
            return groups, row
        if groups and row == groups[-1]["end"]:
            groups[-1].update(end=end_row, eb=node.end_byte)
        else:
            groups.append(
                {
                    "start": row,
                    "end": end_row,
                    "sb": node.start_byte,
                    "eb": node.end_byte,
                    "trail": None,
                }
            )
    return groups, None


# ---------------------------------------------------------------- pass 3: fragments


class _Assembler:
    """Turns classified items into fragments: titles, ``# Or`` choices, ssh targets, outputs."""

    def __init__(self, items: list[_Item]) -> None:
        self.items = items
        self.out: list[Fragment] = []
        self.title: str | None = None
        self.or_pending = False
        self.target: str | None = None
        self.last_cmd: int | None = None
        self.choices = 0

    def run(self) -> list[Fragment]:
        for idx, item in enumerate(self.items):
            handler = getattr(self, f"_on_{item.kind}")
            handler(idx, item)
        return self.out

    def _on_blank(self, idx: int, item: _Item) -> None:
        return None

    def _on_comment(self, idx: int, item: _Item) -> None:
        m = _OR.match(item.text)
        if m:
            self.or_pending = self.last_cmd is not None
            self.title = item.text if re.search(r"\w", m.group(1)) else None
        elif item.text and not item.text.startswith("!"):
            self.title = item.text

    def _on_expected(self, idx: int, item: _Item) -> None:
        if self.out and self.last_cmd == len(self.out) - 1:
            prev = self.out[-1]
            text = f"{prev.expected_output}\n{item.text}" if prev.expected_output else item.text
            self.out[-1] = replace(prev, expected_output=text)
        else:
            self._emit(Fragment("doc", item.text, item.start + 1, self.title))

    def _on_doc(self, idx: int, item: _Item) -> None:
        self._emit(Fragment("doc", item.text, item.start, self.title))

    def _on_ssh(self, idx: int, item: _Item) -> None:
        nxt = next((x for x in self.items[idx + 1 :] if x.kind in ("cmd", "console", "ssh")), None)
        if nxt is not None and nxt.kind != "ssh":
            self.target, self.title, self.or_pending = item.extra["dest"], None, False
            return
        self._on_cmd(idx, item)

    def _on_cmd(self, idx: int, item: _Item) -> None:
        if self.target and item.text.strip() in ("exit", "logout"):
            self.target, self.title = None, None  # the ssh session ends here
            return
        title = self.title or item.extra.get("trailing")
        self._emit(Fragment("command", item.text, item.start, title, target=self.target))

    def _on_console(self, idx: int, item: _Item) -> None:
        interp = item.extra["interpreter"]
        self._emit(
            Fragment("command", item.text, item.start, self.title, None, self.target, interp)
        )

    def _emit(self, frag: Fragment) -> None:
        if frag.kind == "command":
            if self.or_pending and self.last_cmd is not None:
                prev = self.out[self.last_cmd]
                if prev.choice is None:
                    self.choices += 1
                    self.out[self.last_cmd] = prev = replace(prev, choice=self.choices)
                frag = replace(frag, choice=prev.choice)
            self.last_cmd = len(self.out)
        self.out.append(frag)
        self.title, self.or_pending = None, False


# ---------------------------------------------------------------- prompt mode (transcripts)

_PROMPT = re.compile(
    r"^\s*(?:\$|PS(?: [^>\n]*)?>|(?:\[[^\]\n]*\]|[\w.-]+@[\w.-]+(?::[^\s$#]*)?)\s?[$#])(?: |$)"
)
_ROOT_CMDS = _words(
    "apt apt-get yum dnf apk systemctl service journalctl cat ls cd echo rm mv cp mkdir chmod "
    "chown vi vim nano tail head grep less ps kill top df du free mount umount ip ifconfig "
    "iptables ufw useradd usermod passwd su sudo docker make pip pip3 python python3 curl wget "
    "tar reboot shutdown whoami id export source ln touch find sed awk psql mysql redis-cli git"
)


def _prompt_command(line: str, root_hash: bool) -> str | None:
    """The command typed after a prompt on ``line``, or None if the line is not a prompt line."""
    m = _PROMPT.match(line)
    if m:
        return line[m.end() :]
    if root_hash and line.startswith("# "):
        rest = line[2:].strip()
        first = rest.split()[0] if rest else ""
        flags = re.search(r"(?:^|\s)--?\w", rest[len(first) :])
        if (
            first in _ROOT_CMDS
            or (re.match(r"^(?:\./|/)\S+$", first))
            or (re.match(r"^[a-z][\w.+-]*$", first) and flags)
        ):
            return line[2:]
    return None


def _needs_more(cmd_lines: list[str]) -> bool:
    """True while the typed command is unfinished (``\\``, open quote, heredoc, trailing ``|``)."""
    return _unit_end([*cmd_lines, ""], 0) >= len(cmd_lines)


def _prompt_parse(code: str, root_hash: bool) -> list[tuple[int, str, list[str], str | None]]:
    """(line, command, output lines, title) per prompted command; line -1 holds leading output."""
    lines = code.split("\n")
    entries: list[tuple[int, str, list[str], str | None]] = [(-1, "", [], None)]
    i = 0
    while i < len(lines):
        cmd = _prompt_command(lines[i], root_hash)
        if cmd is None:
            entries[-1][2].append(lines[i])
            i += 1
            continue
        start, cmd_lines = i, [cmd]
        i += 1
        while i < len(lines) and (_needs_more(cmd_lines) or lines[i].startswith("> ")):
            cmd_lines.append(re.sub(r"^> ?", "", lines[i]))
            i += 1
        entries.append((start, "\n".join(cmd_lines).strip(), [], _pop_title(entries[-1][2])))
    return entries


def _pop_title(output: list[str]) -> str | None:
    """Comment lines right before a prompt (after a blank line) title it instead of being output."""
    k = len(output)
    while k > 0 and output[k - 1].lstrip().startswith("#"):
        k -= 1
    if k == len(output) or (k > 0 and output[k - 1].strip()):
        return None
    title = _comment_text(output[-1]) or None
    del output[k:]
    return title


def _uses_prompts(code: str) -> bool:
    """A bash block written as a terminal transcript: its first command line has a prompt."""
    for line in code.split("\n"):
        if line.strip() and not _is_comment(line):
            return _PROMPT.match(line) is not None
    return False


def _prompt_fragments(code: str, root_hash: bool) -> list[Fragment]:
    entries = _prompt_parse(code, root_hash)
    frags = []
    for line, cmd, output, title in entries[1:]:
        out = _dedent("\n".join(output)).strip() or None
        frags.append(Fragment("command", cmd, line, title, expected_output=out))
    lead = _dedent("\n".join(entries[0][2])).strip()
    if lead and not frags:
        return [Fragment("doc", lead, next(i for i, x in enumerate(code.split("\n")) if x.strip()))]
    return frags


def console_commands(code: str) -> tuple[str, str]:
    """For console / shell-session text: (commands joined by newlines, other lines joined)."""
    entries = _prompt_parse(code.replace("\r\n", "\n"), root_hash=True)
    commands = "\n".join(cmd for _, cmd, _, _ in entries[1:] if cmd)
    output = "\n".join(x for _, _, out, _ in entries for x in out).strip("\n")
    return commands, output


# ---------------------------------------------------------------- entry point

_PROMPT_LANGS = frozenset({"console", "shell-session", "shellsession", "terminal", "pwsh-session"})


def split_block(code: str, lang: str = "bash") -> list[Fragment]:
    """Split one shell block into step-sized fragments (see the module docstring and issue 6)."""
    code = code.replace("\r\n", "\n").rstrip("\n")
    if not code.strip():
        return []
    if lang.lower() in _PROMPT_LANGS:
        return _prompt_fragments(code, root_hash=True)
    if _uses_prompts(code):
        return _prompt_fragments(code, root_hash=False)
    masked_code = _mask(code)
    lines, masked = code.split("\n"), masked_code.split("\n")
    items = _scan(lines, masked)
    return _Assembler(_expand(items, lines, masked)).run()
