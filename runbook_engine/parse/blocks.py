"""A plain block at command granularity: read it, split it in its language, and decide for each
piece whether it runs (shell, or fed to a client the runbook named) or is left to the operator."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from .. import lazyre
from ..model import SHELL_LANGS
from .consoles import (
    CLIENT_WORD,
    client_language,
    interactive_off_tty,
    shell_words,
    ssh_dest,
)
from .languages import SPLITTERS, split_lines
from .lines import Fragment
from .prompts import NAMED_CONSOLES
from .reading import Reading, read_block
from .shapes import Known, default_path_lookup, words_defined
from .vocabulary import CLIENT_OF_TAG

#: the language of a console -> the client program that reads it
CLIENT_OF_LANG = {"psql": "psql", "sql": "mysql", "mysql": "mysql", "sqlite": "sqlite3",
                  "redis": "redis-cli", "mongo": "mongosh", "cql": "cqlsh", "python": "python",
                  "sqlplus": "sqlplus", "rman": "rman", "sqlcmd": "sqlcmd",
                  "clickhouse": "clickhouse-client", "zk": "zkCli.sh", "hbase": "hbase shell",
                  "ruby": "rails"}
#: a client the prose before a block names ("in psql:", "from the rails console")
_PROSE_CLIENT = lazyre.compile(
    r"\b(psql|mysql|mariadb|sqlite3|redis-cli|mongosh|mongo shell|cqlsh|sqlplus|sql\*plus"
    r"|sqlcmd|clickhouse-client|clickhouse client|rails console|postgres(?:ql)? (?:shell|console)"
    r"|redis (?:cli|shell|console)|gitlab-rails|django shell|python shell|manage\.py shell"
    r"|irb)(?![\w-])", re.IGNORECASE)
_PROSE_CLIENTS = {"mariadb": "mysql", "mongo shell": "mongosh", "rails console": "rails",
                  "sql*plus": "sqlplus", "clickhouse client": "clickhouse-client",
                  "postgres shell": "psql", "postgres console": "psql",
                  "postgresql shell": "psql", "postgresql console": "psql",
                  "redis cli": "redis-cli", "redis shell": "redis-cli",
                  "redis console": "redis-cli",
                  "gitlab-rails": "rails", "django shell": "python", "python shell": "python",
                  "manage.py shell": "python", "irb": "rails"}
_SQL_CLIENTS = ("psql", "mysql", "sqlite3", "sqlplus", "sqlcmd", "clickhouse-client", "cqlsh")
_CUT = lazyre.compile(r"\s(?:-c|-e|-f|--command|--execute|--eval|--file)(?:[=\s]|$)")
_MONGO_CODE = lazyre.compile(r"^\s*(?:(?:db|rs|sh)\.|use\s+\w+|show\s+\w+)")
#: how PowerShell reads a step on stdin
PWSH = "pwsh -NoLogo -NoProfile -NonInteractive -Command -"


@dataclass
class Context:
    """What the reader has learnt from the blocks above: functions defined, database clients the
    runbook connects with (the last invocation of each), and the front matter's engines."""

    engines: Mapping[str, str] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)
    clients: dict[str, str] = field(default_factory=dict)
    last_sql: str | None = None
    path_lookup: Callable[[str], bool] | None = default_path_lookup
    pwsh: Callable[[], bool] = lambda: shutil.which("pwsh") is not None
    section: tuple[str, ...] = ()
    target: str | None = None

    def place(self, section: tuple[str, ...], said: str | None | bool) -> str | None:
        """The target of a block: what its prose names, else the host an earlier block of the
        same section was sent to (``On `db-02`:`` covers what follows until the prose moves)."""
        if said is False or section != self.section:
            self.target = None
        if isinstance(said, str):
            self.target = said
        self.section = section
        return self.target

    def known(self) -> Known:
        return Known(frozenset(self.functions), self.path_lookup, frozenset(self.clients))

    def learn(self, frags: list[Fragment]) -> None:
        """Remember functions and client invocations of the commands just read."""
        for frag in frags:
            if frag.kind != "command":
                continue
            if frag.interpreter:
                self._client(frag.interpreter)
            elif not frag.lang:
                self.functions |= words_defined(frag.code)
                for line in frag.code.replace("\\\n", " ").split("\n"):
                    self._client(line)

    def learn_code(self, code: str) -> None:
        """Remember what a block read whole (block granularity) defines and connects to."""
        self.learn([Fragment("command", code, 0)])

    def _client(self, line: str) -> None:
        found = client_invocation(line)
        if found:
            client, invocation = found
            self.clients[client] = invocation
            if client in _SQL_CLIENTS:
                self.last_sql = client


_REPLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("python", lazyre.compile(r"(?:^|\s)(?:\S*/)?(?:python3?\s+(?:\S*/)?manage\.py|django-admin"
                              r"|flask)"
                              r"\s+shell(?:_plus)?\b|(?:^|\s)(?:\S*/)?(?:python3?|ipython3?)\s*$")),
    ("rails", lazyre.compile(r"(?:^|\s)(?:\S*/)?(?:gitlab-rails|rails)\s+(?:console|c)\b"
                             r"|(?:^|\s)(?:\S*/)?irb\s*$")),
)


_ANY_CLIENT = lazyre.compile(r"psql|mysql|mariadb|sqlite3|redis-cli|mongo|cqlsh|sqlplus|rman|sqlcmd"
                             r"|clickhouse|zkCli|python|ipython|manage"
                             r"\.py|django-admin|flask|rails|irb")


def client_invocation(line: str) -> tuple[str, str] | None:
    """(client, the command that opens its console) from a line that runs a database client or
    a language shell, with or without a query: ``psql "$URL" -c 'SELECT 1'`` names
    ``psql "$URL"``; ``kubectl exec -it pod -- python manage.py shell`` names itself."""
    if not _ANY_CLIENT.search(line):
        return None  # most lines: no client named at all
    text = re.split(r"\s(?:\||<|>|&&|\|\||;)\s?", line.strip(), maxsplit=1)[0]
    for client, pattern in _REPLS:
        if pattern.search(text):
            return client, _off_tty(text.strip())
    if not CLIENT_WORD.search(text):
        return None
    cut = _CUT.search(text)
    opener = _redis_options(text) if re.match(r"^\s*(?:\S*/)?(?:redis|valkey)-cli\s", text) \
        else text[:cut.start()] if cut else text
    words = shell_words(opener)
    name = CLIENT_OF_LANG.get(client_language(words) or "") if words else None
    return (name, _off_tty(opener.strip())) if name else None


def _redis_options(text: str) -> str:
    """``redis-cli -h host -a "$PASS" ping`` -> the part before the command (``ping``)."""
    words = text.split()
    k = 1
    while k < len(words) and words[k].startswith("-"):
        k += 2 if words[k] in ("-h", "-p", "-a", "-n", "-u", "-s", "--user", "--pass") else 1
    return " ".join(words[:k])


def _off_tty(opener: str) -> str:
    if re.match(r"^\s*(?:sudo\s+)?(?:docker|podman|kubectl|oc|docker-compose)\s", opener):
        return interactive_off_tty(opener)
    return opener


_HOST_SPAN = lazyre.compile(
    r"\b(?:on|from|at|in|inside|log\s*(?:in|on)\s*to|connect\s+to|ssh\s+(?:in)?to)\s+"
    r"(?:the\s+|each\s+)?(?:[\w-]+,?\s+){0,3}?\(?`((?:[\w.-]+@)?(?:[A-Za-z0-9][\w.-]*"
    r"|<[\w .-]+>))`", re.I)
#: a host written plainly where a sentence starts: "On db-prod-01, as root:", "On 10.0.4.7:"
_PLAIN_HOST = lazyre.compile(
    r"(?:^|[.!?]\s+)(?:on|from|log\s*(?:in|on)\s*to|ssh\s+(?:in)?to)\s+(?:the\s+[a-z]+\s+)?"
    r"((?:[\w.-]+@)?(?:[a-z][a-z0-9]*(?:-[a-z0-9]+)*-?\d[\w-]*(?:\.[\w-]+)*"
    r"|\d{1,3}(?:\.\d{1,3}){3}))\s*[:,]", re.I)
_PLACE = lazyre.compile(r"\b(?:on|from|at|in)\s+(?:the\s+|your\s+|a\s+|any\s+|each\s+)?"
                        r"(?:\w+\s+){0,2}?(?:host|server|node|machine|box|member|primary|replica"
                        r"|secondary|bastion|laptop|workstation|pod|container|cluster|leader)s?\b"
                        r"|\blocally\b", re.I)
_NOT_HOST = lazyre.compile(r"/|\.(?:conf|cfg|ya?ml|json|log|sh|py|rb|sql|service|md|txt|ini|toml)$"
                           r"|^\d+$|^[A-Z_]+$")


def prose_target(prose: str) -> str | None | bool:
    """The host the paragraph before a block sends its commands to (``On `db-02`:``), False when
    it names another place without a host (``from the primary``), None when it says nothing."""
    last = prose.strip()[-240:]
    for match in reversed(list(_HOST_SPAN.finditer(last))):
        host = match.group(1)
        if host.startswith("<") or not _NOT_HOST.search(host) and re.search(r"[\d.-]", host):
            return host  # `<node-name>` is asked before the connection
    plain = list(_PLAIN_HOST.finditer(last))
    if plain:
        return plain[-1].group(1)
    return False if _PLACE.search(last) else None


def split_plain(code: str, tag: str, prose: str, heading: str, ctx: Context,
                section: tuple[str, ...] = ()) -> tuple[Reading, list[Fragment]]:
    """Read a block and split it into fragments whose ``kind`` is final: command (shell or fed),
    manual (code for the operator) or doc."""
    reading = read_block(code, tag, prose, heading, ctx.known())
    frags = _split(code, tag, reading, ctx)
    named = _PROSE_CLIENT.search(prose or "")
    client = _PROSE_CLIENTS.get(named.group(1).lower(), named.group(1).lower()) if named else None
    resolved = [_resolve(f, tag, ctx, client) for f in _per_statement(frags, code)]
    ctx.learn(resolved)
    target = ctx.place(section, prose_target(prose))
    if target:
        resolved = [replace(f, target=target) if f.kind != "doc" and not f.target else f
                    for f in resolved]
    if reading.kind == "commands":
        resolved = _session_edges(resolved, ctx)
    return reading, resolved


_CLOSERS = frozenset({"exit", "logout"})


def _session_edges(frags: list[Fragment], ctx: Context) -> list[Fragment]:
    """A block that only logs in (``ssh deploy@db-2``) opens a session: the next blocks of the
    section run on that host, as the operator who typed it would run them, until a block ends
    it (``exit``), the prose moves elsewhere, or the section changes. The login itself becomes
    a check that the host answers; running ``ssh`` here would only hand over a terminal and
    leave the following commands to run on the wrong machine."""
    commands = [f for f in frags if f.kind == "command"]
    if commands and commands[-1].code.strip() in _CLOSERS and ctx.target:
        ctx.target = None  # the session ends with this block (its exit runs there, harmlessly)
        return frags
    if len(commands) != 1 or commands[0].interpreter or commands[0].target:
        return frags
    words = shell_words(commands[0].code.strip())
    dest = ssh_dest(words) if words else None
    if not dest:
        return frags
    ctx.target = dest
    code = f"# {commands[0].code.strip()}: the next steps of this section run there\ntrue\n"
    opener = replace(commands[0], code=code, target=dest,
                     title=commands[0].title or f"Log in to {dest}")
    return [opener if f is commands[0] else f for f in frags]


def _split(code: str, tag: str, reading: Reading, ctx: Context) -> list[Fragment]:
    kind = reading.kind
    if kind == "commands":
        from .commands import split_block  # tree-sitter: only here

        return split_block(code, "bash", ctx.known())
    if kind == "transcript":
        from .prompts import prompt_fragments

        return prompt_fragments(code.rstrip("\n"), root_hash=tag not in SHELL_LANGS - {
            "console", "shell-session", "shellsession"})
    if kind in ("python", "ruby"):
        fed = ("python" if kind == "python" else "rails") in ctx.clients
        return SPLITTERS[kind](code, fed)  # type: ignore[call-arg]
    if kind in SPLITTERS:
        return SPLITTERS[kind](code)
    if kind in ("redis", "cmd", "url"):
        return split_lines(code, kind)
    if kind == "groovy":  # a script console runs what is pasted as one script
        first = next(i for i, x in enumerate(code.split("\n")) if x.strip())
        return [Fragment("command", code.strip("\n"), first, lang="groovy")]
    return []  # documentation: the block stays whole


_CONSOLE_SPLIT = {"psql": "sql", "mysql": "sql", "sqlite3": "sql", "redis-cli": "redis",
                  "mongosh": "javascript", "sqlplus": "sql", "rman": "sql", "sqlcmd": "sql",
                  "cqlsh": "sql", "clickhouse-client": "sql", "zkCli.sh": "redis"}


def _per_statement(frags: list[Fragment], code: str) -> list[Fragment]:
    """A client console opened in a shell block (``psql "$URL"`` then SQL lines) gives one step
    per statement, each fed to that console command."""
    out: list[Fragment] = []
    lines = code.split("\n")
    for frag in frags:
        found = client_invocation(frag.interpreter) if frag.interpreter and not frag.lang else None
        lang = _CONSOLE_SPLIT.get(found[0]) if found else None
        if lang is None or frag.kind != "command":
            out.append(frag)
            continue
        pieces = split_lines(frag.code, "redis") if lang == "redis" else SPLITTERS[lang](frag.code)
        offsets = _locate([p.code for p in pieces], lines, frag.line_offset + 1)
        for piece, offset in zip(pieces, offsets, strict=True):
            if piece.kind == "doc":
                continue
            title = piece.title or (frag.title if offset == offsets[0] else None)
            out.append(replace(piece, line_offset=offset, target=frag.target,
                               interpreter=frag.interpreter, session=frag.session,
                               lang=None if lang == "redis" else piece.lang, title=title))
    return out


def _locate(codes: list[str], lines: list[str], start: int) -> list[int]:
    """The block line of each piece's first line, searching forward from ``start``."""
    found, i = [], start
    for code in codes:
        head = code.split("\n")[0].strip()
        j = i
        while j < len(lines) and head not in lines[j]:
            j += 1
        found.append(j if j < len(lines) else i)
        i = min(j + 1, len(lines)) if j < len(lines) else i
    return found


def _resolve(frag: Fragment, tag: str, ctx: Context, named: str | None = None) -> Fragment:
    """Fed to a client, run by pwsh, or a manual step that keeps its code."""
    if frag.kind != "command" or not frag.lang:
        return frag
    if frag.interpreter:  # the transcript opened the client itself
        return frag
    lang = frag.lang
    engine = ctx.engines.get(tag) or ctx.engines.get(lang)
    if engine:
        return replace(frag, interpreter=engine)
    if lang == "powershell":
        return replace(frag, interpreter=PWSH) if ctx.pwsh() else replace(frag, kind="manual")
    client = _client_for(frag, tag, ctx, named)
    if client is None:
        return replace(frag, kind="manual")
    invocation = ctx.clients.get(client)
    if invocation:
        return replace(frag, interpreter=invocation)
    # nothing to connect with: the operator types it into the client named here
    return replace(frag, kind="manual", interpreter=client)


def _client_for(frag: Fragment, tag: str, ctx: Context, named: str | None) -> str | None:
    lang = frag.lang or ""
    if named and (lang == "sql") == (named in _SQL_CLIENTS):
        return named
    if lang == "sql":
        return CLIENT_OF_TAG.get(tag) or ctx.last_sql or ("psql" if "psql" in tag else None)
    if lang == "javascript":
        mongo = _MONGO_CODE.match(frag.code) or CLIENT_OF_TAG.get(tag) == "mongosh"
        return "mongosh" if mongo else None
    return CLIENT_OF_LANG.get(lang) or (lang if lang in NAMED_CONSOLES else None)
