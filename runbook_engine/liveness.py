"""How a command behaves when run: does it need a terminal, or run until someone stops it?

Plain runbooks are full of `top`, `psql $DATABASE_URL` and `tail -f logs/app.log`: run with their
output piped, the first two misbehave and the last never ends. The engine hands the terminal over
for the first kind, treats Ctrl-C as the normal end of the second, and skips both with --yes.
"""

from __future__ import annotations

from .danger import command_of as _command
from .danger import segments as _segments
from .danger import words as _words
from .shell_lex import without_comments

#: full-screen or prompt-driven programs, useless without a terminal
_SCREEN = frozenset({"top", "htop", "btop", "atop", "iotop", "nethogs", "vim", "vi", "nano",
                     "less", "more", "man", "tmux", "screen", "ncdu", "mc", "k9s", "lazydocker"})
#: clients that open a console unless given something to do
_CONSOLES = {"psql": ("-c", "--command", "-f", "--file", "-l", "--list"),
             "mysql": ("-e", "--execute"), "mariadb": ("-e", "--execute"),
             "mongosh": ("--eval", "-f", "--file"), "mongo": ("--eval",),
             "sqlite3": ("-cmd",), "redis-cli": ()}
_FOLLOW_FLAGS = {"tail": ("-f", "-F", "--follow"), "journalctl": ("-f", "--follow"),
                 "dmesg": ("-w", "--follow"), "kubectl": ("-f", "--follow", "-w", "--watch"),
                 "docker": ("-f", "--follow"), "podman": ("-f", "--follow")}
_ALWAYS_FOLLOW = frozenset({"watch", "tcpdump", "iostat", "vmstat"})


def needs_terminal(code: str, lang: str = "bash") -> str | None:
    """Why the code needs the operator's terminal (None when it does not)."""
    for cmd, args in _commands(code, lang):
        if cmd in _SCREEN:
            return f"{cmd} needs a terminal"
        if cmd in _CONSOLES and _is_console(cmd, args):
            return f"{cmd} opens an interactive console"
        if cmd == "ssh" and _ssh_login(args):
            return "ssh opens a login shell"
        if cmd in ("docker", "podman", "kubectl") and "exec" in args and \
                any(a in ("-it", "-ti", "-t") for a in args):
            return f"{cmd} exec -it opens a shell in the container"
    return None


def runs_until_stopped(code: str, lang: str = "bash") -> str | None:
    """Why the code never ends by itself (None when it does)."""
    for cmd, args in _commands(code, lang):
        if cmd in _ALWAYS_FOLLOW and not (cmd == "tcpdump" and "-c" in args):
            return f"{cmd} runs until stopped"
        if any(a in _FOLLOW_FLAGS.get(cmd, ()) for a in args):
            return f"{cmd} {'follows' if cmd != 'kubectl' else 'watches'} until stopped"
        if cmd == "pm2" and args[:1] == ["logs"] and "--nostream" not in args:
            return "pm2 logs follows until stopped"
        if cmd == "ping" and not any(a.startswith("-c") for a in args):
            return "ping runs until stopped"
        if cmd in ("npm", "yarn", "pnpm") and (args[:1] == ["start"] or args[:2] == ["run", "dev"]
                                                or args[:1] == ["dev"]):
            return f"{cmd} {' '.join(args[:2])} runs a server until stopped"
    return None


def _commands(code: str, lang: str) -> list[tuple[str, list[str]]]:
    if not code.strip():
        return []
    found = []
    for _sep, segment in _segments(without_comments(code, lang)):
        words = _words(segment)
        # `watch` is a prefix to the danger rules (watch rm -rf is still rm); here it is the point
        cmd, args = ("watch", words[1:]) if words[:1] == ["watch"] else _command(words)
        if cmd:
            found.append((cmd, args))
    return found


def _is_console(cmd: str, args: list[str]) -> bool:
    if any(_has_option(a, flag) for a in args for flag in _CONSOLES[cmd]):
        return False
    positional = [a for a in args if not a.startswith("-")]
    if cmd == "redis-cli":
        # redis-cli -a PASS -h HOST ping: the options take values; a command word remains
        values = sum(1 for a in args if a in ("-a", "-h", "-p", "-n", "-u", "--user", "--pass"))
        return len(positional) <= values
    if cmd == "sqlite3":
        return len(positional) <= 1  # sqlite3 FILE opens a console; sqlite3 FILE SQL does not
    if cmd in ("mysql", "mariadb", "psql"):
        return len(positional) <= 2  # database (and user) names, no command
    return True


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
