"""Terminal transcripts: prompts of shells, PowerShell and database clients, with their output.

One prompt grammar (a table) for the whole parser. A shell prompt (``$ ``, ``user@host:~$ ``,
``[root@host dir]# ``, ``bash-5.1# ``, ``PS C:\\> ``) gives a command; a database prompt
(``db=# ``, ``mysql> ``, ``sqlite> ``, ``127.0.0.1:6379> ``, ``rs0:PRIMARY> ``, ``>>> ``) gives a
line fed to that client. Unprompted lines are the output of the command above them, unless one
clearly is a command whose prompt the author forgot (right after a command that prints nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .. import lazyre
from .lines import Fragment, comment_text, dedent, is_comment, logical_line_end, word_set
from .shapes import Known, first_word, line_shape
from .vocabulary import SILENT

# (language, prompt) in order; continuation prompts carry the language of the line they extend
_PROMPTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (lang, lazyre.compile(pattern)) for lang, pattern in (
        ("psql", r"^[\w-]+=[#>] ?"),
        ("psql+", r"^[\w-]+[-'(\"][#>] ?"),
        ("mysql", r"^(?:mysql|MariaDB \[[^\]\n]*\]|mariadb) ?> ?"),
        ("mysql+", r"^\s+-> ?"),
        ("sqlite", r"^sqlite> ?"),
        ("sqlite+", r"^\s*\.\.\.> ?"),
        ("redis", r"^(?:redis )?(?:[\w.-]+|\[[\w:]+\]):\d+(?:\[\d+\])?> ?|^redis> ?"),
        ("mongo", r"^[\w-]+:(?:PRIMARY|SECONDARY|ARBITER|OTHER|STARTUP2?|RECOVERING)> ?"),
        ("mongo", r"^(?:[\w-]+ )?\[(?:direct: )?(?:primary|secondary|mongos)\] [\w-]+> ?"),
        ("python", r"^>>> ?"),
        ("python+", r"^\.\.\. ?"),
        ("python", r"^In \[\d+\]: ?"),  # IPython, Django's shell_plus
        ("python+", r"^\s+\.\.\.: ?"),
        ("ruby", r"^(?:irb\([^)]*\):\d+:\d+|\[\d+\] pry\([^)]*\))[>*] ?"),
        ("hbase", r"^hbase\([^)]*\):\d+:\d+[>*] ?"),  # the HBase shell (JRuby's irb)
        ("cql", r"^cqlsh(?::[\w-]+)?> ?"),
        # MySQL Shell: ` MySQL  db-a:3306 ssl  JS > `, `MySQL  SQL > `, `MySQL  Py > `
        ("javascript", r"^\s*MySQL\b[^>\n]{0,60}?\bJS ?> ?"),
        ("mysql", r"^\s*MySQL\b[^>\n]{0,60}?\bSQL ?> ?"),
        ("python", r"^\s*MySQL\b[^>\n]{0,60}?\bPy ?> ?"),
        ("sqlplus", r"^(?:SQL|\w+ @ \w+ ?)> ?"),  # SQL*Plus; `SYS @ orcl > ` with a login.sql
        ("rman", r"^RMAN> ?"),
        ("console", r"^[A-Z][A-Z0-9_]{2,15}> "),  # DISKPART>, DGMGRL>, ASMCMD>: a vendor console
        # network devices (see also _DEVICE_PROMPT): Junos `user@router> ` (its config mode
        # `user@router# ` is found by the same user@host, in _OwnConsole), Cisco IOS written
        # with no space, `rtr1#show`, `rtr1(config-if)#no shutdown`, `rtr1>enable`
        ("netdev", r"^[\w.-]+@[\w.-]+> (?=\S)"),
        ("netdev", r"^[A-Za-z][\w.-]+(?:\(config[\w-]*\))?[#>](?=[a-z])"),
        # MikroTik RouterOS: `[admin@gw1] > /system reboot`, in a menu `[admin@gw1] /ip route> `
        ("routeros", r"^\[[\w.-]+@[\w.-]+\] (?:/[\w/ .-]*)?> ?"),
        ("sqlcmd", r"^1> ?"),
        ("sqlcmd+", r"^(?:[2-9]|[1-9]\d+)> ?"),  # sqlcmd numbers the lines of a batch
        ("zk", r"^\[zk: [^\]\n]*\] ?"),
        ("clickhouse", r"^[\w.-]+ :\) ?"),
        ("powershell", r"^\s*PS(?: [^>\n]*)?> ?"),
        ("cmd", r"^[A-Z]:\\[^>\n]*> ?"),
        ("shell", r"^\s*(?:\([\w.-]+\) )?(?:[\w.-]+@[\w.-]+(?::[^\s$#]*)?\s?|\[[^\]\n]+\]\s?"
                  r"|(?:bash|sh|zsh|ksh|ash)-\d[\d.]*|[\w.-]+:[~/][^\s$#]*\s?)[$#] ?"),
        ("shell", r"^\s*(?:~[^\s$#]*\s?)?\$(?: |$)"),
        # macOS bash `MacBook:~ alice$ `, oh-my-zsh `➜  repo git:(main) ✗ `, pure/starship `❯ `
        ("shell", r"^[\w.-]+:[~/][^\s]*\s[\w.-]+\$ |^➜\s+\S+(?:\s+git:\([^)]*\))?(?:\s+✗)?\s+"
                  r"|^[❯λ] "),
        # tcsh/csh as SAP and SUSE set it: `hdbadm@hana02:/usr/sap/HDB/HDB00> cmd`
        ("shell", r"^[\w.-]+@[\w.-]+:[~/][^\s>]*> (?=\S)"),
        # the ESXi shell: `[root@esx-14:~] cmd`, no prompt sign after the brackets
        ("shell", r"^\[[\w.-]+@[\w.-]+:[^\]\n]*\] "),
        # `patroni-01-db-gprd $ cmd`: a host name (dots or dashes in it) before the prompt sign
        ("shell", r"^[a-z][\w]*(?:[.-][\w]+)+ +[$#] |^[a-z][\w.-]*  +[$#] "),
    )
)
_MONGO = lazyre.compile(r"^(?:(?:db|rs|sh)\.\w|use\s+\w+;?$|show\s+(?:dbs|databases"
                        r"|collections)\b)")
_CLIENT_LANG = {"psql": "psql", "mysql": "mysql", "mariadb": "mysql", "sqlite3": "sqlite",
                "redis-cli": "redis", "valkey-cli": "redis", "mongo": "mongo", "mongosh": "mongo",
                "python": "python", "python3": "python", "node": "javascript", "irb": "ruby",
                "cqlsh": "cql", "pwsh": "powershell", "powershell": "powershell",
                "sqlplus": "sqlplus", "rman": "rman", "sqlcmd": "sqlcmd",
                "clickhouse-client": "clickhouse", "zkCli.sh": "zk", "zookeeper-shell.sh": "zk",
                "zookeeper-shell": "zk", "ipython": "python",
                "ipython3": "python"}
#: consoles whose prompt is their own name (``DISKPART> clean``, ``DGMGRL> ``, ``netsh> ``): a
#: line typed at one is that program's input, a manual step that names it as its client
NAMED_CONSOLES = frozenset({"diskpart", "dgmgrl", "asmcmd", "netsh", "ftp", "sftp", "lftp",
                            "nslookup"})
#: a network device's command line (``sw-12# show vlan``, ``core1(config-if)# shutdown``): the
#: host name, maybe a configuration mode in brackets, then ``#`` or ``>``
_DEVICE_PROMPT = lazyre.compile(r"^([A-Za-z][\w.-]{0,40})(\((?:config|vlan)[\w-]*\))?([#>])(?: |$)")
#: first words of device command lines (Cisco IOS and the many CLIs modelled on it)
_DEVICE_WORDS = word_set(
    "show configure conf interface no shutdown reload write copy end vlan switchport enable "
    "terminal erase delete format undebug debug router hostname username spanning-tree "
    "do ping traceroute dir more commit rollback request")
#: words only a command line has (an option, a path, ``key=value``, a name with digits in it
#: like ``r0`` or ``md127``): after a root ``# `` they tell a command from a comment
_ARGUMENTS = lazyre.compile(r"\s(?:--?[A-Za-z][\w-]*|[\w.~-]*/[\w./-]*|\w+=\S*|"
                            r"[a-z]+\d+[a-z\d]*)(?=\s|$)")
_PROSE_END = lazyre.compile(r"[.:!?]$|\s(?:the|a|an|to|of|on|and|this|that|if|it)\s")
#: a query language's statement in capitals (Cypher, SQL) after a `user@db> ` prompt: a database
#: shell's, not a router's (whose commands are lower case)
_QUERY_WORD = lazyre.compile(r"(?:MATCH|OPTIONAL MATCH|MERGE|CREATE|CALL|RETURN|UNWIND|WITH|SHOW"
                             r"|DROP|"
                             r"DELETE|DETACH|SELECT|INSERT|UPDATE|ALTER|STOP|START|USE|:\w+)\b")
#: prompts of the machine's own shells, where a client console may be opened
_HOST_SHELLS = frozenset({"shell", "cmd", "powershell"})
#: typing one of these at a client prompt ends the client session
_QUIT = frozenset({"\\q", "exit", "exit;", "quit", "quit;", "quit()", "exit()", ".quit", ".exit",
                   "\\quit", "bye"})


@dataclass
class Entry:
    """One prompted command: where, what was typed, in which language, and what it printed."""

    line: int
    command: list[str]
    lang: str
    title: str | None = None
    output: list[str] = field(default_factory=list)
    opener: str | None = None  # the client command whose prompt this is (same transcript)
    target: str | None = None  # the host an earlier `ssh host` line of the transcript opened
    ssh: bool = False  # this entry opens or closes an ssh session: not a step


def _match(line: str, root_hash: bool, after: str | None) -> tuple[str, str] | None:
    """(language, typed text) when ``line`` starts with a prompt."""
    for lang, pattern in _PROMPTS:
        m = pattern.match(line)
        if m:
            if lang == "console":  # DISKPART> : the console the prompt names, when we know it
                name = m.group(0).rstrip("> ").lower()
                lang = name if name in NAMED_CONSOLES else lang
            if lang == "netdev" and _QUERY_WORD.match(line[m.end():]):
                lang = "cypher"  # cypher-shell's `neo4j@sessions> MATCH (n) ...`
            return lang, line[m.end():]
    device = _DEVICE_PROMPT.match(line)
    if device and device.group(1).lower() not in NAMED_CONSOLES:  # `netsh> interface ipv4`
        rest = line[device.end():]
        word = rest.split(None, 1)[0] if rest.strip() else ""
        if device.group(2) or word in _DEVICE_WORDS:
            return "netdev", rest  # a switch or router: the line is its CLI's, not a shell's
        if device.group(3) == "#" and word and line_shape(rest).score >= 1.0:
            return "shell", rest  # `edge# pfctl -sr`: a root shell whose prompt is its host
    if root_hash and line.startswith("# "):
        rest = line[2:]
        score = line_shape(rest).score if rest.strip() else 0.0
        if score >= 2.5 or (score >= 1.0 and _ARGUMENTS.search(rest) and
                            not _PROSE_END.search(rest)):
            return "shell", rest  # `# drbdadm connect r0`: an unknown tool given arguments
    if line.startswith("% ") and line_shape(line[2:]).score >= 1.0:
        return "shell", line[2:]  # zsh; `  % Total` (curl's progress) is indented
    m = re.match(r"^(?:([a-z][\w-]*)> |> )(.*)$", line)
    if m:
        rest = m.group(2)
        if _MONGO.match(rest.strip()) or after == "mongo":
            return "mongo", rest
        if after in ("javascript", "redis"):
            return after, rest
        if m.group(1) in NAMED_CONSOLES:
            return m.group(1), rest
        if m.group(1) is None and line_shape(rest).score >= 1.5:
            return "shell", rest  # `> npm install`: a prompt some authors use
    return None


def prompt_command(line: str, root_hash: bool) -> str | None:
    """The shell command typed after a prompt on ``line``, or None."""
    found = _match(line, root_hash, None)
    return found[1] if found and found[0] == "shell" else None


def any_prompt(code: str, tag: str = "") -> str | None:
    """The language of the prompt on the block's first line that is not a comment, or None."""
    root_hash = tag not in ("bash", "sh", "shell", "zsh", "ksh")
    for line in code.split("\n"):
        if not line.strip():
            continue
        found = _match(line, root_hash, None)
        if found is not None:
            return found[0].rstrip("+")
        if is_comment(line) or line.strip().startswith(("--", "//")):
            continue
        return None
    return None


def uses_prompts(code: str) -> bool:
    """A shell block written as a terminal transcript: its first command line has a prompt."""
    return any_prompt(code, "bash") is not None


def _needs_more(cmd_lines: list[str]) -> bool:
    """True while the typed command is unfinished (``\\``, open quote, heredoc, trailing ``|``)."""
    return logical_line_end([*cmd_lines, ""], 0) >= len(cmd_lines)


def _client_of(command: str) -> str | None:
    from .consoles import client_language  # ssh/consoles parsing, no tree-sitter

    words = command.split()
    lang = client_language(words) if words else None
    if lang is None and words and len(words) == 1:
        lang = _CLIENT_LANG.get(words[0].rsplit("/", 1)[-1])
    return {"sql": "mysql", "shell": None}.get(lang or "", lang)


def read_transcript(code: str, root_hash: bool) -> list[Entry]:
    """Entries in order; the first (line -1) holds output printed before any prompt."""
    lines = code.split("\n")
    entries = [Entry(-1, [], "")]
    client: tuple[str, str] | None = None  # (language, opener) of a console opened here
    target: str | None = None
    own = _OwnConsole()
    rooted = False  # a root `# ` prompt was seen: later `# ` lines need less to be commands
    i = 0
    while i < len(lines):
        line = lines[i]
        after = client[0] if client else None
        found = own.read(line, _match(line, root_hash, after))
        if found is None and root_hash and rooted and line.startswith("# ") \
                and line_shape(line[2:]).score >= 1.0:
            found = ("shell", line[2:])  # the transcript's root prompt again: `# mailq`
        rooted = rooted or bool(found and found[0] == "shell" and line.startswith("# "))
        last = entries[-1]
        if found and found[0].endswith("+") and last.line >= 0 and not last.output:
            last.command.append(found[1])
            i += 1
            continue
        if found is None and _forgotten(last, line):
            found = ("shell", line.strip())
        if found is None and client and _typed_into(last, line, client):
            found = (client[0], line.strip())  # the client's prompt left out, as its lines are
        if found is None:
            last.output.append(line)
            i += 1
            continue
        lang, typed = found[0].rstrip("+"), found[1]
        start, cmd_lines = i, [typed]
        i += 1
        if lang == "shell":
            # `> ` continues a `$ ` command; where `> ` is the prompt itself, it starts the next
            more = "> " if not line.startswith("> ") else None
            while i < len(lines) and (_needs_more(cmd_lines) or more and lines[i].startswith(more)):
                cmd_lines.append(re.sub(r"^> ?", "", lines[i]))
                i += 1
        elif lang == "powershell":
            while i < len(lines) and re.match(r"^>> ", lines[i]):
                cmd_lines.append(lines[i][3:])
                i += 1
        entry = Entry(start, cmd_lines, lang, _pop_title(last.output))
        if client and lang == client[0]:
            entry.opener = client[1]
        entry.target = target
        if typed.strip() in _QUIT and lang not in _HOST_SHELLS:
            client = None
        elif lang in _HOST_SHELLS:  # `$ psql ...`, `C:\> sqlcmd -S db -E`
            typed_text = "\n".join(cmd_lines).strip()
            own.started(typed_text)
            opened = _client_of(typed_text)
            client = (opened, typed_text) if opened else client
            if lang == "shell" and typed_text in ("exit", "logout") and target:
                target, entry.ssh = None, True
            elif lang == "shell" and _ssh_session(typed_text):
                target, entry.ssh = _ssh_session(typed_text), True
        entries.append(entry)
    return entries


_DEVICE = lazyre.compile(r"^([\w.-]+@[\w.-]+)([>#]) ")
_SUBMENU = lazyre.compile(r"^[a-z][a-z0-9 -]{1,40}[:>] (?=\S)")


class _OwnConsole:
    """Prompts a transcript shows only once a program is running: a network device's config
    mode (`user@router# ` after `user@router> `), and a program's own prompt and its menus
    (`C:\\> ntdsutil`, then `ntdsutil: `, `metadata cleanup: `; `netsh>`; Bacula's `*`)."""

    def __init__(self) -> None:
        self.devices: set[str] = set()
        self.program: str | None = None  # what the last host-shell command started
        self.inside = False  # its own prompt was seen: its menus' prompts count too

    def started(self, typed: str) -> None:
        # a program started bare (`ntdsutil`, `sudo bconsole`); `postsuper -d ALL` then
        # `postsuper: Deleted: 9 messages` is a message, not a prompt
        words = re.sub(r"^(?:sudo|doas)\s+", "", typed).split()
        word = words[0] if len(words) == 1 else ""
        word = re.sub(r"\.exe$", "", word.rsplit("/", 1)[-1].rsplit("\\", 1)[-1], flags=re.I)
        self.program, self.inside = (word.lower() or None), False

    def read(self, line: str, found: tuple[str, str] | None) -> tuple[str, str] | None:
        device = _DEVICE.match(line)
        if found is not None and found[0] == "netdev" and self.program \
                and line.lower().startswith(self.program):
            found = None  # `ntdsutil> `: the program's own prompt, not a switch's
        if found is not None:
            if found[0] == "netdev" and device:
                self.devices.add(device.group(1))
            elif found[0] == "shell" and device and (device.group(1) in self.devices or
                                                     _junos_config(found[1])):
                return "netdev", line[device.end():]
            self.inside = self.inside or found[0] == self.program  # `netsh> ` named by prompt
            return found
        if self.program is None:
            return None
        m = re.match(rf"^{re.escape(self.program)} ?[:>] (?=\S)|^\*(?=[a-z])", line, re.IGNORECASE)
        if m is None and self.inside:
            m = _SUBMENU.match(line)  # `metadata cleanup: `, `netsh interface ipv4> `
        if m is None:
            return None
        self.inside = True
        return (self.program if self.program in NAMED_CONSOLES else "console"), line[m.end():]


#: first words of Junos configuration mode (``user@router# delete interfaces ge-0/0/1``), none
#: of them a program a root shell runs (``set`` only without shell options: ``set -e``)
_JUNOS_WORDS = word_set("set delete rollback commit edit top up show run load deactivate activate "
                        "annotate rename insert replace request wildcard exit")


def _junos_config(typed: str) -> bool:
    words = typed.split()
    if not words or words[0] not in _JUNOS_WORDS or len(words) == 1 and words[0] == "exit":
        return False
    return not (words[0] == "set" and (len(words) == 1 or words[1].startswith(("-", "+")) or
                                       "=" in words[1]))


def _ssh_session(command: str) -> str | None:
    from .consoles import shell_words, ssh_dest

    if "\n" in command or not command.startswith("ssh "):
        return None
    words = shell_words(command)
    return ssh_dest(words) if words else None


def _forgotten(last: Entry, line: str) -> bool:
    """A command right after a silent one (`cd x`, `export A=b`) whose prompt was left out."""
    if last.line < 0 or last.output or last.lang != "shell" or not line.strip():
        return False
    word, _ = first_word("\n".join(last.command))
    return word in SILENT and line_shape(line, Known()).score >= 2.5


#: consoles whose typed lines cannot be taken for their output (MQSC's `VERB OBJECT(...)`, its
#: replies start with a message id or are indented): a typed line may follow printed ones
_ECHOING = frozenset({"mqsc"})


def _typed_into(last: Entry, line: str, client: tuple[str, str]) -> bool:
    """A line in the console's language right under the command that opened it, or under a
    line already typed into it, with nothing printed between (``$ zookeeper-shell.sh zk1:2181``
    then ``ls /brokers`` with no prompt shown)."""
    from .consoles import client_line

    if last.line < 0 or (last.output and client[0] not in _ECHOING) or not line.strip() or \
            line[:1].isspace():
        return False
    opened_here = last.lang in _HOST_SHELLS and "\n".join(last.command).strip() == client[1]
    if not (opened_here or last.opener == client[1]):
        return False
    return client_line(client[0], line.strip())


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


def prompt_fragments(code: str, root_hash: bool) -> list[Fragment]:
    """Transcript -> one fragment per prompted command (its language and expected output)."""
    entries = read_transcript(code, root_hash)
    frags: list[Fragment] = []
    title: str | None = None
    opened: dict[str | None, int] = {}  # a console or ssh session -> the line that opened it
    for k, entry in enumerate(entries[1:], 2):
        nxt = entries[k] if k < len(entries) else None
        text = "\n".join(entry.command).strip()
        if nxt is not None and nxt.opener == text and entry.lang in _HOST_SHELLS \
                and not entry.output:
            title = entry.title  # `$ psql ...` whose prompts follow: the fed lines are the steps
            opened[text] = entry.line
            continue
        entry.title, title = entry.title or title, None
        if entry.ssh and not entry.output:
            title = entry.title  # the session is the steps' target, not a step
            _open_or_close(frags, opened, entry)
            continue
        out = dedent("\n".join(entry.output)).strip() or None
        if not text:
            continue
        lang = None if entry.lang == "shell" else entry.lang
        if lang in ("python", "ruby", "javascript") and re.match(
                r"^(?:def|class|async\s+def|function|module)\b", text):
            frags.append(Fragment("doc", text, entry.line, entry.title))  # a definition
            continue
        session = tuple(opened[key] for key in (entry.opener, entry.target)
                        if key is not None and key in opened)
        frags.append(Fragment("command", text, entry.line, entry.title, expected_output=out,
                              target=entry.target, interpreter=entry.opener, lang=lang,
                              expected_from="transcript" if out else None, session=session))
    lead = dedent("\n".join(entries[0].output)).strip()
    if lead and not frags:
        first = next(i for i, x in enumerate(code.split("\n")) if x.strip())
        return [Fragment("doc", lead, first)]
    return frags


def _open_or_close(frags: list[Fragment], opened: dict[str | None, int], entry: Entry) -> None:
    """An ``ssh host`` entry opens the session of the entries after it; ``exit`` closes it (the
    closing line joins the session of the last step run in it)."""
    host = _ssh_session("\n".join(entry.command).strip())
    if host is not None:
        opened[host] = entry.line
        return
    line = opened.pop(entry.target, None)
    if line is not None and frags and frags[-1].target == entry.target:
        frags[-1] = replace(frags[-1], session=(*frags[-1].session, entry.line))


def console_commands(code: str) -> tuple[str, str]:
    """For console / shell-session text: (commands joined by newlines, other lines joined)."""
    entries = read_transcript(code.replace("\r\n", "\n"), root_hash=True)
    commands = "\n".join("\n".join(e.command).strip() for e in entries[1:] if e.command)
    output = "\n".join(x for e in entries for x in e.output).strip("\n")
    return commands, output
