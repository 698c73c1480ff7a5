"""Command granularity: split a shell block into commands, alternatives, consoles and docs."""

from __future__ import annotations

import gc
import re
import time
from functools import cache
from typing import Any

from tree_sitter import Node, Parser

from ..placeholders import mask_placeholders
from . import shellwords
from .assemble import Assembler, Item
from .consoles import (
    CLIENT_WORD,
    client_language,
    console_code,
    console_end,
    interactive_off_tty,
    shell_words,
    ssh_dest,
)
from .lines import (
    MAX_STEPS,
    PSQL_META,
    SQL_START,
    Fragment,
    Meter,
    OverBudget,
    TooManySteps,
    comment_text,
    dedent,
    is_comment,
    logical_line_end,
    sql_end,
)
from .prompts import console_commands, prompt_fragments, uses_prompts
from .shapes import Known

__all__ = ["Fragment", "console_commands", "split_block"]


# How a block is read, in three passes over its lines:
# 1. a light lexer finds logical lines (quotes, `\`, heredocs, trailing `|`/`&&`) and each one is
#    classified: blank, comment, expected output, SQL/JSON doc, `ssh dest` opener, client console
#    with the lines it reads, or shell. Line-level first, because tree-sitter's error recovery on
#    SQL or JSON typed into a bash block glues unrelated lines together.
# 2. runs of shell lines go through tree-sitter-bash: its top-level nodes are the commands, and a
#    node with an error becomes a doc for that logical line only, then parsing resumes after it.
#    Each pass charges a `Meter` of its own, in proportion to the block (damaged text is read
#    more than once) and the CPU time its parses spend beyond a normal pace: past either,
#    the rest of the block (of the shell run, in pass 2) is one doc, so reading stays linear
#    in the block whatever its damage.
# 3. the assembler walks the items in order and attaches titles, `# Or` choices, ssh targets and
#    expected output.


_EXPECTED = re.compile(
    r"^(expected(?:\s+[\w-]+){0,3}?\s+(?:output|response|result|reply|json|body)s?|expected"
    r"|(?:sample|example)\s+(?:output|response)|output|response|result"
    r"|should\s+(?:return|print|output|show)|returns?)\b\s*(:?)\s*(.*)$",
    re.IGNORECASE,
)
#: a region that shows an example, not the whole output ("# Sample output", "# Output (excerpt)")
_SAMPLE_REGION = re.compile(r"^(?:sample|example|typical)\b|\b(?:excerpt|truncated|abridged|"
                            r"similar|something\s+like|e\.g\.)", re.IGNORECASE)
_JSON_START = re.compile(r"^(?:\{\s*\"[^\"]*\"\s*:|\[(?:\{|\"[^\"]*\"\s*[,\]]|\d))")
_JSON_NEXT = re.compile(r"^[\"{\[\d]")
_OPERATORS = set("();<>|&")


@cache
def _parser() -> Parser:
    """The tree-sitter-bash parser, built once on first use."""
    import tree_sitter_bash
    from tree_sitter import Language

    return Parser(Language(tree_sitter_bash.language()))


class _Stopped(Exception):
    """Tree-sitter was stopped at ``row`` of its source: an error was signalled there, or the
    parse ran past its budget."""

    def __init__(self, row: int) -> None:
        super().__init__(row)
        self.row = row


# CPU seconds a parse may take: far above tree-sitter's pace on shell (~0.2 us a byte, an 8 MB
# line in 1.5 s), far below its error recovery on damaged long lines, which can be quadratic
# (100 KB of `|` inside parentheses: a minute) even before it signals an error.
_BUDGET_S, _BUDGET_PER_BYTE_S = 0.05, 1e-6
# The pace past which a parse's CPU time counts as slow (`Meter.slow`), per parse and per byte:
# over twice tree-sitter's pace on dense shell (0.1-0.45 us a byte), far below its pace on the
# damaged text it reads slowly (1-60 us a byte). A pass may spend `_SLOW_ALLOWANCE_S` plus
# `_SLOW_ALLOWANCE_PER_CHAR_S` a character of its block beyond that pace, in all its parses:
# room for two parses stopped at their budget (a damaged line or two), as before the third.
_PACE_S, _PACE_PER_BYTE_S = 0.0005, 0.5e-6
_SLOW_ALLOWANCE_S, _SLOW_ALLOWANCE_PER_CHAR_S = 0.15, 0.25e-6
# Characters each pass over a block may lex and parse, per character of the block and in all: a
# well-formed block costs a few times its size (one lexing, one parse, small parses of loop and
# `if` openers); damaged text is read again after each error and each unclosed quote.
_WORK_PER_CHAR, _WORK_MIN = 32, 1 << 20


def _parse(src: bytes, meter: Meter) -> Node:
    """The root node of ``src``, or `_Stopped` at the first sign of an error or past the budget.

    An error only makes a unit a doc, so there is no need to let tree-sitter recover from it;
    one found only at the end (an unclosed ``if``) is in the returned tree as before.
    """
    meter.charge(len(src))
    parser = _parser()  # built on first use: not part of the parse's time
    _WATCH.view, _WATCH.stopped = _WATCH.load(src), None
    collecting = gc.isenabled()
    # no garbage collection inside a timed parse: in a big heap (a long-lived process) one full
    # collection, set off by the few objects a parse makes, would be charged to it as slow time
    gc.disable()
    started = time.thread_time()
    _WATCH.deadline = started + _BUDGET_S + _BUDGET_PER_BYTE_S * len(src)
    try:
        return parser.parse(_read, progress_callback=_progress).root_node
    except ValueError:  # what the binding raises for a parse the callback stopped
        parser.reset()  # or the next parse would resume this one
        if _WATCH.stopped is None:
            raise
        raise _Stopped(src.count(b"\n", 0, _WATCH.stopped)) from None
    finally:
        _WATCH.view = memoryview(b"")
        # Slow text (tree-sitter at 1-4 us a byte, not 0.2) is re-read after each error found
        # at its end, a unit shorter each time: once the pass has spent its allowance of slow
        # time, `OverBudget` (in place of the tree or `_Stopped`) makes the rest one doc.
        over = time.thread_time() - started - _PACE_S - _PACE_PER_BYTE_S * len(src)
        if collecting:
            gc.enable()
        if over > 0:
            meter.slow(over)


class _Watch:
    """The parse in flight: its source, its deadline, the offset it was stopped at.

    The binding (py-tree-sitter 0.26) keeps a reference to every callback it is given and to
    every object ``_read`` returns, with all they hold. So the callbacks are module functions,
    not closures made per parse (~0.5 KB a parse, 8 MB of blocks: hundreds of MB), and ``_read``
    returns views of one buffer kept for every parse, not of each source (a view of it kept
    every source alive: a process planning again and again, as `serve` does, grew by what it
    parsed). What each parse leaks is two small view objects.
    """

    view = memoryview(b"")
    deadline = 0.0
    stopped: int | None = None
    #: the sources' bytes, copied in: it is only replaced by a larger one (views of it are
    #: kept, so it cannot be resized; the old one lives on, held by its views)
    buffer = bytearray(1 << 16)

    def load(self, src: bytes) -> memoryview:
        """A view of ``src`` copied into `buffer`."""
        if len(src) > len(self.buffer):
            self.buffer = bytearray(max(len(src), 2 * len(self.buffer)))
        self.buffer[: len(src)] = src  # same size: allowed while views of it exist
        return memoryview(self.buffer)[: len(src)]


_WATCH = _Watch()


def _read(at: int, _point: object) -> memoryview:
    return _WATCH.view[at:]


def _progress(offset: int, has_error: bool) -> bool:
    if has_error or time.thread_time() > _WATCH.deadline:
        _WATCH.stopped = offset
        return True
    return False


# Characters outside the BMP (4 bytes in UTF-8). tree-sitter-bash 0.25 can read past its buffer
# on `{` followed by one (tree-sitter/tree-sitter-bash#337, a SIGSEGV on Linux); to the shell
# grammar they are word characters like any letter, so the parser sees four ASCII bytes instead.
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def _mask(code: str) -> str:
    """What tree-sitter parses: same bytes per line, placeholders and astral characters as words.

    ``<name>`` becomes a same-length word (bash would read a redirection).
    """
    code = mask_placeholders(code)
    return code if code.isascii() else _ASTRAL.sub("xxxx", code)


# ---------------------------------------------------------------- line classification


def _json_end(lines: list[str], i: int) -> int:
    """Last line of a JSON value starting at ``i`` (bracket depth outside strings)."""
    depth = 0
    for j in range(i, len(lines)):
        stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', lines[j])
        depth += sum(stripped.count(c) for c in "{[") - sum(stripped.count(c) for c in "}]")
        if depth <= 0 or j + 1 >= len(lines) or not lines[j + 1].strip():
            return j
    return len(lines) - 1


def _is_json_start(lines: list[str], i: int) -> bool:
    s = lines[i].strip()
    if _JSON_START.match(s):
        return True
    nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return s in ("{", "[") and bool(_JSON_NEXT.match(nxt))


def _expected_region(lines: list[str], i: int) -> tuple[int, str] | None:
    """(last line, text) of the output documented after an ``# Expected output`` comment."""
    m = _EXPECTED.match(comment_text(lines[i]))
    if not m:
        return None
    key, colon, inline = m.group(1).lower(), m.group(2), m.group(3).strip()
    if inline and not colon and not key.startswith(("should", "return")):
        return None  # "# Expected to take a while", "# Output logs to a file": plain comments
    if inline:  # "# Output: 42", "# Should return 200": the output is on the comment line
        return i, inline
    out: list[str] = []
    j, plain = i + 1, False
    while j < len(lines) and lines[j].strip():
        if is_comment(lines[j]):
            if plain:
                break  # a comment after plain output lines starts the next paragraph
        else:
            plain = True
        out.append(lines[j])
        j += 1
    body = lines[i + 1 : j]
    if body and all(is_comment(x) for x in body):
        out = [re.sub(r"^\s*#\s?", "", x) for x in body]
    if not out:
        return None
    return j - 1, dedent("\n".join(out))


def _tokens(masked: str, original: str) -> list[str] | None:
    """Words of a simple command (original text), or None if it has operators or bad quoting."""
    try:
        words = shellwords.split_operators(masked)
        if any(w and set(w) <= _OPERATORS for w in words):
            return None
    except ValueError:
        return None
    orig = shell_words(original)
    if orig is None:
        return None
    return orig if len(orig) == len(words) else None


# ---------------------------------------------------------------- openers


_OPENER_WORD = re.compile(r"(?<![\w-])(?:ssh|docker|docker-compose|podman|kubectl|oc)(?![\w-])")


def _opener(lines: list[str], masked: list[str], i: int, end: int, meter: Meter) -> Item | None:
    """An ``ssh dest`` session line or a client console followed by lines it should read."""
    if not (_OPENER_WORD.search(lines[i]) or CLIENT_WORD.search(lines[i])):
        return None  # the common case: no lexing needed
    orig = "\n".join(lines[i : end + 1])
    words = _tokens(re.sub(r"\\\n", " ", "\n".join(masked[i : end + 1])), orig.replace("\\\n", " "))
    if not words:
        return None
    dest = ssh_dest(words)
    if dest:
        return Item("ssh", i, end, orig.strip(), {"dest": dest})
    lang = client_language(words)
    last = console_end(lines, end + 1, lang, meter) if lang else None
    if lang is None or last is None:
        return None
    interp = orig.strip()
    if words[0] in ("docker", "docker-compose", "podman", "kubectl"):
        interp = interactive_off_tty(interp)
    code = console_code(lines[end + 1 : last + 1], lang)
    return Item("console", i, last, code, {"interpreter": interp})


# ---------------------------------------------------------------- pass 1: regions


_WINDOW = 200  # lines parsed at once: keeps pathological blocks linear, far above real constructs
# and at most this many bytes, beyond the first unit: a line of 400 KB that tree-sitter reads
# slowly is then parsed once on its own, not again with each neighbour's window
_WINDOW_BYTES = 1 << 16
_COMPOUND = re.compile(
    r"^\s*(?:(?:if|for|while|until|case|select|function)\b|[{(]|[\w.:-]+\s*\(\))"
    r"|(?:\bdo|\bthen|\bin|[{(])\s*$"
)


def _compound_end(masked: list[str], i: int, unit_end: int, meter: Meter) -> int:
    """Last line of a loop, ``if``, function or group opened at line ``i`` (bodies stay whole)."""
    size = 8  # small windows first: an unrelated error further down cannot leak in
    while True:
        fit = _fitting(masked, i, size, unit_end - i + 1)
        try:
            root, used = _clean_prefix(masked, i, fit, meter)
        except _Stopped:
            return unit_end
        node = next((n for n in root.children if n.type != "comment"), None)
        if node is None or node.start_point.row != 0:
            return unit_end
        cut = used == fit and node.end_point.row >= fit - 1 and i + fit < len(masked)
        if not cut:  # complete within the window: clean, or really broken
            return unit_end if node.has_error else max(unit_end, i + node.end_point.row)
        if size >= _WINDOW * 5 or fit < size:
            return unit_end
        size *= 5


def _fitting(masked: list[str], i: int, size: int, least: int) -> int:
    """How many of lines ``i .. i+size-1`` fit in `_WINDOW_BYTES` (``least`` at least)."""
    size, total = min(size, len(masked) - i), 0
    for n in range(size):
        total += len(masked[i + n]) + 1
        if total > _WINDOW_BYTES and n >= least:
            return n
    return size


def _clean_prefix(masked: list[str], i: int, size: int, meter: Meter) -> tuple[Node, int]:
    """The tree of lines ``i .. i+size-1``, cut before the line an error was signalled on
    (and the number of lines it holds); `_Stopped` if that is the first line."""
    while True:
        try:
            return _parse("\n".join(masked[i : i + size]).encode(), meter), size
        except _Stopped as stop:
            if stop.row == 0:
                raise
            size = stop.row


def _scan(lines: list[str], masked: list[str], meter: Meter) -> list[Item]:
    """Classify lines into blank, comment, expected, doc, console, ssh and shell items."""
    items: list[Item] = []
    i = steps = 0
    while i < len(lines):
        try:
            item = _classify(lines, masked, i, meter)
        except OverBudget:
            items.append(_unread(lines, i, len(lines) - 1))
            break
        items.append(item)
        if item.kind in _STEPS:
            steps += 1
            if steps > MAX_STEPS:  # refused here, before the items of a huge block pile up
                raise TooManySteps(i)
        i = item.end + 1
    return items


_STEPS = frozenset({"shell", "sql", "console"})  # items that become at least one step each


def _unread(lines: list[str], start: int, end: int) -> Item:
    """Lines ``start .. end`` as one doc: what is left when the block's `Meter` ran out."""
    return Item("doc", start, end, dedent("\n".join(lines[start : end + 1])))


def _classify(lines: list[str], masked: list[str], i: int, meter: Meter) -> Item:
    s = lines[i].strip()
    if not s:
        return Item("blank", i, i)
    if is_comment(lines[i]):
        exp = _expected_region(lines, i)
        if exp:
            sample = bool(_SAMPLE_REGION.match(comment_text(lines[i])))
            return Item("expected", i, exp[0], exp[1], {"from": "region", "sample": sample})
        return Item("comment", i, i, comment_text(lines[i]))
    if _is_json_start(lines, i):
        end = _json_end(lines, i)
        return Item("doc", i, end, dedent("\n".join(lines[i : end + 1])))
    if SQL_START.match(s) or PSQL_META.match(s):
        end = sql_end(lines, i)
        return Item("sql", i, end, "\n".join(lines[i : end + 1]))
    unit_end = logical_line_end(masked, i, meter)
    if _COMPOUND.search(masked[i]) and not (unit_end == i and _big_plain(masked[i])):
        return Item("shell", i, _compound_end(masked, i, unit_end, meter))
    return _opener(lines, masked, i, unit_end, meter) or Item("shell", i, unit_end)


# ---------------------------------------------------------------- pass 2: tree-sitter


def _expand(items: list[Item], lines: list[str], masked: list[str], meter: Meter) -> list[Item]:
    """Replace runs of shell lines by their top-level commands (or docs where not valid shell)."""
    out: list[Item] = []
    k = 0
    while k < len(items):
        if items[k].kind != "shell":
            out.append(items[k])
            k += 1
            continue
        run = [items[k]]
        k += 1
        while k < len(items) and items[k].kind == "shell":
            run.append(items[k])
            k += 1
        out.extend(_parse_run(run, lines, masked, meter))
    return out


def _parse_run(units: list[Item], lines: list[str], masked: list[str],
               meter: Meter) -> list[Item]:
    """Parse adjacent shell units; an error turns its unit into a doc and parsing resumes after."""
    results: list[Item] = []
    first = 0
    while first < len(units):
        plain = _plain_command(units[first], lines, masked)
        if plain is not None:
            results.append(plain)
            first += 1
            continue
        last = first  # units are whole constructs, so a window may end after any of them
        size = _size(units[first], masked)
        while last + 1 < len(units) and units[last + 1].end - units[first].start < _WINDOW:
            size += _size(units[last + 1], masked)
            if size > _WINDOW_BYTES:
                break
            last += 1
        try:
            groups, last, bad_at = _parse_window(units, first, last, masked, meter)
        except OverBudget:
            results.append(_unread(lines, units[first].start, units[-1].end))
            break
        orig = "\n".join(lines[units[first].start : units[last].end + 1]).encode()
        stop = units[bad_at].start if bad_at is not None else len(lines)
        for g in groups:
            if g["start"] < stop:
                text = orig[g["sb"] : g["eb"]].decode("utf-8", "replace")
                results.append(Item("cmd", g["start"], g["end"], text, {"trailing": g["trail"]}))
        if bad_at is None:
            first = last + 1
            continue
        bad = units[bad_at]
        results.append(
            Item("doc", bad.start, bad.end, dedent("\n".join(lines[bad.start : bad.end + 1])))
        )
        first = bad_at + 1  # an index, not units.index(bad): that made many errors quadratic
    return results


# A line of plain words: no quotes, expansions, operators, comments or reserved words, so one
# simple command whatever else is around it. Over a window's size such a line is read without
# tree-sitter, whose tree holds ~180 bytes a word (an 8 MB line of arguments: 155 MB).
_PLAIN = re.compile(r"[\w./=:@%+,{}\t -]*")  # one class: a group repeated keeps a stack
_RESERVED = frozenset({"if", "then", "else", "elif", "fi", "case", "esac", "for", "select",
                       "while", "until", "do", "done", "in", "function", "time", "coproc"})


def _plain_command(unit: Item, lines: list[str], masked: list[str]) -> Item | None:
    """A one-line unit over `_WINDOW_BYTES` of plain words as its command item, else None."""
    if unit.start != unit.end or not _big_plain(masked[unit.start]):
        return None
    return Item("cmd", unit.start, unit.end, lines[unit.start].strip(), {"trailing": None})


def _big_plain(line: str) -> bool:
    """A line over `_WINDOW_BYTES` of plain words: one simple command, never a compound."""
    if len(line) <= _WINDOW_BYTES or not _PLAIN.fullmatch(line):
        return False
    first = line.split(None, 1)[0] if line.strip() else ""
    return bool(first) and first not in _RESERVED and first[0] not in "{}"


def _size(unit: Item, masked: list[str]) -> int:
    """Bytes (near enough: characters) of a unit's lines."""
    return sum(len(masked[k]) + 1 for k in range(unit.start, unit.end + 1))


def _parse_window(
    units: list[Item], first: int, last: int, masked: list[str], meter: Meter
) -> tuple[list[dict[str, Any]], int, int | None]:
    """Top-level groups of units ``first .. last``, the last unit parsed, the first bad unit.

    Where tree-sitter was stopped, that unit is bad (not parsed again: it may be the slow one)
    and the units before it are parsed again on their own.
    """
    bad_at = None
    while True:
        a, b = units[first].start, units[last].end
        src = "\n".join(masked[a : b + 1]).encode()
        try:
            groups, error_row = _top_level(_parse(src, meter), a, src)
        except _Stopped as stop:
            bad_at = _unit_at(units, first, last, a + stop.row)
            if bad_at == first:
                return [], first, first
            last = bad_at - 1
            continue
        if error_row is not None:
            bad_at = _unit_at(units, first, last, error_row)
        return groups, last, bad_at


def _unit_at(units: list[Item], first: int, last: int, row: int) -> int:
    """Index of the unit among ``first .. last`` that holds ``row`` (else the last one)."""
    return next((k for k in range(first, last + 1) if units[k].start <= row <= units[k].end), last)


def _top_level(root: Node, row0: int, src: bytes) -> tuple[list[dict[str, Any]], int | None]:
    """Group top-level nodes into commands (nodes on one line stay together); first error row."""
    groups: list[dict[str, Any]] = []
    for node in root.children:
        row, end_row = node.start_point.row + row0, node.end_point.row + row0
        if node.type == "comment":
            if groups and row == groups[-1]["end"]:
                text = src[node.start_byte : node.end_byte].decode("utf-8", "replace")
                groups[-1]["trail"] = comment_text(text)
            continue
        if node.type == "ERROR" or node.has_error:
            return groups, row
        if groups and row == groups[-1]["end"]:
            groups[-1].update(end=end_row, eb=node.end_byte)
        else:
            groups.append(
                {
                    "start": row,
                    "end": end_row,
                    "sb": node.start_byte,
                    "eb": node.end_byte,
                    "trail": None,
                }
            )
    return groups, None


# ---------------------------------------------------------------- entry point

_PROMPT_LANGS = frozenset({"console", "shell-session", "shellsession", "terminal", "pwsh-session"})


def split_block(code: str, lang: str = "bash", known: Known = Known()) -> list[Fragment]:  # noqa: B008
    """Split one shell block into step-sized fragments (see the module docstring and issue 6)."""
    code = code.replace("\r\n", "\n").rstrip("\n")
    if not code.strip():
        return []
    if lang.lower() in _PROMPT_LANGS:
        return prompt_fragments(code, root_hash=True)
    if uses_prompts(code):
        return prompt_fragments(code, root_hash=False)
    masked_code = _mask(code)
    lines = code.split("\n")
    # the same list when masking changed nothing (the common case): a block of a million short
    # lines is ~70 MB of line objects each
    masked = lines if masked_code == code else masked_code.split("\n")
    items = _scan(lines, masked, _meter(code))
    return Assembler(_expand(items, lines, masked, _meter(code)), known).run()


def _meter(code: str) -> Meter:
    """The work one pass may do over ``code``."""
    return Meter(_WORK_PER_CHAR * len(code) + _WORK_MIN,
                 _SLOW_ALLOWANCE_S + _SLOW_ALLOWANCE_PER_CHAR_S * len(code))
