"""Static safety analysis of step code: danger reasons, environment reads, placeholders, syntax."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from .model import SHELL_LANGS, Step
from .transcript.redact import looks_secret

SpanKind = Literal["code", "squote", "dquote", "comment", "heredoc", "heredoc_quoted"]

#: ``<name>`` placeholders as written in plain runbooks (``<your-db-name>``, ``<PID>``)
PLACEHOLDER_RE = re.compile(r"(?<!<)<([A-Za-z][A-Za-z0-9_.-]*)>")
_HEREDOC_RE = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_ENV_RE = re.compile(r"(?<!\\)\$(?:\{#?([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
_ASSIGN_RE = re.compile(
    r"(?:^|(?<=[\s;&|(`]))(?:(?:export|local|declare|typeset|readonly)\s+(?:-\w+\s+)*)?"
    r"([A-Za-z_][A-Za-z0-9_]*)\+?="
)
_READ_RE = re.compile(
    r"(?:^|(?<=[\s;&|(]))(?:read|mapfile|readarray)((?:\s+-[rseat]+|\s+-[pdnNuCc]\s*\S+)*)"
    r"((?:\s+[A-Za-z_][A-Za-z0-9_]*)+)"
)
_FOR_RE = re.compile(r"(?:^|(?<=[\s;&|(]))(?:for|select)\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b")


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Variables bash sets by itself (not the environment) and the ones the runner provides.
_SHELL_VARS = _names(
    "_ BASH BASHPID BASH_SOURCE BASH_LINENO BASH_REMATCH BASH_VERSION EUID FUNCNAME HISTCMD "
    "HOSTNAME HOSTTYPE IFS LINENO MACHTYPE OLDPWD OPTARG OPTIND OSTYPE PIPESTATUS PPID PWD "
    "RANDOM REPLY SECONDS SHELLOPTS SHLVL SRANDOM UID EPOCHSECONDS EPOCHREALTIME"
)


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
    quote, j = code[i], i + 1
    while j < len(code):
        if code[j] == "\\" and quote == '"':
            j += 2
            continue
        if code[j] == quote:
            return j + 1
        j += 1
    return len(code)


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


# ---------------------------------------------------------------- placeholders and environment


def iter_placeholders(code: str) -> Iterator[tuple[re.Match[str], SpanKind]]:
    """Every ``<name>`` placeholder outside comments, with the lexical context it sits in."""
    if "<" not in code:
        return
    for span in scan(code):
        if span.kind == "comment":
            continue
        for match in PLACEHOLDER_RE.finditer(code, span.start, span.end):
            yield match, span.kind


def placeholders(code: str) -> list[str]:
    """``<name>`` placeholders in first-appearance order, each once."""
    return list(dict.fromkeys(m.group(1) for m, _ in iter_placeholders(code)))


def env_reads(code: str) -> list[str]:
    """Environment variables the code reads and did not assign itself first, sorted."""
    if "$" not in code:
        return []
    events: list[tuple[int, int, str]] = []  # (position, 0 assign / 1 read, name)
    for span in scan(code):
        if span.kind in ("comment", "squote", "heredoc_quoted"):
            continue
        for match in _ENV_RE.finditer(code, span.start, span.end):
            events.append((match.start(), 1, match.group(1) or match.group(2)))
        if span.kind == "code":
            events.extend((pos, 0, name) for pos, name in _assignments(span.text, span.start))
    assigned: set[str] = set()
    reads: set[str] = set()
    for _pos, kind, name in sorted(events):
        if kind == 0:
            assigned.add(name)
        elif name not in assigned and name not in _SHELL_VARS and not name.startswith("RUNBOOK_"):
            reads.add(name)
    return sorted(reads)


def _assignments(text: str, offset: int) -> Iterator[tuple[int, str]]:
    for match in _ASSIGN_RE.finditer(text):
        yield offset + match.start(1), match.group(1)
    for match in _FOR_RE.finditer(text):
        yield offset + match.start(1), match.group(1)
    for match in _READ_RE.finditer(text):
        for name in match.group(2).split():
            yield offset + match.start(2), name


def secret_env_names(names: Iterable[str]) -> list[str]:
    """The names that look like they hold secrets (``*TOKEN*``, ``*PASSWORD*``, ...)."""
    return [name for name in names if looks_secret(name)]


# ---------------------------------------------------------------- syntax


_LINE_MSG_RE = re.compile(r"line (\d+): (.*)$")
_TEMPLATE_EXPR_RE = re.compile(r"\{\{.*?\}\}|\{#.*?#\}")
_TEMPLATE_STMT_RE = re.compile(r"\{%.*?%\}")


def syntax_problems(code: str, shell: str = "bash") -> list[tuple[int, str]]:
    """``bash -n`` findings as (line in code, message), placeholders and templates neutralised."""
    neutral = PLACEHOLDER_RE.sub(lambda m: "PLACEHOLDER".ljust(len(m.group(0))), code)
    neutral = _TEMPLATE_EXPR_RE.sub(lambda m: "T".ljust(len(m.group(0))), neutral)
    neutral = _TEMPLATE_STMT_RE.sub(lambda m: ":".ljust(len(m.group(0))), neutral)
    import shutil  # lint only: plan must not pay for subprocess
    import subprocess

    program = shutil.which(shell) if shell in ("bash", "sh", "dash", "zsh", "ksh") else None
    program = program or shutil.which("bash") or "bash"
    try:
        proc = subprocess.run([program, "-n"], input=neutral, capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [(1, f"could not run {program} -n: {exc}")]
    found: dict[int, str] = {}
    for line in proc.stderr.splitlines():
        match = _LINE_MSG_RE.search(line)
        if match and int(match.group(1)) not in found:
            found[int(match.group(1))] = match.group(2).strip()
    if proc.returncode and not found:
        found[1] = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "syntax error"
    return sorted(found.items())


# ---------------------------------------------------------------- danger


def danger_reasons(code: str, lang: str = "bash") -> list[str]:
    """One human-readable reason per destructive pattern found in the code (comments ignored)."""
    shellish = not lang or lang in SHELL_LANGS
    text = without_comments(code.replace("\\\n", "  "), "bash" if shellish else lang)
    reasons = _text_reasons(text)
    if shellish and _KEYWORD_RE.search(text):
        reasons = _shell_reasons(text, depth=0) + reasons
    return list(dict.fromkeys(reasons))


def step_danger(step: Step) -> list[str]:
    """The danger reasons shown for a step: its own override plus what the detector finds.

    Doc steps are analysed too: they are never run, but a reader may paste them."""
    if step.danger is False or step.kind == "manual":
        return []
    lang = "bash" if step.kind == "shell" else step.lang
    reasons = danger_reasons(step.code, lang)
    if step.danger is True:
        return ["marked dangerous", *[r for r in reasons if r != "marked dangerous"]]
    return reasons


# Separators between simple commands in code (``$(`` and backticks start nested commands).
_SEP_RE = re.compile(r"\|\||&&|;;?|\|&?|(?<![<>])&(?![>\d])|\n|\$\(|`|\(")
# Commands whose arguments are text, not commands: never look inside them.
_TEXT_COMMANDS = _names(
    "echo printf grep egrep fgrep rg ag ack logger man which type help cat head tail less more "
    "sed awk jq yq tee wc sort uniq cut tr"
)
# Words that may precede the real command word.
_PREFIXES = _names(
    "sudo doas then do else elif if while until time nohup exec command builtin env nice ionice "
    "xargs watch timeout ! { ( stdbuf unbuffer"
)
_WORD_RE = re.compile(r"""(?:[^\s'"\\]|\\.|'[^']*'?|"(?:[^"\\]|\\.)*"?)+""")
_UNQUOTE_RE = re.compile(r"""\\.|'[^']*'?|"(?:[^"\\]|\\.)*"?""")
# Any of these words makes a command worth a closer look; the rest are skipped quickly.
_KEYWORD_RE = re.compile(
    r"\b(?:rm|kill|pkill|killall|dd|mkfs\S*|wipefs|shutdown|reboot|halt|poweroff|systemctl|"
    r"chmod|crontab|ip6?tables|find|pg_restore|mongorestore|dropdb|truncate|docker|podman|"
    r"docker-compose|podman-compose|destroy|git|kubectl|oc|helm|psql|mysql|mariadb|sqlite3|"
    r"mongo|mongosh|terraform|tofu)\b"
)
_DB_CLIENTS = frozenset({"psql", "mysql", "mariadb", "sqlite3", "mongo", "mongosh", "redis-cli"})
_FILE_INPUT_RE = re.compile(r"(?<![<\d])<(?![<(&])\s*\S")
_DUMP_RE = re.compile(r"\.(sql|dump|bak)(\.gz|\.bz2|\.xz|\.zst)?\b", re.IGNORECASE)


def _segments(text: str) -> list[tuple[str, str]]:
    """Simple commands as (separator before, text); quoted strings stay inside their command."""
    segments: list[tuple[str, str]] = []
    current: list[str] = []
    sep = ""
    for span in scan(text):
        if span.kind in ("squote", "dquote"):
            current.append(span.text)
            continue
        pos = 0
        for match in _SEP_RE.finditer(span.text):
            current.append(span.text[pos:match.start()])
            segments.append((sep, "".join(current)))
            current, sep, pos = [], match.group(0), match.end()
        current.append(span.text[pos:])
    segments.append((sep, "".join(current)))
    return [(s, t) for s, t in segments if t.strip()]


def _words(segment: str) -> list[str]:
    """Shell words with quotes removed (a fast, forgiving stand-in for shlex.split)."""
    return [_UNQUOTE_RE.sub(_unquote, word) for word in _WORD_RE.findall(segment)]


def _unquote(match: re.Match[str]) -> str:
    text = match.group(0)
    if text[0] == "\\":
        return text[1:]
    return text[1:-1] if len(text) > 1 and text[-1] == text[0] else text[1:]


def _command(words: list[str]) -> tuple[str, list[str]]:
    """Strip prefixes (sudo, env X=1, timeout 5, ...) and return (command basename, arguments)."""
    i = 0
    while i < len(words):
        word = words[i].lstrip("({!")
        if not word or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word):
            i += 1
        elif word in _PREFIXES:
            i += 1
            while i < len(words) and (words[i].startswith("-") or words[i][:1].isdigit()):
                i += 2 if words[i] in ("-u", "-g", "-n", "-s", "-k") else 1
        else:
            return word.rsplit("/", 1)[-1], words[i + 1:]
    return "", []


def _shell_reasons(text: str, depth: int) -> list[str]:
    reasons: list[str] = []
    previous = ""
    for sep, segment in _segments(text):
        if not _KEYWORD_RE.search(segment):
            previous = segment
            continue
        cmd, args = _command(_words(segment))
        if cmd and cmd not in _TEXT_COMMANDS:
            reasons += _command_reasons(cmd, args)
            if cmd in _DB_CLIENTS and cmd != "redis-cli" and (
                _FILE_INPUT_RE.search(segment) or (sep == "|" and _DUMP_RE.search(previous))
            ):
                reasons.append(f"{cmd} fed a file restores or replays it into a database")
            if depth < 3:  # look inside quoted command strings: ssh host "rm -rf x", sh -c '...'
                for arg in args:
                    if " " in arg or "\n" in arg:
                        reasons += _shell_reasons(arg, depth + 1)
        previous = segment
    return reasons


def _short_flags(args: list[str]) -> str:
    return "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))


def _positional(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")]


def _command_reasons(cmd: str, args: list[str]) -> list[str]:
    """Rules keyed on the command word."""
    flags = _short_flags(args[: args.index("--")] if "--" in args else args)
    words = _positional(args)
    sub = words[0] if words else ""
    reasons: list[str] = []
    if cmd == "rm":
        recursive = "--recursive" in args or "r" in flags or "R" in flags
        force = "--force" in args or "f" in flags
        if recursive and force:
            reasons.append("rm -rf deletes files recursively without asking")
        elif recursive:
            reasons.append("rm -r deletes directories recursively")
        elif force:
            reasons.append("rm -f deletes files without asking")
    elif cmd == "kill" and (
        {"-9", "-KILL", "-SIGKILL", "--signal=KILL", "--signal=9"} & set(args)
        or any(a in ("-s", "--signal", "-n") and b.upper().lstrip("SIG") in ("KILL", "9")
               for a, b in zip(args, args[1:], strict=False))
    ):
        reasons.append("kill -9 stops processes without letting them clean up")
    elif cmd in ("pkill", "killall"):
        reasons.append(f"{cmd} kills every process matching a name or pattern")
    elif cmd == "dd":
        reasons.append("dd copies raw bytes and can overwrite disks and files")
    elif cmd.startswith("mkfs") or cmd == "wipefs":
        reasons.append(f"{cmd} erases a filesystem")
    elif cmd in ("shutdown", "reboot", "halt", "poweroff") or (
        cmd == "systemctl" and sub in ("reboot", "poweroff", "halt")
    ):
        reasons.append(f"{cmd if cmd != 'systemctl' else sub} takes the machine down")
    elif cmd == "chmod" and ("R" in flags or "--recursive" in args) and (
        {"777", "a+rwx", "o+w", "a+w"} & set(words)
    ):
        reasons.append("chmod -R 777 makes files writable by everyone")
    elif cmd == "crontab" and "r" in flags:
        reasons.append("crontab -r deletes the crontab")
    elif cmd in ("iptables", "ip6tables") and ("F" in flags or "--flush" in args):
        reasons.append(f"{cmd} -F removes every firewall rule")
    elif cmd == "find":
        reasons += _find_reasons(args)
    elif cmd in ("pg_restore", "mongorestore"):
        reasons.append(f"{cmd} restores into a database, overwriting data")
    elif cmd == "dropdb":
        reasons.append("dropdb deletes a database")
    elif cmd == "truncate" and ("s" in flags or any(a.startswith("--size") for a in args)):
        reasons.append("truncate -s empties or cuts files")
    reasons += _tool_reasons(cmd, args, flags, words, sub)
    return reasons


def _find_reasons(args: list[str]) -> list[str]:
    reasons = ["find -delete deletes every file it matches"] if "-delete" in args else []
    for marker in ("-exec", "-execdir", "-ok"):
        if marker in args:
            cmd, rest = _command(args[args.index(marker) + 1:])
            reasons += _command_reasons(cmd, rest)
    return reasons


def _tool_reasons(cmd: str, args: list[str], flags: str, words: list[str], sub: str) -> list[str]:
    """Rules for tools with subcommands: docker, git, kubectl, terraform-likes."""
    reasons: list[str] = []
    if cmd in ("docker", "podman") and words[:2] == ["system", "prune"]:
        reasons.append(f"{cmd} system prune deletes unused containers, images and networks")
    if cmd in ("docker", "podman") and words[:2] in (["volume", "rm"], ["volume", "prune"]):
        reasons.append(f"{cmd} volume {words[1]} deletes volume data")
    compose = cmd in ("docker-compose", "podman-compose") or (
        cmd in ("docker", "podman") and sub == "compose"
    )
    if compose and "down" in words and ("v" in flags or "--volumes" in args):
        reasons.append("docker compose down -v deletes the volumes and their data")
    if "destroy" in words or (cmd in ("terraform", "tofu") and "-destroy" in args):
        verb = " ".join(words[: words.index("destroy") + 1]) if "destroy" in words else "destroy"
        reasons.append(f"{cmd} {verb} deletes the resources it manages")
    if cmd == "git":
        reasons += _git_reasons(args, flags, sub)
    if cmd in ("kubectl", "oc") and sub in ("delete", "drain"):
        what = "removes cluster resources" if sub == "delete" else "evicts every pod from a node"
        reasons.append(f"{cmd} {sub} {what}")
    if cmd == "helm" and sub in ("uninstall", "delete"):
        reasons.append(f"helm {sub} removes a release")
    return reasons


def _git_reasons(args: list[str], flags: str, sub: str) -> list[str]:
    if sub == "reset" and "--hard" in args:
        return ["git reset --hard discards uncommitted changes"]
    if sub == "push" and (
        "f" in flags or any(a.startswith(("--force", "--mirror", "--delete")) for a in args)
        or any(a.startswith("+") for a in args)
    ):
        return ["git push --force rewrites history on the remote"]
    if sub == "clean" and "f" in flags:
        return ["git clean -f deletes untracked files"]
    return []


_SQL_DROP_RE = re.compile(
    r"\bDROP\s+(TABLE|DATABASE|SCHEMA|INDEX|(?:MATERIALIZED\s+)?VIEW|USER|ROLE|COLUMN|SEQUENCE|"
    r"FUNCTION|TRIGGER|TYPE|EXTENSION|OWNED|COLLECTION|KEYSPACE|TABLESPACE)\b",
    re.IGNORECASE,
)
_DELETE_RE = re.compile(r"\bDELETE\s+FROM\b", re.IGNORECASE)
_STATEMENT_END_RE = re.compile(r";|[\"'](?=[ \t]*(?:$|&&|\|\||[|;)]))|\n[ \t]*\n", re.MULTILINE)
_TEXT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bTRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?[A-Za-z_\"`]", re.IGNORECASE),
     "TRUNCATE deletes every row of a table"),
    (re.compile(r"\bVACUUM\s+(?:\([^)]*\bFULL\b|FULL\b)", re.IGNORECASE),
     "VACUUM FULL locks the table exclusively while it rewrites it"),
    (re.compile(r"\bpg_terminate_backend\b", re.IGNORECASE),
     "pg_terminate_backend kills database sessions"),
    (re.compile(r"\bFLUSHALL\b", re.IGNORECASE),
     "FLUSHALL deletes every key in every Redis database"),
    (re.compile(r"\bFLUSHDB\b", re.IGNORECASE), "FLUSHDB deletes every key in the Redis database"),
    (re.compile(r"\.(?:dropDatabase|drop)\(\s*\)"),
     "drop() deletes a MongoDB database or collection"),
    (re.compile(r"\.deleteMany\(\s*\{\s*\}\s*\)"), "deleteMany({}) deletes every document"),
    (re.compile(r">\s*/dev/(?:sd|hd|nvme|xvd|vd|mmcblk|disk)"),
     "writing to a raw disk device overwrites it"),
    (re.compile(r"\b(?:rails|rake)\s+db:(?:drop|reset|schema:load)\b|\bpg:reset\b|"
                r"\bprisma\s+migrate\s+reset\b|--force-reset\b"),
     "resets a database, deleting its data"),
)


_TEXT_HINT_RE = re.compile(
    r"DROP|DELETE|TRUNCATE|VACUUM|pg_terminate|FLUSH|\.drop|deleteMany|/dev/|db:|pg:reset|"
    r"migrate|force-reset",
    re.IGNORECASE,
)


def _text_reasons(text: str) -> list[str]:
    """Rules on the text itself (SQL and friends), also inside quoted strings and heredocs."""
    if not _TEXT_HINT_RE.search(text):  # one cheap search instead of a dozen
        return []
    reasons = [f"DROP {m.group(1).upper()} deletes it and its data"
               for m in _SQL_DROP_RE.finditer(text)]
    for match in _DELETE_RE.finditer(text):
        end = _STATEMENT_END_RE.search(text, match.end())
        statement = text[match.end(): end.start() if end else len(text)]
        if not re.search(r"\bWHERE\b", statement, re.IGNORECASE):
            reasons.append("DELETE FROM without WHERE deletes every row")
    reasons += [reason for pattern, reason in _TEXT_RULES if pattern.search(text)]
    return reasons
