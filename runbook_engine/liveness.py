"""How a command behaves when run: does it need a terminal, or run until someone stops it?

Plain runbooks are full of `top`, `psql $DATABASE_URL` and `tail -f logs/app.log`: run with their
output piped, the first two misbehave and the last never ends. The engine hands the terminal over
for the first kind, treats Ctrl-C as the normal end of the second, and skips both with --yes.
"""

from __future__ import annotations

import functools

from . import lazyre
from .danger import command_of as _command
from .danger import segments as _segments
from .danger import words as _words
from .parse.consoles import client_language
from .shell_lex import CACHED_MAX, without_comments

#: full-screen or prompt-driven programs, useless without a terminal
_SCREEN = frozenset({"top", "htop", "btop", "atop", "iotop", "nethogs", "vim", "vi", "nano",
                     "less", "more", "man", "tmux", "screen", "ncdu", "mc", "k9s", "lazydocker"})
#: database clients: parse/consoles.py decides whether a line opens their console
_DB_CLIENTS = frozenset({"psql", "mysql", "mariadb", "mongosh", "mongo", "sqlite3", "redis-cli"})
_ALWAYS_FOLLOW = frozenset({"watch", "tcpdump", "iostat", "vmstat"})
_CONTAINER_TOOLS = frozenset({"docker", "podman", "docker-compose", "kubectl", "oc"})
#: every other program either question looks for (see the two functions below)
_OTHERS = frozenset({"ssh", "tail", "journalctl", "dmesg", "pm2", "ping", "npm", "yarn", "pnpm"})
_PARTS = lazyre.compile(r"[a-z0-9]+")
#: the prefilter: a part of each name (`docker-compose` -> `compose`). A code none of whose
#: words holds one calls none of these programs, and both answers are None without reading it
#: as shell (most steps; the same bargain as the danger rules' prefilter)
_TRIGGERS = frozenset(max(_PARTS.findall(name), key=len) for name in (
    *_SCREEN, *_DB_CLIENTS, *_ALWAYS_FOLLOW, *_CONTAINER_TOOLS, *_OTHERS))


def needs_terminal(code: str, lang: str = "bash") -> str | None:
    """Why the code needs the operator's terminal (None when it does not)."""
    for piped, cmd, args in _commands(code, lang):
        if cmd in _SCREEN and not piped:
            return f"{cmd} needs a terminal"
        if cmd in _DB_CLIENTS and not piped and "<" not in args and \
                client_language([cmd, *args]):
            return f"{cmd} opens an interactive console"
        if cmd == "ssh" and not piped and _ssh_login(args):
            return "ssh opens a login shell"
        if cmd in _CONTAINER_TOOLS and "exec" in args and \
                any(a in ("-it", "-ti", "-t") for a in args):
            return f"{cmd} exec -it opens a shell in the container"
    return None


def runs_until_stopped(code: str, lang: str = "bash") -> str | None:
    """Why the code never ends by itself (None when it does)."""
    for _piped, cmd, args in _commands(code, lang):
        if cmd in _ALWAYS_FOLLOW and not (cmd == "tcpdump" and "-c" in args):
            return f"{cmd} runs until stopped"
        if cmd in ("tail", "journalctl") and any(_has_option(a, f) for a in args
                                                 for f in ("-f", "-F", "--follow")):
            return f"{cmd} follows until stopped"
        if cmd == "dmesg" and any(_has_option(a, f) for a in args for f in ("-w", "--follow")):
            return "dmesg follows until stopped"
        if cmd in _CONTAINER_TOOLS:
            reason = _container_follow(cmd, args)
            if reason:
                return reason
        if cmd == "pm2" and args[:1] == ["logs"] and "--nostream" not in args:
            return "pm2 logs follows until stopped"
        if cmd == "ping" and not any(a.startswith("-c") for a in args):
            return "ping runs until stopped"
        if cmd in ("npm", "yarn", "pnpm") and (args[:1] == ["start"] or args[:2] == ["run", "dev"]
                                                or args[:1] == ["dev"]):
            return f"{cmd} {' '.join(args[:2])} runs a server until stopped"
    return None


def _container_follow(cmd: str, args: list[str]) -> str | None:
    """`docker logs -f`, `kubectl get -w`, `docker stats`: not `kubectl apply -f x.yaml`."""
    words = [a for a in args if not a.startswith("-")]
    follow = any(a in ("-f", "--follow") for a in args)
    if "logs" in words[:2] and follow:
        return f"{cmd} logs follows until stopped"
    if cmd in ("kubectl", "oc") and words[:1] in (["get"], ["events"]) and \
            any(a in ("-w", "--watch") for a in args):
        return f"{cmd} {words[0]} --watch runs until stopped"
    if cmd != "kubectl" and words[:1] in (["stats"], ["events"]) and "--no-stream" not in args:
        return f"{cmd} {words[0]} runs until stopped"
    return None


def _commands(code: str, lang: str) -> tuple[tuple[bool, str, list[str]], ...]:
    """(reads or writes a pipe, command, arguments) for each simple command; kept for the
    few last codes, as the engine asks both questions of each step (nothing changes them),
    unless the code is huge (the words of an 8 MB command line: ~55 MB kept)."""
    if len(code) > CACHED_MAX:
        return _read_commands(code, lang)
    return _cached_commands(code, lang)


def _read_commands(code: str, lang: str) -> tuple[tuple[bool, str, list[str]], ...]:
    # one word at a time: findall's list of an 8 MB line's words took 55 MB
    if not code.strip() or _TRIGGERS.isdisjoint(m.group() for m in _PARTS.finditer(code.lower())):
        return ()
    parts = _segments(without_comments(code, lang))
    found = []
    for i, (sep, segment) in enumerate(parts):
        words = _words(segment)
        # `watch` is a prefix to the danger rules (watch rm -rf is still rm); here it is the point
        cmd, args = ("watch", words[1:]) if words[:1] == ["watch"] else _command(words)
        piped = sep.startswith("|") or (i + 1 < len(parts) and parts[i + 1][0].startswith("|")
                                        and not parts[i + 1][0].startswith("||"))
        if cmd:
            found.append((piped and not sep.startswith("||"), cmd, args))
    return tuple(found)


_cached_commands = functools.lru_cache(maxsize=16)(_read_commands)


def _has_option(arg: str, flag: str) -> bool:
    """`-c`, `-c...`, `--command=...`, or a short-option cluster holding it (`psql -Atc`)."""
    if flag.startswith("--"):
        return arg == flag or arg.startswith(flag + "=")
    if arg.startswith("--") or not arg.startswith("-"):
        return False
    return arg.startswith(flag) or (len(flag) == 2 and flag[1] in arg[1:])


def _ssh_login(args: list[str]) -> bool:
    takes_value = set("bcDEeFIiJLlmOopQRSWw")
    positional, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = len(arg) == 2 and arg[1] in takes_value
        else:
            positional.append(arg)
    return len(positional) == 1 and not any(a in ("-N", "-f", "-L", "-R", "-D") for a in args)
