"""Danger analysis: why a step's code may destroy data, kill processes or take hosts down.

One small engine applies the tables of `danger_rules.py` (tools, wrappers, rules) and
`danger_text.py` (SQL, MongoDB, Redis and console statements) to code in any language a runbook
holds: shell (through ``sudo``, ``ssh host '...'``, ``sh -c``, ``docker exec``, ``kubectl exec``,
pipes, heredocs and ``$(...)``), SQL, Redis, MongoDB, PowerShell, Windows ``cmd`` and HTTP
request lines. A cheap word check runs first, so code that names no destructive tool costs
a set lookup.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .danger_grammar import (
    ADMIN_BODY_WORDS,
    ADMIN_PATH_WORDS,
    BENIGN,
    DEFAULT_GRAMMAR,
    DESTRUCTIVE_WORDS,
    DRY_RUN_FLAGS,
    EXEC_PATHS,
    GENERIC_FLAGS,
    GENERIC_REASONS,
    GRAMMARS,
    MESSAGE_OPTS,
    POWERSHELL_ALIASES,
    POWERSHELL_BENIGN,
    POWERSHELL_GRAMMAR,
    TEXT_COMMANDS,
    TOOL_ALIASES,
    WRAPPERS,
    Grammar,
    Wrapper,
    word_set,
)
from .danger_rules import MEDIUM, RULES, Rule
from .danger_text import TEXT_TRIGGERS, text_findings
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
    if not code or family == "data" or not _may_be_dangerous(code):
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
        found = [f for line in lines if _may_be_dangerous(line) for f in _line_findings(line)]
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
           "cockroach duckdb trino presto",
    "redis": "redis redis-cli valkey",
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


def language_family(lang: str | None) -> str:
    """``shell``, ``sql``, ``redis``, ``mongo``, ``powershell``, ``cmd``, ``http``, ``python``,
    ``ruby``, ``data`` (never analysed) or ``other`` (statement rules only)."""
    name = (lang or "").strip().lower()
    if not name or name in SHELL_LANGS or name in ("shell-session", "sh-session", "terminal",
                                                    "bash-session", "fish", "ksh"):
        return "shell"
    return _FAMILY.get(name, "other")


# ---------------------------------------------------------------- prefilter

_PARTS_RE = re.compile(r"[a-z0-9]+")
# `> file`, `: > file` at the start of a command: the file is emptied
_EMPTYING_RE = re.compile(r"(?:^|[;&|(\n'\"])[ \t]*(?::|true|cat[ \t]+/dev/null|echo[ \t]+-n)?"
                          r"[ \t]*>\|?[ \t]*[^\s>&|]", re.MULTILINE)
_RAW_DEVICE_RE = re.compile(r"/dev/(?:[sh]d[a-z]|nvme|xvd|vd[a-z]|mmcblk|disk\d|md\d|mapper/)|"
                            r"/proc/sysrq-trigger")


def _name_parts(name: str) -> list[str]:
    return _PARTS_RE.findall(name.lower())


@functools.cache
def _triggers() -> frozenset[str]:
    """Every word whose presence makes code worth a full look (built once, on first use)."""
    words: set[str] = set()
    for trigger in TEXT_TRIGGERS:  # the prefilter sees words split at `_`: pg_terminate_backend
        words.add(max(_name_parts(trigger), key=len))
    for rule in RULES:
        for tool in rule.tools:
            parts = _name_parts(tool)
            words.add(max(parts, key=len) if parts else tool.lower())
    for group in DESTRUCTIVE_WORDS.values():
        words |= group
    for flag in GENERIC_FLAGS:
        parts = _name_parts(flag)
        words.add(max(parts, key=len))
    words |= ADMIN_PATH_WORDS
    words |= {"del", "unlink", "hdel", "flushall", "flushdb", "exec", "sysrq"}
    return frozenset(words)


def _may_be_dangerous(code: str) -> bool:
    lowered = code.lower()
    if not _triggers().isdisjoint(_PARTS_RE.findall(lowered)):
        return True
    if "/dev/" in lowered and _RAW_DEVICE_RE.search(lowered):
        return True
    return ">" in code and bool(_EMPTYING_RE.search(code))


# ---------------------------------------------------------------- argument grammar


@dataclass
class Parsed:
    """A command's arguments read with its tool's grammar."""

    flags: set[str] = field(default_factory=set)
    values: dict[str, list[str]] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)
    index: list[int] = field(default_factory=list)  # argument index of each positional
    ambiguous: list[bool] = field(default_factory=list)  # right after an unknown option
    dashdash: int = -1


def parse_args(args: Sequence[str], grammar: Grammar) -> Parsed:
    """Split arguments into flags, option values and positionals (``-n prod`` is a value)."""
    out = Parsed()
    values = grammar.value_opts
    unknown_before = False
    i, n = 0, len(args)
    while i < n:
        arg = args[i]
        i += 1
        if arg == "--" and out.dashdash < 0:
            out.dashdash = i - 1
            continue
        if out.dashdash >= 0 or not arg or arg[0] not in "-/" or arg == "-" or \
                (arg[0] == "/" and not (grammar.slash_flags and _is_slash_flag(arg))):
            out.positionals.append(arg.lower() if grammar.ci else arg)
            out.index.append(i - 1)
            out.ambiguous.append(unknown_before)
            unknown_before = False
            continue
        name = arg.lower() if grammar.ci else arg
        unknown_before = False
        if name.startswith("--") or not grammar.clusters or name[0] == "/" or name in values:
            key, eq, value = name.partition("=")
            if not eq and ":" in key and grammar.ci:  # PowerShell -Name:value, cmd /w:C:\
                key, eq, value = key.partition(":")
            out.flags.add(key)
            if eq:
                out.values.setdefault(key, []).append(value)
            elif key in values and i < n and not _is_option(args[i]):
                out.values.setdefault(key, []).append(args[i])
                i += 1
            else:
                unknown_before = key not in values and not _is_known_flag(key)
                if grammar.greedy_values and i < n and args[i][:1] not in ("-", ""):
                    out.values.setdefault(key, []).append(args[i])  # and still a positional
            continue
        out.flags.add(name)
        for pos in range(1, len(name)):
            short = "-" + name[pos]
            out.flags.add(short)
            rest = name[pos + 1:]
            if short in values or (short in grammar.optional_attached and rest):
                if rest:
                    out.values.setdefault(short, []).append(rest)
                elif short in values and i < n and not _is_option(args[i]):
                    out.values.setdefault(short, []).append(args[i])
                    i += 1
                break
    return out


def _is_option(arg: str) -> bool:
    """A word that is itself an option, so the option before it took no value."""
    return len(arg) > 1 and arg[0] == "-" and not arg[1].isdigit()


def _is_slash_flag(arg: str) -> bool:
    name = arg.split(":", 1)[0]
    return 2 <= len(name) <= 12 and name[1:].replace("-", "").isalpha() and "/" not in name[1:]


def _is_known_flag(name: str) -> bool:
    # long options that never take a value, however unknown the tool (--force, --all, -y)
    return name in ("--force", "--all", "--yes", "--recursive", "--quiet", "--verbose",
                    "--wait", "--now", "--rm", "--purge", "--delete", "-y", "-q", "-v", "-f",
                    "--debug", "--insecure", "--no-wait", "--ignore-not-found", "--cascade")


def _has_flag(parsed: Parsed, alternatives: str, grammar: Grammar) -> str | None:
    for alt in alternatives.split("|"):
        alt = alt.lower() if grammar.ci else alt
        if "*" in alt:
            hit = next((f for f in parsed.flags if fnmatch.fnmatchcase(f, alt)), None)
            if hit:
                return hit
        elif alt in parsed.flags:
            return alt
        elif grammar.ci and alt.startswith("-") and not alt.startswith("--"):
            # PowerShell accepts any unambiguous prefix of a parameter name (-Rec, -Fo)
            hit = next((f for f in parsed.flags if len(f) >= 2 and alt.startswith(f)), None)
            if hit:
                return hit
    return None


def _option_value(parsed: Parsed, options: str, globs: str, grammar: Grammar) -> str | None:
    """The first value of one of ``options`` that matches ``globs`` (``~regex``: a regex)."""
    regex = re.compile(globs[1:], re.IGNORECASE) if globs.startswith("~") else None
    patterns = [g.lower() for g in globs.split("|")]
    for option in options.split("|"):
        for value in parsed.values.get(option.lower() if grammar.ci else option, []):
            if regex.search(value) if regex else any(fnmatch.fnmatchcase(value.lower(), p)
                                                      for p in patterns):
                return value
    return None


# ---------------------------------------------------------------- rule matching


@functools.cache
def _rules_index() -> tuple[dict[str, tuple[Rule, ...]], tuple[tuple[str, Rule], ...]]:
    exact: dict[str, list[Rule]] = {}
    globs: list[tuple[str, Rule]] = []
    for rule in RULES:
        for tool in rule.tools:
            if "*" in tool:
                globs.append((tool, rule))
            else:
                exact.setdefault(tool, []).append(rule)
    return {k: tuple(v) for k, v in exact.items()}, tuple(globs)


def rules_for(name: str) -> tuple[Rule, ...]:
    """The rules that apply to a tool (exact name, then lower-case, then globs like mkfs.*)."""
    exact, globs = _rules_index()
    found = exact.get(name) or exact.get(name.lower()) or ()
    lowered = name.lower()
    cmdlet = _CMDLET_RE.match(lowered) is not None
    return found + tuple(rule for pattern, rule in globs if fnmatch.fnmatchcase(lowered, pattern)
                         and (cmdlet or rule.family != "powershell"))


_CMDLET_RE = re.compile(r"[a-z]+-[a-z0-9]+\Z")
_MASKED_RE = re.compile(r"_x+_\Z")
_SCRIPT_FILE_RE = re.compile(r"\.(?:sh|bash|py|rb|pl|ps1|js|ts|php|ya?ml|sql|tf|bat|cmd)\Z")


@functools.cache
def _level(level: str, ci: bool) -> re.Pattern[str]:
    alternatives = [re.escape(alt).replace(r"\*", ".*") for alt in level.split("|")]
    return re.compile("(?:" + "|".join(alternatives) + r")\Z", re.IGNORECASE if ci else 0)


def _match_path(path: tuple[str, ...], parsed: Parsed, ci: bool) -> tuple[int, int] | None:
    """(first, end) positional indices of the subcommand path, or None."""
    if not path:
        return 0, 0
    positionals = parsed.positionals
    levels = path[1:] if path[0] == "**" else path
    starts: list[int]
    if path[0] == "**":
        starts = list(range(min(len(positionals), 6)))
    else:  # a positional right after an unknown option may be its value: try past it
        starts = [0]
        while starts[-1] < len(positionals) and parsed.ambiguous[starts[-1]]:
            starts.append(starts[-1] + 1)
    for start in starts:
        end = start + len(levels)
        if end <= len(positionals) and all(
                _level(level, ci).match(positionals[start + k]) for k, level in enumerate(levels)):
            return start, end
    return None


@dataclass
class _Hit:
    rule: Rule
    sub: str
    value: str


def match_rule(rule: Rule, parsed: Parsed, grammar: Grammar, raw_positionals: list[str],
               stdin: Stdin | None) -> _Hit | None:
    """Does this invocation meet the rule's path and conditions?"""
    span = _match_path(rule.path, parsed, grammar.ci)
    if span is None:
        return None
    if rule.stdin and (stdin is None or stdin.kind == "text"):
        return None
    if any(_has_flag(parsed, group, grammar) is None for group in rule.flags):
        return None
    if rule.unless and _has_flag(parsed, rule.unless, grammar):
        return None
    value = ""
    for options, globs in rule.values:
        found = _option_value(parsed, options, globs, grammar)
        if found is None:
            return None
        value = value or found
    if any(_option_value(parsed, o, g, grammar) is not None for o, g in rule.unless_values):
        return None
    operands = raw_positionals[span[1]:] if rule.path else raw_positionals
    if rule.named:  # the task or script is the first operand; the rest are its arguments
        operands = operands[:1]
    if rule.operand or rule.admin_url or rule.named:
        hit = _operand(rule, operands + parsed.values.get("--url", []))
        if hit is None and rule.admin_url:
            hit = _admin_body(parsed)
        if hit is None:
            return None
        value = value or hit
    first = 0 if rule.path[:1] == ("**",) else span[0]  # gcloud compute instances delete
    return _Hit(rule, " ".join(raw_positionals[first:span[1]]), value)


def _rank(rule: Rule) -> tuple[int, int]:
    detail = len(rule.path) + len(rule.flags) + len(rule.values) + bool(rule.operand)
    return rule.severity, detail


def _operand(rule: Rule, operands: list[str]) -> str | None:
    for operand in operands:
        if rule.operand and re.search(rule.operand, operand):
            return operand
        if rule.admin_url and _admin_url(operand):
            return operand
        if rule.named and _destructive_name(operand):
            return operand
    return None


def _admin_url(operand: str) -> bool:
    if "/" not in operand and not operand.startswith("_"):
        return False
    path = operand.split("://", 1)[-1]
    path = path[path.find("/"):] if "/" in path else path
    words = set(re.split(r"[^a-z0-9]+|_", path.lower()))
    words |= set(re.split(r"[/?&=]+", path.lower()))  # whole segments: step-down, force-leave
    return not ADMIN_PATH_WORDS.isdisjoint(words)


def _admin_body(parsed: Parsed) -> str | None:
    for option in ("-d", "--data", "--data-raw", "--data-binary", "--json", "--body-data",
                   "--post-data", "--body"):
        for body in parsed.values.get(option, []):
            if not ADMIN_BODY_WORDS.isdisjoint(re.findall(r"[a-z_]+", body.lower())):
                return body
    return None


def _destructive_name(name: str) -> str | None:
    parts = set(re.split(r"[^a-z0-9]+", name.lower()))
    for kind, words in DESTRUCTIVE_WORDS.items():
        if not words.isdisjoint(parts):
            return kind
    return None


def _scope(parsed: Parsed, grammar: Grammar) -> str:
    suffix = ""
    for options, template in grammar.scope:
        for option in options:
            value = parsed.values.get(option, [""])[0]
            if value and not _MASKED_RE.match(value):  # not a <placeholder> the operator fills
                suffix += template.format(value)
                break
    if {"-A", "--all-namespaces"} & parsed.flags and grammar.scope:
        suffix += " in every namespace"
    return suffix


# ---------------------------------------------------------------- the walk


@dataclass(frozen=True)
class Stdin:
    """What a command reads: literal text (heredoc, ``echo ... |``), a file, or another's output."""

    kind: str  # "text" | "file" | "data"
    text: str = ""


_SQL_LEAD = word_set("SELECT INSERT UPDATE DELETE WITH ALTER CREATE DROP VACUUM ANALYZE EXPLAIN "
                      "TRUNCATE GRANT REVOKE REINDEX BEGIN COMMIT ROLLBACK SHOW USE DESCRIBE "
                      "CLUSTER REFRESH COPY LOCK KILL SHUTDOWN RESET PURGE STOP CHANGE RESTORE "
                     "DBCC FLUSH")
_SQL_LEAD_LOWER = word_set("select insert update delete with alter create drop vacuum grant "
                           "revoke reindex")
_REDIS_BARE = word_set("DEL UNLINK HDEL FLUSHALL FLUSHDB flushall flushdb")
_MONGO_LEAD = re.compile(r"^(?:db|rs|sh)\.\w")
_ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_HTTP_METHODS = word_set("GET HEAD POST PUT PATCH DELETE OPTIONS")
_REDIS_PROMPT_RE = re.compile(r"^\s*(?:[\w.-]+:\d+(?:\[\d+\])?>|redis>)\s*")
_MAX_DEPTH = 4


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
        elif family == "http":
            self.http_lines(text, depth)
        elif family == "sql":
            self.statements(text, "sql")
        elif family != "data":
            self.statements(text)

    def statements(self, text: str, lang: str = "", own_only: bool = False) -> None:
        """Statement rules on text in ``lang`` ("sql", "powershell", or "" when it only may
        hold statements: a quoted string, Python or JavaScript); ``own_only``: only the rules
        written for that language."""
        if TEXT_TRIGGERS.isdisjoint(re.findall(r"[a-z_]+", text.lower())):
            return
        self.found.extend(Finding(reason, rule.severity, rule.family, rule)
                          for rule, reason in text_findings(text, lang, own_only))

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
        sql = (head in _SQL_LEAD or head in _SQL_LEAD_LOWER) and not second.startswith("-") \
            and not http
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
            if op in (">", ">>", ">|", "&>", "&>>") and _RAW_DEVICE_RE.search(target):
                what = "the kernel's reboot trigger" if "sysrq" in target else "a raw disk device"
                self.found.append(Finding(f"writing to {what} ({target}) can destroy data or "
                                          "take the machine down", 3, "disks"))
            elif op in (">", ">|") and _writes_nothing(command.words) and \
                    not target.startswith("/dev/") and target != "&1":
                self.found.append(Finding(f"> {target} empties the file", 2, "files"))

    # -- one command and what it runs -----------------------------------------------------------

    def invoke(self, words: list[str], stdin: Stdin | None, depth: int,
               powershell: bool = False, quoted: list[bool] | None = None) -> None:
        """Apply the rules to a command, then follow whatever it runs (sudo, ssh, sh -c, ...)."""
        if quoted is None or len(quoted) != len(words):
            quoted = [False] * len(words)
        for _hop in range(12):
            start = 0
            while start < len(words) and _ASSIGNMENT_RE.match(words[start]):
                self._loose_text(words[start].partition("=")[2], depth)
                start += 1
            words, quoted = words[start:], quoted[start:]
            if not words:
                return
            name, args = _tool_name(words[0]), words[1:]
            if name in _REDIS_BARE:
                name, args = "redis-cli", words
            if name.startswith("/etc/init.d/") or name.startswith("/etc/rc.d/"):
                name, args = "service", [name.rsplit("/", 1)[-1], *args]
            name = name.rsplit("/", 1)[-1] if "/" in name and not name.endswith("/") else name
            lowered = name.lower()
            if lowered in TEXT_COMMANDS or (powershell and lowered in POWERSHELL_BENIGN):
                return
            grammar = _grammar_for(name, powershell)
            parsed = parse_args(args, grammar)
            if "--help" in parsed.flags or _rehearsal(parsed, grammar):
                return
            known = self._apply_rules(name, args, parsed, grammar, stdin)
            wrapper = WRAPPERS.get(name) or WRAPPERS.get(lowered)
            inner = None
            if wrapper is not None:
                inner = self._follow(wrapper, args, stdin, depth)
            else:
                exec_path = _exec_path(name, parsed, grammar)
                if exec_path is not None:  # what it runs is analysed as a command of its own
                    wrapper, offset = exec_path
                    inner = self._follow(wrapper, args[offset:], stdin, depth)
                else:
                    if not known and lowered not in BENIGN:
                        self._generic(name, parsed)
                    self._loose_words(args, quoted[1:], depth)
            if inner is None:
                return
            words, quoted = inner, [False] * len(inner)

    def _apply_rules(self, name: str, args: list[str], parsed: Parsed, grammar: Grammar,
                     stdin: Stdin | None) -> bool:
        rules = rules_for(name)
        if not rules:
            return False
        raw = [args[k] for k in parsed.index]
        best: _Hit | None = None
        for rule in rules:  # the worst row wins, then the most specific one
            hit = match_rule(rule, parsed, grammar, raw, stdin)
            if hit is not None and (best is None or _rank(hit.rule) > _rank(best.rule)):
                best = hit
        if best is not None:
            reason = best.rule.reason.format(cmd=name, sub=best.sub, value=best.value)
            self.found.append(Finding(reason + _scope(parsed, grammar), best.rule.severity,
                                      best.rule.family, best.rule))
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
        start = _command_start(args, wrapper, parsed)
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

    def _generic(self, name: str, parsed: Parsed) -> None:
        """Tools we have no rules for: trust their names, their subcommands and their flags."""
        kind = _destructive_name(name) if _looks_like_command(name) else None
        sub = name
        if kind is None:
            for k, word in enumerate(parsed.positionals[:3]):
                if "/" in word and _SCRIPT_FILE_RE.search(word):  # playbooks/db-rollback.yml
                    word = word.rsplit("/", 1)[-1]
                kind = _destructive_name(word) if len(word) < 40 and not \
                    any(c in word for c in "/ \n") else None
                if kind:
                    sub = " ".join([name, *parsed.positionals[:k], word])
                    break
        if kind is None:
            flag = next((f for f in sorted(parsed.flags) if f in GENERIC_FLAGS), None)
            if flag:
                kind, sub = _destructive_name(flag) or "delete", f"{name} {flag}"
        if kind:
            self.found.append(Finding(GENERIC_REASONS[kind].format(cmd=sub, sub="").replace(
                "  ", " "), MEDIUM, "named"))

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


def _writes_nothing(words: list[str]) -> bool:
    """``> file``, ``: > file``, ``cat /dev/null > file``, ``echo -n > file``: truncation idioms."""
    return not words or words in ([":"], ["true"], ["cat", "/dev/null"], ["echo", "-n"],
                                  ["printf", ""], ["printf", "''"])


def _producer_stdin(producer: Command) -> Stdin:
    """What flows out of the command before a pipe: literal text for echo/printf/cat <<EOF."""
    words = producer.words
    name = _tool_name(words[0]).lower() if words else ""
    if name in ("echo", "printf"):
        text = " ".join(w for w in words[1:] if not re.fullmatch(r"-[neE]+", w))
        return Stdin("text", text.replace("\\n", "\n"))
    if producer.heredoc is not None and name in ("cat", "tee", ""):
        return Stdin("text", producer.heredoc)
    return Stdin("data", name)


def _tool_name(word: str) -> str:
    name = word.lstrip("\\")
    if "\\" in name:  # C:\Program Files\tool.exe
        name = name.rsplit("\\", 1)[-1]
    if name.lower().endswith(".exe"):
        name = name[:-4]
    return TOOL_ALIASES.get(name.rsplit("/", 1)[-1], name)


def _looks_like_command(name: str) -> bool:
    return bool(name) and name[0] not in "$({[" and name not in ("$(...)",)


def _grammar_for(name: str, powershell: bool) -> Grammar:
    grammar = GRAMMARS.get(name) or GRAMMARS.get(name.lower())
    if grammar is not None:
        return grammar
    if "-" in name and (powershell or name[0].isupper()):
        return POWERSHELL_GRAMMAR
    return DEFAULT_GRAMMAR


def _rehearsal(parsed: Parsed, grammar: Grammar) -> bool:
    for flag in parsed.flags & (DRY_RUN_FLAGS | grammar.dry_run):
        values = parsed.values.get(flag, [])
        if not values or values[-1].lower() not in ("none", "false", "0"):
            return True
    return False


def _exec_path(name: str, parsed: Parsed, grammar: Grammar) -> tuple[Wrapper, int] | None:
    """``docker exec``, ``kubectl exec``, ``gcloud compute ssh``: the wrapper and where the
    arguments after the subcommand start."""
    for (_tool, path), wrapper in _exec_paths_for(name):
        span = _match_path(tuple(path.split()), parsed, grammar.ci)
        if span is None:
            continue
        offset = parsed.index[span[1] - 1] + 1 if span[1] else 0
        return wrapper, offset
    return None


@functools.cache
def _exec_paths_for(name: str) -> tuple[tuple[tuple[str, str], Wrapper], ...]:
    return tuple(item for item in EXEC_PATHS.items() if item[0][0] == name)


def _command_start(args: Sequence[str], wrapper: Wrapper, parsed: Parsed) -> int | None:
    """Index of the argument where the wrapped command (or code string) starts."""
    if wrapper.after_dashdash:
        return parsed.dashdash + 1 if 0 <= parsed.dashdash < len(args) - 1 else None
    if parsed.dashdash >= 0 and len([k for k in parsed.index if k < parsed.dashdash]) >= \
            wrapper.skip:
        return parsed.dashdash + 1 if parsed.dashdash < len(args) - 1 else None
    if len(parsed.positionals) > wrapper.skip:
        return parsed.index[wrapper.skip]
    return None


# ---------------------------------------------------------------- helpers others use


def fed_language(interpreter: str) -> str | None:
    """The language of what is fed on stdin to ``interpreter`` (``sudo -u postgres psql`` ->
    ``sql``, ``kubectl exec -i redis-0 -- redis-cli`` -> ``redis``), or None when unknown."""
    found = commands(interpreter)
    words = found[0].words if found else []
    for _hop in range(8):
        if not words:
            return None
        name = _tool_name(words[0]).rsplit("/", 1)[-1]
        wrapper = WRAPPERS.get(name)
        grammar = _grammar_for(name, powershell=False)
        offset = 1
        if wrapper is None:
            exec_path = _exec_path(name, parse_args(words[1:], grammar), grammar)
            if exec_path is None:
                return None
            wrapper, skip = exec_path
            offset += skip
        if wrapper.lang != "shell" or wrapper.mode != "argv":
            return wrapper.lang
        args = words[offset:]
        begin = _command_start(args, wrapper, parse_args(args, Grammar(wrapper.value_opts)))
        if begin is None:
            return "shell"
        words = args[begin:]
    return None



def segments(text: str) -> list[tuple[str, str]]:
    """Simple commands as (separator before, source text); quotes stay inside their command."""
    return [(c.sep, text[c.start:c.end]) for c in commands(text) if c.start >= 0]


_WORD_RE = re.compile(r"""(?:[^\s'"\\]|\\.|'[^']*'?|"(?:[^"\\]|\\.)*"?)+""")
_UNQUOTE_RE = re.compile(r"""\\.|'[^']*'?|"(?:[^"\\]|\\.)*"?""")


def words(segment: str) -> list[str]:
    """Shell words with quotes removed (a fast, forgiving stand-in for shlex.split)."""
    return [_UNQUOTE_RE.sub(_unquote, word) for word in _WORD_RE.findall(segment)]


def _unquote(match: re.Match[str]) -> str:
    text = match.group(0)
    if text[0] == "\\":
        return text[1:]
    return text[1:-1] if len(text) > 1 and text[-1] == text[0] else text[1:]


def command_of(words: list[str]) -> tuple[str, list[str]]:
    """Strip prefixes that run a command here as written (sudo, env X=1, timeout 5, ...) and
    return (command basename, arguments)."""
    if words and words[0] not in WRAPPERS and not any(c in words[0] for c in "=/\\({!"):
        return words[0], words[1:]  # the common case: a plain command word
    for _hop in range(12):
        start = 0
        while start < len(words) and _ASSIGNMENT_RE.match(words[start].lstrip("({!")):
            start += 1
        words = words[start:]
        if not words:
            return "", []
        name = _tool_name(words[0].lstrip("({!") or words[0])
        wrapper = WRAPPERS.get(name)
        if wrapper is None or not wrapper.transparent:
            return name.rsplit("/", 1)[-1], words[1:]
        grammar = Grammar(value_opts=wrapper.value_opts)
        begin = _command_start(words[1:], wrapper, parse_args(words[1:], grammar))
        if begin is None:
            return name.rsplit("/", 1)[-1], words[1:]
        words = words[1 + begin:]
    return "", []
