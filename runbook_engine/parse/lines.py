"""Line-level pieces shared by the command splitter, client consoles and prompt mode."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Literal

from ..model import LoadError

#: a runbook that would plan more steps (or has more code blocks) than this is refused: nobody
#: steps through it, and each step costs ~3 KB to plan (10x the input + 100 MB is the bound)
MAX_STEPS = 10_000


class TooManySteps(LoadError):
    """More than `MAX_STEPS` steps or code blocks; ``line`` is where the first one over starts
    (within its block, when the command splitter raises it)."""

    def __init__(self, line: int, path: str | None = None, what: str = "steps") -> None:
        super().__init__(f"more than {MAX_STEPS:,} {what} (the limit: split the runbook)",
                         path, line)


@dataclass(frozen=True)
class Fragment:
    """One step-sized piece of a shell block (a command, a fed console, or documentation)."""

    kind: Literal["command", "doc", "manual"]
    code: str  # the command text (or the doc text)
    line_offset: int  # 0-based line within the block where it starts
    title: str | None = None  # the comment right before it
    choice: int | None = None  # same number = alternatives of one choice within this block
    target: str | None = None  # destination of a preceding session-opening `ssh dest` line
    interpreter: str | None = None  # client console command that receives `code` on stdin
    expected_output: str | None = None  # documented expected output that follows the command
    lang: str | None = None  # another language than shell (sql, powershell...): fed or manual
    #: where ``expected_output`` was written: region (``# Expected output``), printed (lines
    #: that look printed after the command), transcript (after a prompt); sample: it shows part
    expected_from: str | None = None
    expected_sample: bool = False
    #: block lines (0-based) of the session this runs in: the ``ssh host`` or ``psql …`` line
    #: that opened it and the ``exit`` that closed it, read as its target or interpreter
    session: tuple[int, ...] = ()


_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][\w-]*)\2")
SQL_START = re.compile(
    r"^(?:(?:SELECT|INSERT|UPDATE|DELETE|WITH|ALTER|CREATE|DROP|VACUUM|ANALYZE|EXPLAIN|TRUNCATE"
    r"|GRANT|REVOKE|REINDEX|BEGIN|COMMIT|ROLLBACK|SHOW|SET|USE|DESCRIBE|PRAGMA|CLUSTER|REFRESH"
    r"|COPY|LOCK|ATTACH|DETACH)\b|(?i:select\s.*\bfrom\b|insert\s+into|delete\s+from"
    r"|update\s+\S+\s+set\b|alter\s+table|vacuum\b|create\s+(?:unique\s+)?(?:table|index)))"
)
PSQL_META = re.compile(r"^\\[A-Za-z?!]")


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` (for keyword tables)."""
    return frozenset(text.split())


# ---------------------------------------------------------------- work budget


class OverBudget(Exception):
    """Reading one block has used up its `Meter`."""


class Meter:
    """Work left for reading one block, in characters lexed or parsed, and in slow parse time.

    On well-formed shell every line is read a small, fixed number of times; on damaged text
    (unclosed quotes, an error on every line) the readers go over the same lines again, which
    grows with the square of the block. Past the budget the caller reads the rest cheaply.
    """

    __slots__ = ("left", "slow_left")
    #: what lexing a line costs beyond its characters, in characters (a Python call per line)
    LINE = 64

    def __init__(self, left: int, slow_s: float) -> None:
        self.left = left
        self.slow_left = slow_s

    def charge(self, cost: int) -> None:
        self.left -= cost
        if self.left < 0:
            raise OverBudget

    def slow(self, seconds: float) -> None:
        """A parse took ``seconds`` of CPU beyond a normal pace: `OverBudget` once the pass has
        spent its allowance of such time. A sum, not a count of slow parses: text read just
        under a per-parse threshold, parse after parse, used to cost seconds, its cut decided
        by the machine's speed at that moment (88 KB of it: 1.1 to 2.2 s, 17 to 41 warnings).
        """
        self.slow_left -= seconds
        if self.slow_left < 0:
            raise OverBudget


# ---------------------------------------------------------------- logical lines (light lexer)


# The characters `_scan_chars` acts on inside single quotes, double quotes and elsewhere: it
# jumps from one to the next (a loop over every character made lexing most of planning's time).
_IN_CODE = re.compile(r"[\\#'\"`$()<]")
_NEXT = {"'": re.compile("'"), '"': re.compile(r'[\\"$]')}


def _scan_chars(line: str, stack: list[str]) -> tuple[bool, list[str]]:
    """Advance the quote/substitution ``stack`` over one line: (line continues, heredoc words)."""
    docs: list[str] = []
    idx, size = 0, len(line)
    code_end = size
    while idx < size:
        top = stack[-1] if stack else ""
        found = _NEXT.get(top, _IN_CODE).search(line, idx)
        if found is None:
            break
        idx = found.start()
        c = line[idx]
        if top == "'":
            if c == "'":
                stack.pop()
        elif c == "\\":
            if idx == size - 1:
                return True, docs
            idx += 1
        elif top == '"':
            if c == '"':
                stack.pop()
            elif line.startswith("$(", idx):
                stack.append("$(")
                idx += 1
        elif c == "#" and (idx == 0 or line[idx - 1] in " \t;|&()"):
            code_end = idx
            break
        elif c in "'\"":
            stack.append(c)
        elif c == "`" and top == "`":
            stack.pop()
        elif c == "`":
            stack.append("`")
        elif line.startswith("$(", idx):
            stack.append("$(")
            idx += 1
        elif c == "(" and top in ("$(", "("):
            stack.append("(")
        elif c == ")" and top in ("$(", "("):
            stack.pop()
        elif line.startswith("<<", idx) and not line.startswith("<<<", idx):
            m = _HEREDOC.match(line, idx)
            if m:
                docs.append(m.group(3))
                idx = m.end()
                continue
        idx += 1
    tail = line[:code_end].rstrip()
    return (not stack and tail.endswith(("|", "&&"))), docs


def logical_line_end(lines: list[str], i: int, meter: Meter | None = None) -> int:
    """Last line of the logical line starting at ``i`` (quotes, ``\\``, heredocs, ``|``/``&&``).

    ``meter`` is charged for every line read (an unclosed quote reads to the end of the block).
    """
    stack: list[str] = []
    j, n = i, len(lines)
    while j < n:
        if meter is not None:
            meter.charge(len(lines[j]) + Meter.LINE)
        cont, docs = _scan_chars(lines[j], stack)
        for delim in docs:  # heredoc bodies follow the line that opened them
            j += 1
            while j < n and lines[j].strip() != delim:
                if meter is not None:
                    meter.charge(len(lines[j]) + 1)
                j += 1
            if j >= n:
                return n - 1
        if (stack or cont) and j + 1 < n:
            j += 1
            continue
        return i if stack else j
    return n - 1


# ---------------------------------------------------------------- line helpers


def comment_text(line: str) -> str:
    """A ``#`` comment line without its marker."""
    return line.strip().lstrip("#").strip()


def is_comment(line: str) -> bool:
    """Whether the line is a ``#`` comment (leading blanks allowed)."""
    return line.lstrip().startswith("#")


def sql_end(lines: list[str], i: int, stop_at_comment: bool = True) -> int:
    """Last line of the SQL statement starting at ``i``: up to ``;``, a blank or a comment line."""
    j = i
    while True:
        if lines[j].split("--")[0].rstrip().endswith(";") or PSQL_META.match(lines[j].strip()):
            return j
        nxt = lines[j + 1] if j + 1 < len(lines) else ""
        if not nxt.strip() or (stop_at_comment and is_comment(nxt)):
            return j
        j += 1


def dedent(text: str) -> str:
    """Common indentation and surrounding blank lines removed."""
    return textwrap.dedent(text).strip("\n")
