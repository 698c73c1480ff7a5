"""Command granularity: split a shell block into commands, alternatives, consoles and docs."""

from __future__ import annotations

import re
import shlex
from functools import cache
from typing import Any

from tree_sitter import Node, Parser

from ..placeholders import mask_placeholders
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
    PSQL_META,
    SQL_START,
    Fragment,
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
    j = i + 1
    while j < len(lines) and lines[j].strip():
        if is_comment(lines[j]) and any(not is_comment(x) for x in lines[i + 1 : j]):
            break  # a comment after plain output lines starts the next paragraph
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
        lex = shlex.shlex(masked, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        words = list(lex)
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


def _opener(lines: list[str], masked: list[str], i: int, end: int) -> Item | None:
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
    last = console_end(lines, end + 1, lang) if lang else None
    if lang is None or last is None:
        return None
    interp = orig.strip()
    if words[0] in ("docker", "docker-compose", "podman", "kubectl"):
        interp = interactive_off_tty(interp)
    code = console_code(lines[end + 1 : last + 1], lang)
    return Item("console", i, last, code, {"interpreter": interp})


# ---------------------------------------------------------------- pass 1: regions


_WINDOW = 200  # lines parsed at once: keeps pathological blocks linear, far above real constructs
_COMPOUND = re.compile(
    r"^\s*(?:(?:if|for|while|until|case|select|function)\b|[{(]|[\w.:-]+\s*\(\))"
    r"|(?:\bdo|\bthen|\bin|[{(])\s*$"
)


def _compound_end(masked: list[str], i: int, unit_end: int) -> int:
    """Last line of a loop, ``if``, function or group opened at line ``i`` (bodies stay whole)."""
    size = 8  # small windows first: an unrelated error further down cannot leak in
    while True:
        tree = _parser().parse("\n".join(masked[i : i + size]).encode())
        node = next((n for n in tree.root_node.children if n.type != "comment"), None)
        if node is None or node.start_point.row != 0:
            return unit_end
        cut = node.end_point.row >= size - 1 and i + size < len(masked)
        if not cut:  # complete within the window: clean, or really broken
            return unit_end if node.has_error else max(unit_end, i + node.end_point.row)
        if size >= _WINDOW * 5:
            return unit_end
        size *= 5


def _scan(lines: list[str], masked: list[str]) -> list[Item]:
    """Classify lines into blank, comment, expected, doc, console, ssh and shell items."""
    items: list[Item] = []
    i = 0
    while i < len(lines):
        item = _classify(lines, masked, i)
        items.append(item)
        i = item.end + 1
    return items


def _classify(lines: list[str], masked: list[str], i: int) -> Item:
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
    unit_end = logical_line_end(masked, i)
    if _COMPOUND.search(masked[i]):
        return Item("shell", i, _compound_end(masked, i, unit_end))
    return _opener(lines, masked, i, unit_end) or Item("shell", i, unit_end)


# ---------------------------------------------------------------- pass 2: tree-sitter


def _expand(items: list[Item], lines: list[str], masked: list[str]) -> list[Item]:
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
        out.extend(_parse_run(run, lines, masked))
    return out


def _parse_run(units: list[Item], lines: list[str], masked: list[str]) -> list[Item]:
    """Parse adjacent shell units; an error turns its unit into a doc and parsing resumes after."""
    results: list[Item] = []
    first = 0
    while first < len(units):
        last = first  # units are whole constructs, so a window may end after any of them
        while last + 1 < len(units) and units[last + 1].end - units[first].start < _WINDOW:
            last += 1
        a, b = units[first].start, units[last].end
        src = "\n".join(masked[a : b + 1]).encode()
        orig = "\n".join(lines[a : b + 1]).encode()
        groups, error_row = _top_level(_parser().parse(src).root_node, a)
        bad = None
        if error_row is not None:
            bad = next((u for u in units[first:] if u.start <= error_row <= u.end), units[last])
        for g in groups:
            if bad is None or g["start"] < bad.start:
                text = orig[g["sb"] : g["eb"]].decode("utf-8", "replace")
                results.append(Item("cmd", g["start"], g["end"], text, {"trailing": g["trail"]}))
        if bad is None:
            first = last + 1
            continue
        results.append(
            Item("doc", bad.start, bad.end, dedent("\n".join(lines[bad.start : bad.end + 1])))
        )
        first = units.index(bad) + 1
    return results


def _top_level(root: Node, row0: int) -> tuple[list[dict[str, Any]], int | None]:
    """Group top-level nodes into commands (nodes on one line stay together); first error row."""
    groups: list[dict[str, Any]] = []
    for node in root.children:
        row, end_row = node.start_point.row + row0, node.end_point.row + row0
        if node.type == "comment":
            if groups and row == groups[-1]["end"]:
                groups[-1]["trail"] = comment_text((node.text or b"").decode("utf-8", "replace"))
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
    lines, masked = code.split("\n"), masked_code.split("\n")
    items = _scan(lines, masked)
    return Assembler(_expand(items, lines, masked), known).run()
