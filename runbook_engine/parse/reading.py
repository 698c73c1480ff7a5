"""How a block is read: commands, a transcript, output, data, prose or another language.

Content decides, whatever the fence tag. Each piece of evidence is a named, weighted Signal for
one reading; the reading with the most weight wins, a tie goes to commands (in interactive mode a
person can skip a step, but cannot run a step the reader hid), and a narrow lead is a close call
that `lint` reports with its signals (RB110).
"""

from __future__ import annotations

import io
import itertools
import json
import re
from dataclasses import dataclass

from .. import lazyre
from ..placeholders import mask_placeholders
from .consoles import CLIENT_WORD, client_language, client_line, shell_words
from .lines import PSQL_META, SQL_START, is_comment
from .prompts import any_prompt
from .shapes import Known, LineShape, line_shape
from .vocabulary import COMMAND_CUES, DATA_CUES, LANGUAGE_OF, OUTPUT_CUES, TAG_LEAN

#: a lead smaller than this is a close call
CLOSE = 1.5
#: readings that become steps (the others are documentation)
RUNNABLE = frozenset({"commands", "transcript", "sql", "powershell", "javascript", "python",
                      "redis", "cmd", "ruby", "http", "url", "groovy"})


@dataclass(frozen=True)
class Signal:
    """One piece of evidence: its name, the reading it supports and how much it weighs."""

    name: str
    reading: str
    weight: float

    def __str__(self) -> str:
        return f"{self.name} ({self.reading} {self.weight:+.1f})"


@dataclass(frozen=True)
class Reading:
    """What a block is, with the evidence; ``runner_up`` and ``margin`` tell a close call."""

    kind: str
    signals: tuple[Signal, ...] = ()
    runner_up: str | None = None
    margin: float = 99.0

    @property
    def close(self) -> bool:
        """A narrow lead that decides whether the block runs at all."""
        if self.runner_up is None or self.margin >= CLOSE:
            return False
        return (self.kind in RUNNABLE) != (self.runner_up in RUNNABLE)

    @property
    def runnable(self) -> bool:
        return self.kind in RUNNABLE

    def why(self) -> str:
        """The deciding signals, strongest first, for lint."""
        ranked = sorted(self.signals, key=lambda s: -abs(s.weight))
        return "; ".join(str(s) for s in ranked[:5])


_CMDLET_LINE = lazyre.compile(r"^\s*(?:\$\w+\s*=\s*)?[A-Z][a-z]+-[A-Z][A-Za-z]+\b"
                              r"|^\s*\$\w+\s*=\s*\S")
_DIAGRAM = lazyre.compile(r"[┌┐└┘│─├┤┬┴┼═║╔╗╚╝▶◀►◄→←↓↑]|^\s*\+-{3,}|-{2,}>|<-{2,}|^\s*\|\s{3,}\S")
_YAML_LINE = lazyre.compile(r"^\s*(?:-\s+)?[\w.\-/\"']+\s*:(?:\s|$)|^\s*-\s+\S|^\s*#|^---\s*$")
_INI_SECTION = lazyre.compile(r"^\s*\[[\w.\- \"']+\]\s*$")
_INI_PAIR = lazyre.compile(r"^\s*[\w.\-]+\s*=\s*\S")
_XML = lazyre.compile(r"^\s*<[?!A-Za-z][^>]*>")
_DOCKERFILE = lazyre.compile(r"^(?:FROM|RUN|COPY|ADD|ENV|ARG|CMD|ENTRYPOINT|WORKDIR|EXPOSE|USER"
                             r"|LABEL"
                             r"|VOLUME|HEALTHCHECK)\s")
# `name args;`, `name args {`, `}`. No repeated group that could give back what it took: sre
# keeps a frame for each turn of one (145 MB for a line of 850,000 words)
_CONF_LINE = lazyre.compile(r"^\s*[\w.\-]+(?:\s+[^\s;#]+)++;\s*$|^\s*[\w.\-]+(?:\s.*)?\{\s*$"
                            r"|^\s*\}")
_OUTPUT_HEADING = lazyre.compile(r"\b(?:output|response|result|example|sample|symptoms?|logs?"
                                 r"|errors?"
                                 r"|what you(?:'ll| will) see)\b", re.IGNORECASE)
_BULLET = lazyre.compile(r"^\s*(?:[-*•]|\d+[.)])\s+[A-Za-z]")
_HTTP_REQUEST = lazyre.compile(r"^\s*(?:GET|POST|PUT|DELETE|PATCH|HEAD)\s+(?:/|_|https?://|[\w.*<{-]+"
                               r"(?:/|\?|$|\s*$))")
_TECHNICAL = lazyre.compile(r"\s(?:--?[A-Za-z]|[~.]?/\w|\S*=\S|\S+:\d)")
_URL_LINE = lazyre.compile(r"^\s*https?://\S+\s*$")
#: prose that sends the reader to a browser: the addresses below are things to do
_BROWSE = lazyre.compile(r"\b(?:open|visit|browse\s+to|navigate\s+to|go\s+to|load|hit)\b", re.I)
#: `Jenkins.instance.queue.clear()`: a call on an object path, as typed into a script console
_CALL_CHAIN = lazyre.compile(r"^\s*[A-Z]\w*(?:\.\w+(?:\([^()]*\))?)+\([^()]*\)\s*;?\s*$")
_SQL_LINE = lazyre.compile(r"^\s*(?:" + SQL_START.pattern + r")")


#: prose that shows a block so that it is recognised, not run
_WARNING = lazyre.compile(
    r"\b(?:never|do\s+not|don'?t)\s+(?:ever\s+)?(?:run|do\s+this|type|execute|paste)\b"
    r"|\bnot\s+so\s+that\s+you\s+run\b|\bwhat\s+not\s+to\s+do\b",
    re.IGNORECASE)


def _sql_lines(logical: list[str]) -> set[int]:
    """Indexes of the lines that belong to SQL statements (a statement runs to its ``;``)."""
    found: set[int] = set()
    open_statement = False
    for i, line in enumerate(logical):
        s = line.strip()
        starts = bool(_SQL_LINE.match(line) or PSQL_META.match(s))
        if starts or open_statement:
            found.add(i)
            open_statement = not (s.endswith(";") or s.endswith("\\G") or PSQL_META.match(s))
    return found


def _holds_shell(lines: list[str], known: Known) -> bool:
    """A block tagged with another language that holds shell: half of its lines run programs,
    or its first line opens a client console that the next lines are typed into."""
    code = [x for x in lines if not x.strip().startswith("--")]  # SQL comments
    if not code:
        return False
    return _shell_lines(code, known) >= 0.5 or _opens_console(_logical(code)) is not None


def _shell_lines(lines: list[str], known: Known) -> float:
    """Share of lines that start with a known program or a path (not keywords that other
    languages share, such as ``for`` or ``if``)."""
    found = 0
    for line in lines:
        if _SQL_LINE.match(line.strip().upper()):
            continue  # `truncate table jobs;`: SQL, although `truncate` is also a program
        shape = line_shape(line, known)
        found += shape.score >= 2.5 and shape.reasons[0].startswith(("known program", "path"))
    return found / len(lines)


def _logical(lines: list[str]) -> list[str]:
    """Lines joined across `\\`, trailing pipes and `&&`, heredoc bodies skipped."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        text = lines[i]
        while text.rstrip().endswith(("\\", "|", "&&", "||", "`")) and i + 1 < len(lines):
            i += 1
            text = text.rstrip().rstrip("\\`") + " " + lines[i].strip()
        doc = re.search(r"<<-?\s*['\"]?([A-Za-z_]\w*)", text)
        if doc:
            while i + 1 < len(lines) and lines[i + 1].strip() != doc.group(1):
                i += 1
            i += 1
        out.append(text)
        i += 1
    return out


_DASH_COMMENT = lazyre.compile(r"^\s*-{2,3}\s+[A-Za-z]")  # `-- check the lag`, `--- as sysdba`


# A block is judged by its first lines: far more than any real block holds, and an 8 MB block
# is judged in bounded memory (~0.5 KB a line: its lines and their shapes, 130 MB for 250,000)
_READ_LINES = 2_000


def _content_lines(code: str) -> list[str]:
    lines = (x.rstrip("\n") for x in io.StringIO(code))
    kept = (x for x in lines if x.strip() and not is_comment(x)
            and not x.strip().startswith("//") and not _DASH_COMMENT.match(x))
    return list(itertools.islice(kept, _READ_LINES))


def read_block(code: str, lang: str = "", prose: str = "", heading: str = "",
               known: Known = Known()) -> Reading:  # noqa: B008 (frozen default)
    """Read one fenced or indented block (see the module docstring)."""
    tag = lang.lower()
    lines = _content_lines(code)
    prompted = any_prompt(code, tag)  # every line may be `# cmd`: a root shell's transcript
    if not lines and not prompted:
        return Reading("prose", (Signal("empty", "prose", 1.0),))
    warning = _WARNING.search(prose[-300:]) or _WARNING.search(heading)
    if warning:  # shown to be recognised ("never run this"), not to be run
        return Reading("prose", (Signal(f"prose warns: '{warning.group(0)}'", "prose", 6.0),))
    if prompted:
        return Reading("transcript", (Signal(f"prompts ({prompted})", "transcript", 6.0),))
    language = LANGUAGE_OF.get(tag)
    if language not in (None, "http") and _holds_shell(lines, known):
        language = None  # `mongodump ...` under a js tag, `lsnrctl start` under sql: shell
    if language is not None:
        return Reading(language, (Signal(f"tag:{tag}", language, 6.0),))
    if _HTTP_REQUEST.match(lines[0]):
        return Reading("http", (Signal("HTTP requests (METHOD path)", "http", 6.0),))
    if all(_URL_LINE.match(mask_placeholders(x)) for x in lines) and \
            _BROWSE.search(last_sentence(prose)):
        return Reading("url", (Signal("addresses the prose says to open", "url", 6.0),))
    consoles = known.clients & {"python", "rails", "mongosh"}
    calls = not tag and all(_CALL_CHAIN.match(x) for x in lines)
    if calls and consoles in ({"python"}, {"rails"}):  # typed into the console opened earlier
        lang = "python" if consoles == {"python"} else "ruby"
        return Reading(lang, (Signal(f"calls, and the runbook opened a {lang} console", lang,
                                     5.0),))
    if tag == "groovy" or calls and not consoles:
        # a script console (Jenkins): what is pasted runs as one script
        return Reading("groovy", (Signal("script console calls", "groovy", 4.0),))
    signals = _tag_signals(tag) + _prose_signals(prose, heading) + _content_signals(lines, known)
    if code.lstrip().startswith("#!"):
        signals.append(Signal("a script with a shebang (a file to save)", "data", 6.5))
    return _decide(signals)


def _tag_signals(tag: str) -> list[Signal]:
    lean = TAG_LEAN.get(tag)
    return [Signal(f"tag:{tag}", lean[0], lean[1])] if lean else []


def _prose_signals(prose: str, heading: str) -> list[Signal]:
    found: list[Signal] = []
    last = last_sentence(prose)
    if last:
        if OUTPUT_CUES.search(last):
            found.append(Signal("prose promises output", "output", 2.5))
        elif DATA_CUES.search(last):
            found.append(Signal("prose names a file or config", "data", 3.0))
        elif COMMAND_CUES.search(last):
            found.append(Signal("prose asks to run", "commands", 1.5))
    if heading and _OUTPUT_HEADING.search(heading) and not COMMAND_CUES.search(heading):
        found.append(Signal("heading names output", "output", 1.0))
    return found


def last_sentence(prose: str) -> str:
    text = prose.strip()
    if not text:
        return ""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z`*_(\[])", text)
    return parts[-1][-200:]


def _content_signals(lines: list[str], known: Known) -> list[Signal]:
    found = _structured_signals(lines)
    logical = _logical(lines)
    in_sql = _sql_lines(logical)
    if in_sql and 0 in in_sql and len(in_sql) * 2 >= len(logical):
        found.append(Signal("SQL statements", "sql", 4.0 * len(in_sql) / len(logical) + 1.0))
    for client, lang in (("redis-cli", "redis"), ("mongosh", "mongo")):
        if client in known.clients:
            fed = sum(client_line(lang, x.strip()) and not _SQL_LINE.match(x) for x in logical)
            if fed * 2 >= len(logical):
                found.append(Signal(f"{lang} commands ({client} opened earlier)", lang
                                    if lang == "redis" else "javascript", 5.0))
    cmdlets = sum(bool(_CMDLET_LINE.match(x)) for x in logical)
    if cmdlets and cmdlets / len(logical) >= 0.5:
        found.append(Signal("PowerShell cmdlets", "powershell", 4.0 * cmdlets / len(logical) + 1))
    # SQL keywords are capitals: lines of a statement are not a table header
    shapes = [LineShape(0.0) if i in in_sql else line_shape(x, known)
              for i, x in enumerate(logical)]
    commands = sum(s.score >= 1.5 for s in shapes)
    output = sum(s.score <= -1.5 for s in shapes)
    n = len(shapes)
    if commands:
        found.append(Signal(f"{commands}/{n} lines read as commands", "commands",
                            round(4.0 * commands / n, 2)))
    if output:
        found.append(Signal(f"{output}/{n} lines read as output", "output",
                            round(4.0 * output / n, 2)))
    # `appctl restart web --now`: a tool this reader does not know, shaped like one (a lowercase
    # program word and an argument no sentence has: an option, a path, key=value, host:port)
    # still leans to commands; `tmp is writable` does not
    unknown = sum(1.0 <= s.score < 1.5 and s.word[:1].islower() and _TECHNICAL.search(x)
                  is not None for x, s in zip(logical, shapes, strict=True))
    if unknown and not output:
        found.append(Signal(f"{unknown}/{n} lines shaped like unknown tools", "commands",
                            round(2.0 * unknown / n, 2)))
    opened = _opens_console(logical)
    if opened:
        found.append(Signal(f"opens {opened} and types into it", "commands", 4.0))
    if shapes[0].score >= 2.5 and n > 1 and output:
        # `kubectl get pods` followed by its table: the command is still to be run
        found.append(Signal(f"opens with the command {shapes[0].word}", "commands", 3.0))
    sentences = sum(bool(_BULLET.match(x)) or ("sentence" in " ".join(s.reasons))
                    for x, s in zip(logical, shapes, strict=True))
    if sentences / n >= 0.5:
        found.append(Signal("sentences", "prose", 3.0 * sentences / n))
    return found


def _opens_console(logical: list[str]) -> str | None:
    """The client a block's first line opens when the next line is written in its language
    (``mysql -h db app`` then ``SHOW PROCESSLIST;``)."""
    if len(logical) < 2 or not CLIENT_WORD.search(logical[0]):
        return None
    words = shell_words(logical[0])
    lang = client_language(words) if words else None
    if lang is None or lang == "shell" or not client_line(lang, logical[1].strip()):
        return None
    return words[0] if words else None


def _structured_signals(lines: list[str]) -> list[Signal]:
    """JSON, YAML, INI, XML, Dockerfile, server config, scripts to save, diagrams."""
    text = "\n".join(lines).strip()
    n = len(lines)
    if text[:1] in "{[":
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict | list):
            return [Signal("parses as JSON", "data", 5.0)]
    found: list[Signal] = []
    ratio = {
        "YAML": sum(bool(_YAML_LINE.match(x)) for x in lines) / n,
        "INI": sum(bool(_INI_SECTION.match(x) or _INI_PAIR.match(x)) for x in lines) / n,
        "XML": sum(bool(_XML.match(x)) for x in lines) / n,
        "Dockerfile": sum(bool(_DOCKERFILE.match(x)) for x in lines) / n,
        "server config": sum(bool(_CONF_LINE.match(x) and not _SQL_LINE.match(x))
                             for x in lines) / n,
    }
    for name, share in ratio.items():
        if share >= 0.6 and (name != "INI" or any(_INI_SECTION.match(x) for x in lines)
                             or share == 1.0 and n > 1):
            if name == "YAML" and not _yaml_ok(text):
                continue
            found.append(Signal(f"reads as {name}", "data", round(4.0 * share, 2)))
    if _INI_SECTION.match(lines[0]) and n > 1 and all(
            _INI_SECTION.match(x) or _INI_PAIR.match(x) or x.lstrip().startswith(";")
            for x in lines):
        found.append(Signal("an [section] header and key=value lines", "data", 3.0))
    if all(re.match(r"^[A-Z][A-Z0-9_]*=", x.strip()) for x in lines):
        found.append(Signal("NAME=value lines (an env file)", "data", 1.5))
    diagram = sum(bool(_DIAGRAM.search(x)) for x in lines)
    if diagram / n >= 0.3:
        found.append(Signal("a diagram", "prose", 4.0))
    return found


def _yaml_ok(text: str) -> bool:
    import yaml  # already loaded by the front matter reader

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it
    try:
        value = yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        return False
    except Exception:  # a YAML oddity must not stop the reading
        return False
    return isinstance(value, dict | list) and len(value) >= 1


def _decide(signals: list[Signal]) -> Reading:
    totals: dict[str, float] = {}
    for signal in signals:
        totals[signal.reading] = totals.get(signal.reading, 0.0) + signal.weight
    if not totals:
        return Reading("commands", (Signal("nothing against commands", "commands", 0.0),))
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0] != "commands"))
    best, score = ranked[0]
    if best != "commands" and totals.get("commands", -1.0) == score:
        best = "commands"  # a tie: show the step, the person can skip it
    others = [(k, v) for k, v in ranked if k != best]
    runner, second = others[0] if others else (None, 0.0)
    return Reading(best, tuple(signals), runner, round(score - second, 2))
