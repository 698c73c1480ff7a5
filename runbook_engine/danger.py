"""Danger analysis: why a step's code may destroy data, kill processes or take hosts down.

This module walks code in any language a runbook holds -- shell (through ``sudo``, ``ssh host
'...'``, ``sh -c``, ``docker exec``, ``kubectl exec``, pipes, heredocs and ``$(...)``), SQL,
Redis, MongoDB, PowerShell, Windows ``cmd`` and HTTP request lines -- and hands each command to
`danger_match.py` (the rules of `danger_rules.py`, read with `danger_args.py`) and each statement
to `danger_text.py`. A cheap word check runs first, so code that names no destructive tool costs
a set lookup.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from . import lazyre
from .danger_args import (
    ASSIGNMENT_RE,
    Parsed,
    command_of,
    command_start,
    exec_path,
    fed_language,
    grammar_for,
    parse_args,
    rehearsal,
    segments,
    tool_name,
    words,
)
from .danger_generic import generic_kind, known_tool_kind
from .danger_grammar import (
    BENIGN,
    GENERIC_REASONS,
    KNOWN_LOOKALIKES,
    MESSAGE_OPTS,
    POWERSHELL_ALIASES,
    POWERSHELL_BENIGN,
    PSQL_META,
    TEXT_COMMANDS,
    WRAPPERS,
    Grammar,
    Wrapper,
    word_set,
)
from .danger_lexicon import (
    console_finding,
    fed_finding,
    lexicon_finding,
    may_match,
    method_finding,
    safety_off_finding,
)
from .danger_match import (
    RAW_DEVICE_RE,
    Stdin,
    admin_url,
    best_match,
    control_file,
    may_be_dangerous,
    rules_for,
    subcommand_tool,
)
from .danger_rules import HIGH, MEDIUM
from .danger_text import METHOD_HINT, TEXT_TRIGGERS, text_findings
from .model import SHELL_LANGS
from .placeholders import mask_placeholders
from .shell_lex import Command, commands, windows_commands

__all__ = ["Finding", "command_of", "danger_findings", "danger_reasons", "fed_language",
           "language_family", "segments", "words"]


@dataclass(frozen=True)
class Finding:
    """One destructive thing the code does: the sentence the operator reads, and how bad."""

    reason: str
    severity: int
    family: str
    rule: object = field(default=None, compare=False, repr=False)  # the table row behind it


def danger_reasons(code: str, lang: str = "bash") -> list[str]:
    """One human-readable reason per destructive thing found in the code, worst first."""
    return [finding.reason for finding in danger_findings(code, lang)]


def danger_findings(code: str, lang: str = "bash") -> list[Finding]:
    """What in ``code`` (written in ``lang``) destroys, stops or overwrites, worst first."""
    family = language_family(lang)
    if not code or family == "data" or (family not in _OWN_WORDS and not may_be_dangerous(code)
                                          and not may_match(code)):
        return []
    return list(_findings(code, family))


@functools.lru_cache(maxsize=2048)
def _findings(code: str, family: str) -> tuple[Finding, ...]:
    code = code.replace("\\\r\n", "   ").replace("\\\n", "  ")
    lines = _independent_lines(code) if family == "shell" else None
    if lines is None:
        analysis = _Analysis()
        analysis.code(code, family, depth=0)
        found = analysis.found
    else:  # one line at a time, and only lines that name something destructive
        found = [f for line in lines if may_be_dangerous(line) or may_match(line)
                 for f in _line_findings(line)]
    unique: dict[str, Finding] = {}
    for finding in found:
        if finding.reason not in unique or unique[finding.reason].severity < finding.severity:
            unique[finding.reason] = finding
    order = {reason: i for i, reason in enumerate(unique)}
    return tuple(sorted(unique.values(), key=lambda f: (-f.severity, order[f.reason])))


@functools.lru_cache(maxsize=4096)
def _line_findings(line: str) -> tuple[Finding, ...]:
    analysis = _Analysis()
    analysis.shell(line, depth=0)
    return tuple(analysis.found)


def _independent_lines(code: str) -> list[str] | None:
    """The lines of shell code when each can be read alone (no heredoc, no multi-line quote or
    substitution, no SQL pasted as shell), else None."""
    if "<<" in code or "`" in code:
        return None
    lines = code.split("\n")
    for line in lines:
        if line.count("'") % 2 or line.count('"') % 2 or line.count("(") != line.count(")"):
            return None
        head = line.lstrip().split(" ", 1)[0]
        if head in _SQL_LEAD or head in _SQL_LEAD_LOWER or _MONGO_LEAD.match(head):
            return None
    return lines


# ---------------------------------------------------------------- languages

_LANGS = {
    "sql": "sql psql postgresql postgres pgsql plpgsql plsql mysql mariadb sqlite sqlite3 tsql "
           "mssql sqlserver cql clickhouse hive hql snowflake bigquery redshift oracle "
           "cockroach duckdb trino presto cypher neo4j",
    "redis": "redis redis-cli valkey",
    "zk": "zk zookeeper zkcli",
    "diskpart": "diskpart",
    "netdev": "netdev ios cisco junos eos nxos vyos",
    "routeros": "routeros mikrotik",
    "wire": "wire",
    "nsupdate": "nsupdate",
    "mqsc": "mqsc runmqsc",
    "ldif": "ldif",
    "url": "url uri link",
    "mongo": "mongo mongodb mongosh js javascript node nodejs typescript ts",
    "powershell": "powershell pwsh ps1 ps posh psm1",
    "cmd": "cmd bat batch dos winbatch cmd.exe",
    "http": "http https rest restclient httpie",
    "python": "python python3 py pycon ipython",
    "ruby": "ruby rb irb rails erb",
    "data": "yaml yml json jsonc json5 toml ini xml csv tsv properties text txt plaintext plain "
            "output log logs diff none nohighlight markdown md html css svg mermaid dot "
            "graphql proto protobuf hcl-output",
}
_FAMILY = {name: family for family, names in _LANGS.items() for name in names.split()}


#: consoles named by their prompt (``DGMGRL> ``, ``netsh> ``): each line is that program's
#: command line (``DGMGRL> remove database standby2``)
_CONSOLE_TOOLS = frozenset({"dgmgrl", "asmcmd", "netsh", "ftp", "sftp", "lftp", "nslookup",
                            "routeros"})


def language_family(lang: str | None) -> str:
    """``shell``, ``sql``, ``redis``, ``mongo``, ``powershell``, ``cmd``, ``http``, ``python``,
    ``ruby``, ``zk`` (ZooKeeper console lines), ``diskpart``, ``netdev`` (a switch or router's
    command line), ``wire`` (text sent to a socket),
    a console named by its prompt (``dgmgrl``, ``netsh``: lines are its command lines),
    ``url`` (a page the operator opens),
    ``data`` (never analysed) or ``other`` (statement rules only)."""
    name = (lang or "").strip().lower()
    if not name or name in SHELL_LANGS or name in ("shell-session", "sh-session", "terminal",
                                                    "bash-session", "fish", "ksh"):
        return "shell"
    return name if name in _CONSOLE_TOOLS else _FAMILY.get(name, "other")


# ---------------------------------------------------------------- the walk


_SQL_LEAD = word_set("SELECT INSERT UPDATE DELETE WITH ALTER CREATE DROP VACUUM ANALYZE EXPLAIN "
                      "TRUNCATE GRANT REVOKE REINDEX BEGIN COMMIT ROLLBACK SHOW USE DESCRIBE "
                      "CLUSTER REFRESH COPY LOCK KILL SHUTDOWN RESET PURGE STOP CHANGE RESTORE "
                     "DBCC FLUSH")
_SQL_LEAD_LOWER = word_set("select insert update delete with alter create drop vacuum grant "
                           "revoke reindex")
#: a statement in lower case reads as SQL only in SQL's own shape (``delete volume=x`` typed
#: at a console is that console's verb)
_SQL_SHAPE = lazyre.compile(r"(?:select|with|vacuum|reindex)\b|delete\s+(?:\S+\s+)?from\b|"
                            r"update\s+\S+\s+set\b|insert\s+into\b|(?:drop|alter|create)\s+"
                            r"(?:temporary\s+|temp\s+|materialized\s+)?(?:table|database|schema|index|"
                            r"view|user|role|sequence|function|extension|keyspace|tablespace|type|"
                            r"trigger|procedure|owned)\b|(?:grant|revoke)\s", re.IGNORECASE)
_REDIS_BARE = word_set("DEL UNLINK HDEL FLUSHALL FLUSHDB flushall flushdb")
_MONGO_LEAD = lazyre.compile(r"^(?:db|rs|sh)\.\w")
_HTTP_METHODS = word_set("GET HEAD POST PUT PATCH DELETE OPTIONS PURGE")
_CONSOLE_PROMPT_RE = lazyre.compile(r"^\s*(?:\[zk:[^\]]*\]\s*|zk>\s*|\[[\w.-]+@[\w.-]+\] "
                                    r"(?:/[\w/ .-]*)?>\s*)")
_MENU_PATH_RE = lazyre.compile(r"^/[\w/.-]*")
_REDIS_PROMPT_RE = lazyre.compile(r"^\s*(?:[\w.-]+:\d+(?:\[\d+\])?>|redis>)\s*")
_MAX_DEPTH = 4
#: languages whose destructive words are their own (diskpart ``clean``): no word prefilter
_OWN_WORDS = ("diskpart", "wire", "nsupdate", "ldif", "netdev", "mqsc")
_BACKSLASH_LINE_RE = lazyre.compile(r"^\s*\\(!|[A-Za-z_?]+)")


class _Analysis:
    """Collects findings while walking code and everything it runs."""

    def __init__(self) -> None:
        self.found: list[Finding] = []

    # -- languages ------------------------------------------------------------------------------

    def code(self, text: str, family: str, depth: int, stdin: Stdin | None = None) -> None:
        if depth > _MAX_DEPTH or not text.strip():
            return
        if family == "shell":
            self.shell(text, depth, stdin)
        elif family == "powershell":
            self.windows(text, depth, powershell=True)
        elif family == "cmd":
            self.windows(text, depth, powershell=False)
        elif family == "redis":
            self.redis_lines(text, depth)
        elif family == "zk":
            self.console_lines(text, "zkCli.sh", depth)
        elif family in _CONSOLE_TOOLS:
            self.console_lines(text, family, depth)
            if family == "routeros":  # its own rows (`/system package update install` reboots)
                self.found.extend(Finding(reason, rule.severity, rule.family, rule)
                                  for rule, reason in text_findings(text, family, True))
        elif family in _OWN_WORDS:
            before = len(self.found)
            self.statements(text, family, own_only=family != "wire")
            if len(self.found) == before and family == "wire":
                self._fed_lines(text)
            elif len(self.found) == before and family not in ("ldif", "netdev"):
                self._console_verbs(text)
        elif family == "http":
            self.http_lines(text, depth)
        elif family == "url":  # a URL the operator opens: the action is in its path
            self.found.extend(Finding(f"opening {line.strip()} triggers an admin action", HIGH,
                                      "http") for line in text.splitlines()
                              if "://" in line and admin_url(line.strip()))
        elif family == "sql":
            self.sql(text, depth)
        elif family != "data":
            before = len(self.found)
            self.statements(text)
            if len(self.found) == before and family != "python":  # df.drop(): everyday
                self._method_call(text)

    def statements(self, text: str, lang: str = "", own_only: bool = False) -> None:
        """Statement rules on text in ``lang`` ("sql", "powershell", or "" when it only may
        hold statements: a quoted string, Python or JavaScript); ``own_only``: only the rules
        written for that language."""
        if lang not in _OWN_WORDS and METHOD_HINT.search(text) is None and \
                TEXT_TRIGGERS.isdisjoint(re.findall(r"[a-z_]+", text.lower())):
            return
        self.found.extend(Finding(reason, rule.severity, rule.family, rule)
                          for rule, reason in text_findings(text, lang, own_only))

    def sql(self, text: str, depth: int) -> None:
        """Statements, and the lines a SQL client hands to a shell: psql's ``\\! cmd`` and a
        backslash word that is no client meta-command (``\\rm -f x``: a shell alias bypass)."""
        if "\\" in text:
            for line in text.splitlines():
                match = _BACKSLASH_LINE_RE.match(line)
                if match and (match.group(1) == "!" or match.group(1) not in PSQL_META):
                    self.shell(line.strip()[2:] if match.group(1) == "!" else line.strip(), depth)
        self.statements(text, "sql")

    def console_lines(self, text: str, tool: str, depth: int) -> None:
        """Lines typed into a tool's own console (``[zk: host(CONNECTED) 3] deleteall /x``):
        each is that tool's command line."""
        for line in text.splitlines():
            line = _CONSOLE_PROMPT_RE.sub("", line).strip()
            if tool == "routeros":  # `/ip/firewall/filter remove`: the menu path, then its verb
                line = _MENU_PATH_RE.sub(lambda m: m.group(0).replace("/", " "), line).strip()
            if line and not line.startswith("#"):
                for command in commands(line):
                    self.invoke([tool, *command.words], None, depth)

    def redis_lines(self, text: str, depth: int) -> None:
        for line in text.splitlines():
            line = _REDIS_PROMPT_RE.sub("", line).strip()
            if line and not line.startswith("#"):
                for command in commands(line):
                    self.invoke(["redis-cli", *command.words], None, depth)

    def http_lines(self, text: str, depth: int) -> None:
        """Request lines (``DELETE /index``), each with the body that follows it."""
        requests: list[tuple[list[str], list[str]]] = []
        for line in text.splitlines():
            parts = line.split()
            if parts and parts[0].upper() in _HTTP_METHODS:
                requests.append(([parts[0].upper(), *parts[1:2]], []))
            elif requests:
                requests[-1][1].append(line)
        for request, body in requests:
            self.invoke([*request, "--body", "\n".join(body)] if body else request, None, depth)

    def windows(self, text: str, depth: int, powershell: bool) -> None:
        if powershell:  # method calls on what a pipeline got: $_.Delete(), $proc.Kill()
            self.statements(text, "powershell", own_only=True)
        for command in windows_commands(text, powershell):
            words = command.words
            if powershell and words:
                name = words[0].lower()
                words = [POWERSHELL_ALIASES.get(name, words[0]), *words[1:]]
            self.invoke(words, None, depth, powershell=powershell, quoted=command.quoted)

    # -- shell ----------------------------------------------------------------------------------

    def shell(self, text: str, depth: int, stdin: Stdin | None = None) -> None:
        if "<" in text:  # <pod name> placeholders are words, not redirections
            text = mask_placeholders(text)
        parsed = commands(text)
        i = 0
        while i < len(parsed):
            command = parsed[i]
            glued = self._glued_statement(parsed, i, text)
            if glued is not None:
                i, statement, sql = glued
                self.statements(statement, "sql" if sql else "")
                continue
            feed = self._stdin_of(parsed, i, stdin if i == 0 else None)
            self._redirect_targets(command)
            self.invoke(command.words, feed, depth, quoted=command.quoted)
            i += 1

    def _glued_statement(self, parsed: list[Command], i: int,
                         text: str) -> tuple[int, str, bool] | None:
        """SQL or Mongo shell pasted as shell lines: (next index, statement text, is SQL)."""
        words = parsed[i].words
        if not words or parsed[i].start < 0:
            return None
        head = words[0]
        second = words[1] if len(words) > 1 else ""
        http = head in _HTTP_METHODS and 2 <= len(words) <= 3 and second.upper() != "FROM"
        sql = (head in _SQL_LEAD or (head in _SQL_LEAD_LOWER and _SQL_SHAPE.match(
            " ".join(words[:4])) is not None)) and not second.startswith("-") and not http
        if not sql and not _MONGO_LEAD.match(head):
            return None
        j = i
        while sql and j + 1 < len(parsed) and parsed[j + 1].sep == "\n" and parsed[j + 1].words:
            head = parsed[j + 1].words[0]  # a statement goes on until `;` or a shell command
            if head in WRAPPERS or head in TEXT_COMMANDS or rules_for(head):
                break
            j += 1
        end = max(c.end for c in parsed[i:j + 1])
        return j + 1, text[parsed[i].start:end], sql

    def _stdin_of(self, parsed: list[Command], i: int, outer: Stdin | None) -> Stdin | None:
        command = parsed[i]
        if command.heredoc is not None:
            return Stdin("text", command.heredoc)
        for op, target in command.redirects:
            if op == "<<<":
                return Stdin("text", target)
            if op == "<" and target not in ("/dev/null", "-"):
                return Stdin("file", target)
        if command.piped and i > 0:
            return _producer_stdin(parsed[i - 1])
        return outer

    def _redirect_targets(self, command: Command) -> None:
        for op, target in command.redirects:
            if op in (">", ">>", ">|", "&>", "&>>") and RAW_DEVICE_RE.search(target):
                what = "the kernel's reboot trigger" if "sysrq" in target else "a raw disk device"
                self.found.append(Finding(f"writing to {what} ({target}) can destroy data or "
                                          "take the machine down", 3, "disks"))
            elif op in (">", ">>", ">|") and control_file(target):
                self._control_write(target)
            elif op in (">", ">|") and _writes_nothing(command.words) and \
                    not target.startswith("/dev/") and target != "&1":
                self.found.append(Finding(f"> {target} empties the file", 2, "files"))

    def _tee(self, args: list[str], stdin: Stdin | None) -> None:
        """``echo 1 | tee /sys/.../delete`` writes a control file; ``: | tee file`` (nothing
        piped in, no ``-a``) empties the file."""
        files = [a for a in args if not a.startswith("-")]
        for target in filter(control_file, files):
            self._control_write(target)
        empty = stdin is not None and ((stdin.kind == "text" and not stdin.text.strip()) or
                                       (stdin.kind == "data" and stdin.text in (":", "true")))
        if empty and not {"-a", "--append"} & set(args):
            self.found.extend(Finding(f"tee {target} with nothing piped in empties the file", 2,
                                      "files") for target in files)

    def _control_write(self, target: str) -> None:
        """A write to ``.../device/delete`` removes a device (high); ``drop_caches`` and other
        resets only cost performance (medium)."""
        action = target.rsplit("/", 1)[-1]
        severity = HIGH if action in ("delete", "remove") else MEDIUM
        self.found.append(Finding(f"writing to {target} tells the kernel to "
                                  f"{action.replace('_', ' ')}", severity, "disks"))

    # -- one command and what it runs -----------------------------------------------------------

    def invoke(self, words: list[str], stdin: Stdin | None, depth: int,
               powershell: bool = False, quoted: list[bool] | None = None) -> None:
        """Apply the rules to a command, then follow whatever it runs (sudo, ssh, sh -c, ...)."""
        if quoted is None or len(quoted) != len(words):
            quoted = [False] * len(words)
        before = len(self.found)
        for _hop in range(12):
            start = 0
            while start < len(words) and ASSIGNMENT_RE.match(words[start]):
                self._loose_text(words[start].partition("=")[2], depth)
                start += 1
            words, quoted = words[start:], quoted[start:]
            if not words:
                return
            name, args = tool_name(words[0]), words[1:]
            if name in _REDIS_BARE:
                name, args = "redis-cli", words
            if name.startswith("/etc/init.d/") or name.startswith("/etc/rc.d/"):
                name, args = "service", [name.rsplit("/", 1)[-1], *args]
            name = name.rsplit("/", 1)[-1] if "/" in name and not name.endswith("/") else name
            lowered = name.lower()
            if lowered == "tee":  # echo 1 | tee /sys/block/sdf/device/delete
                self._tee(args, stdin)
            if lowered in TEXT_COMMANDS or (powershell and lowered in POWERSHELL_BENIGN):
                return
            grammar = grammar_for(name, powershell)
            parsed = parse_args(args, grammar)
            if "--help" in parsed.flags or rehearsal(parsed, grammar):
                return
            known = self._apply_rules(name, args, parsed, grammar, stdin)
            unmatched = known is False and not powershell  # rules, none of them met
            wrapper = WRAPPERS.get(name) or WRAPPERS.get(lowered)
            inner = None
            if wrapper is not None:
                inner = self._follow(wrapper, args, stdin, depth)
            else:
                via = exec_path(name, parsed, grammar)
                if via is not None:  # what it runs is analysed as a command of its own
                    wrapper, offset = via
                    inner = self._follow(wrapper, args[offset:], stdin, depth)
                else:
                    if known is None:
                        self._generic(name, parsed, everyday=lowered in BENIGN)
                    elif unmatched and subcommand_tool(name):  # lxc image delete, kubectl cnpg
                        self._generic(name, parsed, everyday=False, known=True)
                    if len(self.found) == before and lowered not in BENIGN:
                        rows = None if known is None else \
                            KNOWN_LOOKALIKES.get(name, frozenset())
                        self._lexicon(name, args, quoted[1:], rows)
                    self._loose_words(args, quoted[1:], depth)
            if inner is None:
                return
            words, quoted = inner, [False] * len(inner)

    def _apply_rules(self, name: str, args: list[str], parsed: Parsed, grammar: Grammar,
                     stdin: Stdin | None) -> bool | None:
        """The worst rule that matches, as a finding: True; False when the tool's rules do not
        match; None when the tool has no rules."""
        rules = rules_for(name)
        if not rules:
            return None
        best = best_match(rules, name, args, parsed, grammar, stdin)
        if best is None:
            return False
        rule, reason = best
        self.found.append(Finding(reason, rule.severity, rule.family, rule))
        return True

    def _follow(self, wrapper: Wrapper, args: list[str], stdin: Stdin | None,
                depth: int) -> list[str] | None:
        """Analyse the code a wrapper runs; return the argv it runs, if any."""
        if wrapper.exec_flags:  # find ... -exec CMD {} ;  (each -exec runs a command)
            for k, arg in enumerate(args):
                if arg in wrapper.exec_flags:
                    rest = args[k + 1:]
                    stop = next((j for j, w in enumerate(rest) if w in wrapper.stop_at), None)
                    self.invoke(rest[:stop], None, depth + 1)
            return None
        slash = any(opt.startswith("/") for opt in wrapper.code_opts)
        if wrapper.code_rest:  # cmd /c sc delete x: the rest of the line is the code
            at = next((i for i, a in enumerate(args) if a.lower() in wrapper.code_opts), None)
            if at is not None:
                self.code(" ".join(args[at + 1:]), language_family(wrapper.lang), depth + 1)
                return None
        grammar = Grammar(value_opts=wrapper.value_opts | wrapper.code_opts,
                          clusters=wrapper.clusters, ci=not wrapper.clusters or slash,
                          slash_flags=slash)
        parsed = parse_args(args, grammar)
        ran_code = False
        for option in wrapper.code_opts:
            for code in parsed.values.get(option.lower() if grammar.ci else option, []):
                self.code(code, language_family(wrapper.lang), depth + 1, stdin)
                ran_code = True
        if wrapper.module_opt and parsed.values.get(wrapper.module_opt):
            module = parsed.values[wrapper.module_opt][0]
            return [module, *args[args.index(module) + 1:]] if module in args else [module]
        start = command_start(args, wrapper, parsed)
        reads_stdin = wrapper.mode == "none" or start is None or \
            (wrapper.lang == "shell" and "-s" in parsed.flags)
        if reads_stdin and not ran_code and stdin is not None and stdin.kind == "text":
            self.code(stdin.text, language_family(wrapper.lang), depth + 1)
        if start is None or wrapper.mode == "none":
            return None
        rest = list(args[start:])
        stop = next((k for k, w in enumerate(rest) if w in wrapper.stop_at), None)
        rest = rest[:stop] if stop is not None else rest
        if wrapper.mode == "string" or (len(rest) == 1 and any(c in rest[0] for c in " \n;|")):
            self.code(" ".join(rest), language_family(wrapper.lang), depth + 1, stdin)
            return None
        return rest or None

    def _generic(self, name: str, parsed: Parsed, everyday: bool, known: bool = False) -> None:
        """Tools we have no rules for: trust their names, their subcommands and their options
        (only their options for everyday commands: ``mkdir reset`` is quiet, ``tar
        --remove-files`` is not); a tool whose rows did not match: its subcommands only
        (``lxc image delete``, ``kubectl cnpg destroy``: verbs nobody wrote a row for)."""
        if known:
            found = known_tool_kind(name, parsed)
        else:
            found = generic_kind(name, parsed, named=_looks_like_command(name),
                                 everyday=everyday)
        if found:
            kind, sub = found
            self.found.append(Finding(GENERIC_REASONS[kind].format(cmd=sub, sub="").replace(
                "  ", " "), MEDIUM, "named"))

    def _lexicon(self, name: str, args: list[str], quoted: list[bool],
                 rows: frozenset[str] | None) -> None:
        """The last look (`danger_lexicon.py`): a destructive verb in a verb place of a command
        no rule flagged (``endmqm QM1``, ``heroku ps:scale worker=0``)."""
        found = lexicon_finding(name, args, quoted, rows) or \
            safety_off_finding(args, rows is not None)
        if found:
            self.found.append(Finding(found[0], MEDIUM, "named"))

    def _console_verbs(self, text: str) -> None:
        """Lines typed at a console no statement rule flagged: their first word (MQSC
        ``STOP CHANNEL(TO.QM2)``)."""
        for line in text.splitlines():
            found = console_finding(_CONSOLE_PROMPT_RE.sub("", line))
            if found:
                self.found.append(Finding(found[0], MEDIUM, "named"))

    def _method_call(self, text: str) -> None:
        """A console's method call no statement rule flagged (``rs.stepDown()``, Groovy's
        ``.doKill()``): a lexicon verb leading its name."""
        found = method_finding(text)
        if found:
            self.found.append(Finding(found[0], MEDIUM, "named"))

    def _fed_lines(self, text: str) -> None:
        """Lines fed to a socket no statement rule flagged (HAProxy's ``set server be/x state
        drain``): any verb among their words."""
        for line in text.splitlines():
            found = fed_finding(line)
            if found:
                self.found.append(Finding(found[0], MEDIUM, "named"))

    def _loose_words(self, args: list[str], quoted: list[bool], depth: int) -> None:
        """Quoted strings handed to a tool: SQL, Mongo or a command line inside them."""
        previous = ""
        for arg, was_quoted in zip(args, quoted + [False] * (len(args) - len(quoted)),
                                   strict=False):
            if previous not in MESSAGE_OPTS and was_quoted and (" " in arg or "\n" in arg):
                self._loose_text(arg, depth)
            previous = arg

    def _loose_text(self, text: str, depth: int) -> None:
        if " " not in text and "\n" not in text:
            return
        self.statements(text)
        if depth < 2:  # a command line inside a string: keep only what known rules say
            before = len(self.found)
            self.shell(text, _MAX_DEPTH - 1)
            self.found[before:] = [f for f in self.found[before:] if f.family != "named"]


def _looks_like_command(name: str) -> bool:
    return bool(name) and name[0] not in "$({[" and name != "$(...)"


def _writes_nothing(words: list[str]) -> bool:
    """``> file``, ``: > file``, ``cat /dev/null > file``, ``echo -n > file``: truncation idioms."""
    return not words or words in ([":"], ["true"], ["cat", "/dev/null"], ["echo", "-n"],
                                  ["printf", ""], ["printf", "''"])


def _producer_stdin(producer: Command) -> Stdin:
    """What flows out of the command before a pipe: literal text for echo/printf/cat <<EOF."""
    words = producer.words
    name = tool_name(words[0]).lower() if words else ""
    if name in ("echo", "printf"):
        text = " ".join(w for w in words[1:] if not re.fullmatch(r"-[neE]+", w))
        return Stdin("text", text.replace("\\n", "\n"))
    if producer.heredoc is not None and name in ("cat", "tee", ""):
        return Stdin("text", producer.heredoc)
    return Stdin("data", name)
