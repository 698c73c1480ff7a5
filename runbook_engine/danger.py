"""Danger rules: why a piece of step code may destroy data, kill processes or take hosts down."""

from __future__ import annotations

import re

from .model import SHELL_LANGS
from .shell_lex import scan, without_comments


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


def danger_reasons(code: str, lang: str = "bash") -> list[str]:
    """One human-readable reason per destructive pattern found in the code (comments ignored)."""
    shellish = not lang or lang in SHELL_LANGS
    text = without_comments(code.replace("\\\n", "  "), "bash" if shellish else lang)
    reasons = _text_reasons(text)
    if reasons and shellish:
        # `echo "DROP TABLE"`, `grep -i "DELETE FROM"`: text, not SQL that runs. Drop those
        # commands and look again (heredoc bodies and `psql -c "..."` stay in).
        kept = [seg for _sep, seg in segments(text)
                if ">" in seg or command_of(words(seg))[0] not in _TEXT_COMMANDS]
        reasons = _text_reasons("\n".join(kept))
    if shellish and _KEYWORD_RE.search(text):
        reasons = _shell_reasons(text, depth=0) + reasons
    return list(dict.fromkeys(reasons))


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


def segments(text: str) -> list[tuple[str, str]]:
    """Simple commands as (separator before, text); quoted strings stay inside their command."""
    found: list[tuple[str, str]] = []
    current: list[str] = []
    sep = ""
    for span in scan(text):
        if span.kind in ("squote", "dquote"):
            current.append(span.text)
            continue
        pos = 0
        for match in _SEP_RE.finditer(span.text):
            current.append(span.text[pos:match.start()])
            found.append((sep, "".join(current)))
            current, sep, pos = [], match.group(0), match.end()
        current.append(span.text[pos:])
    found.append((sep, "".join(current)))
    return [(s, t) for s, t in found if t.strip()]


def words(segment: str) -> list[str]:
    """Shell words with quotes removed (a fast, forgiving stand-in for shlex.split)."""
    return [_UNQUOTE_RE.sub(_unquote, word) for word in _WORD_RE.findall(segment)]


def _unquote(match: re.Match[str]) -> str:
    text = match.group(0)
    if text[0] == "\\":
        return text[1:]
    return text[1:-1] if len(text) > 1 and text[-1] == text[0] else text[1:]


def command_of(words: list[str]) -> tuple[str, list[str]]:
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
    for sep, segment in segments(text):
        if not _KEYWORD_RE.search(segment):
            previous = segment
            continue
        cmd, args = command_of(words(segment))
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
            cmd, rest = command_of(args[args.index(marker) + 1:])
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
