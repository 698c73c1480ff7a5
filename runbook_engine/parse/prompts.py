"""Prompt mode: shell blocks written as terminal transcripts (``$ cmd`` followed by output)."""

from __future__ import annotations

import re

from .lines import Fragment, comment_text, dedent, is_comment, logical_line_end, word_set

_PROMPT = re.compile(
    r"^\s*(?:\$|PS(?: [^>\n]*)?>|(?:\[[^\]\n]*\]|[\w.-]+@[\w.-]+(?::[^\s$#]*)?)\s?[$#])(?: |$)"
)
_ROOT_CMDS = word_set(
    "apt apt-get yum dnf apk systemctl service journalctl cat ls cd echo rm mv cp mkdir chmod "
    "chown vi vim nano tail head grep less ps kill top df du free mount umount ip ifconfig "
    "iptables ufw useradd usermod passwd su sudo docker make pip pip3 python python3 curl wget "
    "tar reboot shutdown whoami id export source ln touch find sed awk psql mysql redis-cli git"
)


def prompt_command(line: str, root_hash: bool) -> str | None:
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
    return logical_line_end([*cmd_lines, ""], 0) >= len(cmd_lines)


def _prompt_parse(code: str, root_hash: bool) -> list[tuple[int, str, list[str], str | None]]:
    """(line, command, output lines, title) per prompted command; line -1 holds leading output."""
    lines = code.split("\n")
    entries: list[tuple[int, str, list[str], str | None]] = [(-1, "", [], None)]
    i = 0
    while i < len(lines):
        cmd = prompt_command(lines[i], root_hash)
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
    title = comment_text(output[-1]) or None
    del output[k:]
    return title


def uses_prompts(code: str) -> bool:
    """A bash block written as a terminal transcript: its first command line has a prompt."""
    for line in code.split("\n"):
        if line.strip() and not is_comment(line):
            return _PROMPT.match(line) is not None
    return False


def prompt_fragments(code: str, root_hash: bool) -> list[Fragment]:
    entries = _prompt_parse(code, root_hash)
    frags = []
    for line, cmd, output, title in entries[1:]:
        out = dedent("\n".join(output)).strip() or None
        frags.append(Fragment("command", cmd, line, title, expected_output=out))
    lead = dedent("\n".join(entries[0][2])).strip()
    if lead and not frags:
        return [Fragment("doc", lead, next(i for i, x in enumerate(code.split("\n")) if x.strip()))]
    return frags


def console_commands(code: str) -> tuple[str, str]:
    """For console / shell-session text: (commands joined by newlines, other lines joined)."""
    entries = _prompt_parse(code.replace("\r\n", "\n"), root_hash=True)
    commands = "\n".join(cmd for _, cmd, _, _ in entries[1:] if cmd)
    output = "\n".join(x for _, _, out, _ in entries for x in out).strip("\n")
    return commands, output
