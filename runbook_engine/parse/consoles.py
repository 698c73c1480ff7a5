"""Session openers in shell blocks: ``ssh dest`` lines and client consoles fed the lines below."""

from __future__ import annotations

import re

from .. import lazyre
from . import shellwords
from .lines import (
    PSQL_META,
    SQL_START,
    Meter,
    dedent,
    is_comment,
    logical_line_end,
    sql_end,
    word_set,
)

_REDIS_WORDS = word_set(
    "PING GET SET DEL KEYS SCAN INFO DBSIZE FLUSHDB FLUSHALL TTL PTTL EXPIRE EXISTS TYPE HGET "
    "HGETALL HSET HDEL HKEYS HLEN LRANGE LPUSH RPUSH LPOP RPOP LLEN SMEMBERS SADD SREM SCARD "
    "ZRANGE ZADD ZCARD ZSCORE INCR DECR MGET MSET CONFIG CLIENT SLOWLOG MEMORY MONITOR SELECT "
    "AUTH PUBLISH XADD XRANGE XLEN XINFO CLUSTER BGSAVE SAVE LASTSAVE OBJECT SCRIPT EVAL UNLINK "
    "RENAME PERSIST APPEND STRLEN SETEX SETNX LATENCY ACL COMMAND ECHO TIME"
)
# lowercase redis words that are not also everyday shell commands (ping, echo, time, set...)
_REDIS_LOWER = word_set(
    "get hget hgetall hset keys scan dbsize flushdb flushall ttl expire lrange llen smembers "
    "zrange incr slowlog mget del"
)
_MONGO = lazyre.compile(r"^(?:(?:db|rs|sh)\.\w|use\s+\w+;?$|show\s+(?:dbs|databases"
                        r"|collections)\b)")
#: programs whose console reads typed lines (a line naming one may open a session)
CLIENT_WORD = lazyre.compile(
    r"(?<![\w-])(?:psql|gitlab-psql|mysql|mariadb|sqlite3|redis-cli|valkey-cli|mongosh|mongo"
    r"|cqlsh|sqlplus|rman|sqlcmd|clickhouse-client|clickhouse\s+client|zkCli(?:\.sh)?"
    r"|zookeeper-shell(?:\.sh)?|runmqsc)(?![\w-])")
#: console commands other than SQL statements, one a line (SQL*Plus, RMAN, cqlsh, zkCli)
_CONSOLE_WORDS = {
    "sqlplus": word_set("connect conn startup shutdown archive recover spool host prompt "
                        "whenever define column col set show desc describe exit quit alter "
                        "select @ @@ start execute exec"),
    "rman": word_set("restore recover backup list crosscheck delete report run configure "
                     "catalog validate show sql shutdown startup alter connect exit quit "
                     "duplicate switch set allocate release change"),
    "cql": word_set("describe desc use consistency tracing copy expand paging capture show "
                    "source login exit quit"),
    "zk": word_set("ls ls2 get set create delete deleteall rmr stat getAcl setAcl sync "
                   "addauth config reconfig history redo close connect quit whoami"),
    # IBM MQ's MQSC (runmqsc): `DISPLAY QLOCAL(X)`, `DELETE QLOCAL(X) PURGE`, `END`
    "mqsc": word_set("display dis define def alter delete clear stop start end ping reset "
                     "resolve refresh set purge suspend resume archive backup record"),
}
_SHELLS = frozenset({"sh", "bash", "ash", "zsh", "dash", "/bin/sh", "/bin/bash", "/bin/ash"})


def shell_words(text: str) -> list[str] | None:
    """The words of a simple command (None when quoting is broken); ``<two words>`` stays one."""
    from ..placeholders import find_placeholders

    protected = text
    for span in reversed([s for s in find_placeholders(text)
                          if s.form in ("angle", "curly", "bracket")]):
        inner = text[span.start:span.end].replace(" ", "\x01")
        protected = protected[:span.start] + inner + protected[span.end:]
    try:
        words = shellwords.split(protected)
    except ValueError:
        return None
    return [w.replace("\x01", " ") for w in words]


def ssh_dest(words: list[str]) -> str | None:
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


def client_language(words: list[str]) -> str | None:
    """The language a client console reads when ``words`` open it interactively, else None."""
    if not words:
        return None
    name, args = words[0].rsplit("/", 1)[-1], words[1:]
    if name in ("sudo", "doas"):  # `sudo -u postgres psql`
        k = 0
        while k < len(args) and args[k].startswith("-"):
            k += 2 if args[k] in ("-u", "-g", "-C", "-D") else 1
        return client_language(args[k:])
    if name in ("kubectl", "oc", "docker", "podman") and args[:1] != ["exec"]:
        args = _after_global_options(args)  # `kubectl -n ns exec ...`
    if name == "oc":
        name = "kubectl"
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


def _after_global_options(args: list[str]) -> list[str]:
    """The arguments from the subcommand on, global options (``-n ns``, ``--context c``) skipped."""
    k = 0
    while k < len(args) and args[k].startswith("-"):
        k += 1 if "=" in args[k] else 2
    return args[k:] if args[k:k + 1] == ["exec"] else args


def _container_client(args: list[str], value_short: str, value_long: frozenset[str]) -> str | None:
    pos = _positionals(args, value_short, "d", value_long, frozenset({"--detach"}), first_only=True)
    if not pos or len(pos) < 2:
        return None
    # kubectl exec POD -- CMD (options such as `-n ns` may follow the pod: `--` ends them)
    inner = pos[pos.index("--") + 1:] if "--" in pos else pos[1:]
    if not inner:
        return None
    if inner[0] in _SHELLS and inner[1:] in ([], ["-l"], ["-i"]):
        return "shell"
    return client_language(inner)


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
    more = _oracle_or_other_client(name, args)
    if more is not None:
        return more or None
    if name == "sqlite3":
        pos = [a for a in args if not a.startswith("-")]
        stop = any(a in ("-version", "-help", "--version", "--help") for a in args)
        return "sqlite" if len(pos) == 1 and not stop and "-cmd" not in args else None
    return None


def _oracle_or_other_client(name: str, args: list[str]) -> str | None:
    """SQL*Plus, RMAN, sqlcmd, cqlsh, clickhouse-client, zkCli and gitlab-psql: the console's
    language when ``args`` leave it interactive, "" when they run something and exit, None when
    ``name`` is none of them."""
    if name == "gitlab-psql":
        return _db_client("psql", args) or ""
    if name == "sqlplus":
        return "" if any(a.startswith("@") for a in args) or "-v" in args else "sqlplus"
    if name == "rman":
        batch = {"cmdfile", "@", "script"} & {a.split("=")[0].lower() for a in args}
        return "" if batch or any(a.startswith("@") for a in args) else "rman"
    if name == "sqlcmd":
        return "" if {"-Q", "-i", "-?"} & set(args) else "sqlcmd"
    if name == "cqlsh":
        stop = {"-e", "--execute", "-f", "--file", "--version", "--help"}
        return "" if stop & {a.split("=")[0] for a in args} else "cql"
    if name in ("clickhouse-client", "clickhouse"):
        if name == "clickhouse":
            if args[:1] != ["client"]:
                return ""
            args = args[1:]
        stop = {"-q", "--query", "--queries-file", "--version", "--help"}
        return "" if stop & {a.split("=")[0] for a in args} else "clickhouse"
    if name == "runmqsc":  # `runmqsc QM1`: MQSC typed into it; `-f file` or `-e` do not read
        return "" if {"-f", "-e", "-v"} & set(args) else "mqsc"
    if name in ("zookeeper-shell.sh", "zookeeper-shell"):  # `zookeeper-shell.sh host:2181`
        return "zk" if len([a for a in args if not a.startswith("-")]) == 1 else ""
    if name in ("zkCli.sh", "zkCli"):  # `zkCli.sh -server h:2181 ls /` runs one command
        valued = [a for k, a in enumerate(args) if k and args[k - 1] in ("-server", "-timeout")]
        rest = [a for a in args if not a.startswith("-") and a not in valued]
        return "" if rest else "zk"
    return None


def client_line(lang: str, s: str) -> bool:
    """Whether stripped line ``s`` is written in the console's language."""
    if lang == "redis":
        word = s.split()[0]
        return word in _REDIS_WORDS or (word.upper() in _REDIS_WORDS and word in _REDIS_LOWER)
    if lang == "mongo":
        return bool(_MONGO.match(s))
    words = _CONSOLE_WORDS.get(lang)
    if words is not None and (s.split()[0].lower().rstrip(";") in words or s[:1] == "@"):
        return True
    if SQL_START.match(s) or SQL_START.match(s.upper()):
        return True
    return (lang == "psql" and bool(PSQL_META.match(s))) or (lang == "sqlite" and s[:1] == ".")


def console_end(lines: list[str], j: int, lang: str, meter: Meter | None = None) -> int | None:
    """Last line fed to a console opened on the line before ``j`` (None: nothing to feed);
    ``meter`` is charged for the shell lines lexed."""
    last, k = None, j
    while k < len(lines):
        s = lines[k].strip()
        if lang == "shell" and s in ("exit", "logout"):
            return k if last is not None else None
        if lang == "shell" and not s:
            break  # a shell console reads its own paragraph; after a blank line the host resumes
        if not s or is_comment(lines[k]) or (lang != "shell" and s.startswith("--")):
            k += 1
            continue
        if lang == "shell":
            last = k = logical_line_end(lines, k, meter)
        elif client_line(lang, s):
            last = k = sql_end(lines, k) if lang in ("psql", "sql", "sqlite") else k
        else:
            break
        k += 1
    return last


def console_code(lines: list[str], lang: str) -> str:
    """The text fed to the client: its lines, without ``#`` comments (not valid in SQL/redis)."""
    if lang == "shell":
        kept = [x for x in lines if x.strip() not in ("exit", "logout")]
    else:
        kept = [x for x in lines if x.strip() and not is_comment(x)]
    return dedent("\n".join(kept))


def interactive_off_tty(interp: str) -> str:
    """Container consoles fed on stdin must not ask for a TTY (``-it`` fails without one)."""
    interp = re.sub(r"(?<=\s)-(?:it|ti)(?=\s)", "-i", interp)
    interp = re.sub(r"\s(?:-t|--tty)(?=\s)", "", interp)
    if re.match(r"^\s*(?:docker compose|docker-compose) exec\s", interp) and " -T" not in interp:
        interp = re.sub(r"\bexec\s", "exec -T ", interp, count=1)
    return interp
