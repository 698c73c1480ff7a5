"""The shape of one line: does it read like a command someone types, or like what a program printed?

A score per line, positive for a command, negative for output or prose, with the reason for it.
The block reader adds these up; the command splitter uses them to keep a table or a log line that
follows a command out of the commands.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import lru_cache

from .. import lazyre
from ..placeholders import mask_placeholders
from .vocabulary import BUILTINS, KNOWN_COMMANDS, WINDOWS

_LEAD = lazyre.compile(  # what may stand before the program name
    r"^(?:(?:sudo|doas)(?:\s+-[A-Za-z]+(?:\s+(?!-)\S+)?)*\s+|env(?:\s+-u\s+\w+|\s+-[a-z]+)*\s+"
    r"(?=[\w./~$])|nice(?:\s+-n\s*-?\d+|\s+-\d+)?\s+(?=[\w./~$])|(?:nohup|time|exec|command"
    r"|builtin)\s+(?=[\w./~$-])|[A-Za-z_]\w*=\S*\s+)+"
)
_PRIVILEGED = lazyre.compile(r"^(?:sudo|doas)\s+(?:-[A-Za-z]+\s+)*[a-z][\w.-]*(?:\s|$)")
_PIPED = lazyre.compile(r"(?:^|\s)\|\s*(?:sudo\s+)?([a-z][\w.-]*)")
_ASSIGN = lazyre.compile(r"^(?:export\s+|local\s+|readonly\s+|declare\s+(?:-\w+\s+)*)?[A-Za-z_]\w*"
                         r"(?:\[[^\]]*\])?\+?=")
_PATHLIKE = lazyre.compile(r"^(?:\.{1,2}/|~/|/|\$\w+/|\$\{\w+\}/)[\w.@+/-]*[\w]$"
                           r"|^[\w.-]+/[\w./-]*\.(?:sh|py|rb|pl)$"
                           r"|^\w[\w.-]*\.(?:sh|py|rb|pl|bash)$"
                           # a program in a release's or a repository's own bin directory
                           # (`bin/solr`, `kafka_2.13/bin/kafka-topics`, `scripts/rotate-keys`)
                           r"|^(?:[\w.-]+/)*(?:s?bin|scripts?|tools|hack|libexec)/[a-z][\w.-]*$")
_EXEC_SHAPE = lazyre.compile(r"^[a-z][a-z0-9._+-]*$|^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")  # crm_mon
_CMDLET = lazyre.compile(r"^[A-Z][a-z]+-[A-Z][A-Za-z0-9]+$")
_TIMESTAMP = lazyre.compile(
    r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\b\d{4}/\d\d/\d\d \d\d:\d\d|^\s*\[?\d\d:\d\d:\d\d"
    r"|\[\d{1,2}/\w{3}/\d{4}|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} "
    r"\d\d:\d\d:\d\d|\b\d{10}(?:\.\d+)?\b"
)
_LOG_LEVEL = lazyre.compile(r"(?:^|[\s\[(|=])(?:INFO|WARN|WARNING|ERROR|DEBUG|FATAL|TRACE|CRITICAL"
                            r"|NOTICE|PANIC|info|warn|error|debug)(?:[\s\]):|,]|$)")
_GAPS = lazyre.compile(r"\S(?: {2,}|\t+)(?=\S)")
_STATUS_LINE = lazyre.compile(r"^(?:HTTP/\d|[A-Z][A-Z0-9_]*/\d)|^[<>*] |^\{\s*$|^\{\s*\"|^\[[\d\"{]"
                              r"|^\]|^\}")
_SENTENCE = lazyre.compile(r"^[A-Z][a-z]+(?: [a-z'’]+){3,}.*[.!?:]?$")
_KEY_VALUE = lazyre.compile(r"^[\w.\-\"' ]{1,40}:(?:\s+\S|$)")
_URL_START = lazyre.compile(r"^[a-z][a-z0-9+.-]*://")


@dataclass(frozen=True)
class Known:
    """What the reader knows besides the vocabulary: functions and aliases defined earlier in the
    runbook, and (a weak signal) what is on this machine's PATH."""

    functions: frozenset[str] = frozenset()
    on_path: Callable[[str], bool] | None = None
    clients: frozenset[str] = frozenset()  # database clients the runbook connected with

    def program(self, word: str) -> bool:
        return word in KNOWN_COMMANDS or word in self.functions


@dataclass
class LineShape:
    """A line's score (command > 0 > output/prose) and the reasons, for lint and tests."""

    score: float
    reasons: list[str] = field(default_factory=list)
    word: str = ""


@lru_cache(maxsize=4096)
def _on_path(word: str) -> bool:
    return shutil.which(word) is not None


def default_path_lookup(word: str) -> bool:
    """PATH as the weak signal it is (cached; tests pass their own lookup)."""
    return _on_path(word)


def first_word(line: str) -> tuple[str, str]:
    """(program word, the rest) of a command line after ``sudo``/``env``/assignments."""
    text = mask_placeholders(line.strip())
    lead = _LEAD.match(text)
    rest = text[lead.end():] if lead else text
    parts = rest.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def line_shape(line: str, known: Known = Known()) -> LineShape:  # noqa: B008 (frozen default)
    """Score one non-blank, non-comment line."""
    s = mask_placeholders(line.strip())
    assign = _ASSIGN.match(s)
    if assign:
        value = s[assign.end():]
        word = value.split(None, 1)[1].split()[0] if len(value.split(None, 1)) > 1 else ""
        typed = known.program(word) or _PATHLIKE.match(word) or _EXEC_SHAPE.match(word) or \
            re.match(r"^[A-Za-z_]\w*=", word)  # `export A=1 B=2`, `A=1 B=2 cmd`
        if re.match(r"^[^'\"$(`\s]+\s", value) and not typed:
            reasons = ["key=value with spaces"]  # `issuer=C = US`: printed, not typed
            return LineShape(-1.5 + _output_marks(s, reasons), reasons)
        return LineShape(2.5, ["assignment"], "=")
    if _STATUS_LINE.match(s):
        return LineShape(-3.0, ["status/structured line"])
    word, rest = first_word(s)
    if not word:
        return LineShape(0.0)
    score, reasons = _word_score(word, rest, known)
    if score < 1.5 and _PRIVILEGED.match(s):
        # `sudo atrm 14`, `sudo kadmin.local -q ...`: nobody's program prints a line that
        # starts with sudo
        score = max(score, 0.0) + 1.5
        reasons.append("typed through sudo")
    score += _output_marks(s, reasons)
    piped = _PIPED.search(rest) if 0 < score < 2.5 else None
    if piped and known.program(piped.group(1)):
        score += 1.5  # `mailq | tail -1`: whatever it is, its output goes into a program
        reasons.append(f"piped into {piped.group(1)}")
    return LineShape(score, reasons, word)


def _word_score(word: str, rest: str, known: Known) -> tuple[float, list[str]]:
    if _URL_START.match(word):
        return -3.0, [f"'{word}' is an address, not a program"]
    bare = word.rsplit("/", 1)[-1] if "/" in word and not word.endswith("/") else word
    if word in BUILTINS or word in ("if", "for", "while", "until", "case", "function", "[[", "["):
        return 3.0, [f"builtin {word}"]
    if known.program(word) or (bare != word and known.program(bare)) or (
            "." in word and known.program(word.split(".")[0])):  # mkfs.ext4, fsck.xfs
        return 3.0, [f"known program {word}"]
    if re.match(r"^[\w.-]+\.(?:exe|cmd|bat|ps1)$", word, re.IGNORECASE):
        return 2.5, [f"Windows program {word}"]
    if _PATHLIKE.match(word):
        return 2.5, [f"path {word}"]
    if re.search(r"\d{4}[.-]\d\d[.-]\d\d|^\d|\d+\.\d+\.\d+", word):
        return -1.5, [f"'{word}' holds a date or a version"]
    if _URL_START.match(word) or "@" in word and "." in word.split("@")[-1]:
        return -3.0, [f"'{word}' is an address, not a program"]
    if re.match(r"^[a-z][\w-]*(?:\.[\w-]+)+$", word) and not re.match(r"^[a-z]+\d+(?:\.\d+)?$",
                                                                        word):
        return -1.5, [f"'{word}' reads like a host or file name"]
    if word.startswith(("$", "${", "$(")):
        return 1.0, ["starts with an expansion"]
    if word.endswith(":") or (":" in word and not _URL_START.match(word) and "@" not in word
                              and not re.match(r"^[\w.-]+:[\w./-]*$", word)):
        return -3.0, [f"'{word}' ends like a label"]
    if _CMDLET.match(word):
        return 0.5, [f"cmdlet {word}"]
    if re.match(r"^\d", word) or word[0] in "{[(\"'|+*<>=%!#-.,;&@^~`":
        if word in ("(", "{") or word.startswith(("((", "(cd", "{ ")):
            return 1.0, ["group"]
        return -2.5, [f"starts with {word[0]!r}"]
    if word.lower() in WINDOWS and word.isupper() and re.match(r"^(?:$|/|[A-Z][A-Z-]*\b)", rest):
        return 2.5, [f"Windows program {word} in capitals"]  # `NET STOP svc`, `IPCONFIG /ALL`
    if word.isupper() and len(word) > 1 and re.match(r"^[A-Z][A-Z0-9_]*$", word):
        return -2.5, [f"capitalised header word {word}"]
    if word[0].isupper():
        return -1.5, [f"capitalised word {word}"]
    if re.match(r"^[=:](?:\s|$)", rest):
        return -2.5, [f"'{word} {rest[:1]} ...' is a setting"]
    if _EXEC_SHAPE.match(word):
        score, reasons = 0.5, [f"program-shaped word {word}"]
        if re.match(r"^--?[A-Za-z]|^-\d+(?:\s|$)|^/[a-z?]{1,12}(?:[:\s]|$)", rest):  # `/list`,
            # `-1` (crm_mon -1, tail -5)
            score += 1.0
            reasons.append("options follow")
        elif re.match(r"^(?:~|\.{0,2})/[\w.-]", rest):
            score += 0.5
            reasons.append("a path follows")
        elif re.match(r"^[a-z][\w-]*(?:\s|$)", rest):
            score += 0.5
            reasons.append("a subcommand may follow")
        if known.on_path is not None and known.on_path(word):
            score += 1.0
            reasons.append(f"{word} is on PATH")
        return score, reasons
    return -1.0, [f"'{word}' is no program name"]


def _output_marks(s: str, reasons: list[str]) -> float:
    """Marks of printed output anywhere on the line."""
    score = 0.0
    if _TIMESTAMP.search(s):
        score -= 2.0
        reasons.append("timestamp")
    if _LOG_LEVEL.search(s):
        score -= 1.0
        reasons.append("log level")
    code = s.split(" #", 1)[0]
    gaps = len(_GAPS.findall(code))
    if gaps >= 2:
        score -= 3.0 if gaps >= 3 else 2.0
        reasons.append("aligned columns")
    if _SENTENCE.match(s) and not re.search(r"[|;&$`=]", s):
        score -= 1.0
        reasons.append("a sentence")
    if s.endswith((".", "...")) and " " in s and not re.search(r"[|;&$`=/]", s):
        score -= 0.5
    return score


def is_key_value(line: str) -> bool:
    """``key: value`` (YAML, HTTP headers, `redis INFO`)."""
    return bool(_KEY_VALUE.match(line.strip()))


def command_like(line: str, known: Known, threshold: float = 1.5) -> bool:
    return line_shape(line, known).score >= threshold


def words_defined(code: str) -> set[str]:
    """Functions and aliases a shell block defines (later blocks may call them)."""
    found = set(re.findall(r"^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)\s*\{?", code, re.M))
    found |= set(re.findall(r"^\s*function\s+([A-Za-z_][\w-]*)", code, re.M))
    found |= set(re.findall(r"^\s*alias\s+([A-Za-z_][\w-]*)=", code, re.M))
    return found


def mostly(items: Collection[bool]) -> float:
    return sum(items) / len(items) if items else 0.0
