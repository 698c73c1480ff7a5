"""Markdown to raw blocks: code blocks and task-list items with their section, title and context."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from .. import lazyre
from ..model import Problem
from .annotations import parse_comment
from .prompts import prompt_command

_TASK = lazyre.compile(r"^\[([ xX])\]\s+(.*)$", re.S)
_MAX_TITLE = 80
_MAX_DESCRIPTION = 300
_SHELL_PROMPT = lazyre.compile(r"^\s*(?:[\w.-]+@[\w.-]+(?::[^\s$#]*)?\s?)?\$(?:\s|$)")


@dataclass
class RawBlock:
    """A code block or task-list item before it becomes a Step."""

    kind: str  # "fence" (also tilde and indented code blocks) or "task"
    line: int  # 1-based line of the fence / list item
    code_line: int  # 1-based line of the first code line
    info: str = ""
    content: str = ""
    indented: bool = False
    section: tuple[str, ...] = ()
    title: str | None = None  # from the list item / short paragraph right before
    heading: str | None = None  # the nearest heading above
    description: str = ""
    comment: dict[str, Any] | None = None  # attributes from a <!-- runbook: --> comment
    checked: bool = False
    prose: str = ""  # Markdown of the paragraph right before (the reader weighs its cues)


@dataclass
class Scan:
    """The result of one pass over the document."""

    blocks: list[RawBlock] = field(default_factory=list)
    first_h1: str | None = None
    problems: list[Problem] = field(default_factory=list)


# Inline parsing is off (it is a third of the time): the few texts we need are cleaned below.
_MD = MarkdownIt("commonmark").disable(["inline", "text_join"])
_CODE_SPAN = lazyre.compile(r"(`+)(.+?)\1", re.S)
# Each pattern stops scanning at the next opener, so damaged text ("[x[x[x...", "*a *a *a...",
# "<a <a <a...") costs linear time, not a scan to the end of the text per opener.
_LINK = lazyre.compile(r"!?\[([^\][]*)\]\([^()\s]*\)")
_TAG = lazyre.compile(r"<[^<>\n]*>")
_EMPHASIS = lazyre.compile(r"\*\*(?=\S)([^*\n]+?)(?<=\S)\*\*|\*(?=\S)([^*\n]+?)(?<=\S)\*"
                           r"|(?<!\w)__(?=\S)([^_\n]+?)(?<=\S)__|(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_")
_BOLD_LEAD = lazyre.compile(r"^\s*(\*\*|__)(.+?)\1")
_MARKUP = lazyre.compile(r"[`*_\[<\\]")
_ESCAPE = lazyre.compile(r"\\([!-/:-@\[-`{-~])")
# AsciiDoc callouts left at line ends by a conversion (`--token=T <1>`): marks, not code
# (a blank run is tried once, from its start: no quadratic backtracking on long blank runs)
_CALLOUTS = lazyre.compile(r"(?:(?<![ \t])[ \t]++(?:(?:#|//|--) ?)?<\d{1,2}>)+[ \t]*$", re.M)


def _emphasised(match: re.Match[str]) -> str:
    return match.group(match.lastindex or 0)


def _plain_part(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    for _ in range(3):  # nested emphasis, a few levels is plenty
        text = _EMPHASIS.sub(_emphasised, text)
    return _ESCAPE.sub(r"\1", text)


def plain_text(markdown: str) -> str:
    """The visible text of inline Markdown (emphasis, links and code marks dropped)."""
    if not _MARKUP.search(markdown):
        return " ".join(markdown.split())
    parts: list[str] = []
    pos = 0
    for m in _CODE_SPAN.finditer(markdown):
        parts.append(_plain_part(markdown[pos:m.start()]))
        parts.append(m.group(2).strip())
        pos = m.end()
    parts.append(_plain_part(markdown[pos:]))
    return " ".join("".join(parts).split())


def _title_from(markdown: str) -> str | None:
    """A title from the paragraph or list item right before a fence, when it reads like one."""
    lead = _BOLD_LEAD.match(markdown)
    # ``1. **Check X** - does things``: the bold lead is the title
    text = plain_text(lead.group(2) if lead else markdown)
    text = text.strip().rstrip(":.").strip()
    if not text or len(text) > _MAX_TITLE or "\n" in markdown.strip():
        return None
    return text


class _Walker:
    """One pass over the block tokens, keeping the heading stack and what came right before."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.scan = Scan()
        self.headings: list[tuple[int, str]] = []
        self.before: str | None = None  # Markdown of the paragraph right before
        self.comment: dict[str, Any] | None = None

    def run(self, tokens: list[Token]) -> Scan:
        for i, tok in enumerate(tokens):
            self.token(tok, tokens, i)
        return self.scan

    def token(self, tok: Token, tokens: list[Token], i: int) -> None:
        kind = tok.type
        if kind == "inline":
            self.inline(tok, tokens[i - 1] if i else None)
        elif kind in ("fence", "code_block"):
            self.code(tok)
        elif kind == "html_block":
            self.html(tok)
        elif kind == "list_item_open":
            self.task(tok, tokens, i)
        elif kind in ("hr", "table_open", "blockquote_open"):
            self.before = None
            self.comment = None

    def inline(self, tok: Token, opener: Token | None) -> None:
        if opener is not None and opener.type == "heading_open":
            text = plain_text(tok.content)
            level = int(opener.tag[1:]) if opener.tag[1:].isdigit() else 1
            while self.headings and self.headings[-1][0] >= level:
                self.headings.pop()
            self.headings.append((level, text))
            if level == 1 and self.scan.first_h1 is None and text:
                self.scan.first_h1 = text
            self.before = None
            self.comment = None
        elif opener is not None and opener.type == "paragraph_open":
            self.before = tok.content  # cleaned only if a code block follows
            self.comment = None
        else:
            self.before = None

    def _context(self) -> tuple[tuple[str, ...], str | None]:
        section = tuple(text for _, text in self.headings if text)
        return section, (section[-1] if section else None)

    def code(self, tok: Token) -> None:
        start = (tok.map[0] if tok.map else 0) + 1
        fenced = tok.type == "fence"
        section, heading = self._context()
        block = RawBlock(kind="fence", line=start, code_line=start + 1 if fenced else start,
                         info=tok.info.strip() if fenced else "",
                         content=_CALLOUTS.sub("", tok.content) if ">" in tok.content else
                         tok.content,
                         indented=not fenced, section=section, heading=heading,
                         comment=self.comment)
        if self.before is not None:
            source = self.before
            text = plain_text(source)
            block.prose = source  # Markdown: code spans still mark host names
            block.title = _title_from(source)
            if block.title is None or block.title != text.strip().rstrip(":.").strip():
                block.description = text[:_MAX_DESCRIPTION]
        self.scan.blocks.append(block)
        self.before = None
        self.comment = None

    def html(self, tok: Token) -> None:
        line = (tok.map[0] if tok.map else 0) + 1
        parsed = parse_comment(tok.content, self.path, line)
        if parsed is None:
            self.before = None
            self.comment = None
            return
        attrs, problems = parsed
        self.comment = attrs  # applies to the very next code block
        self.scan.problems.extend(problems)

    def task(self, tok: Token, tokens: list[Token], i: int) -> None:
        if i + 2 >= len(tokens) or tokens[i + 1].type != "paragraph_open":
            return
        inline = tokens[i + 2]
        m = _TASK.match(inline.content)
        if not m:
            return
        text = plain_text(inline.content)
        text = re.sub(r"^\[[ xX]\]\s*", "", text)
        line = (tok.map[0] if tok.map else 0) + 1
        section, heading = self._context()
        self.scan.blocks.append(RawBlock(kind="task", line=line, code_line=line, section=section,
                                         title=text or None, heading=heading,
                                         checked=m.group(1) != " "))


def scan(text: str, path: str) -> Scan:
    """Every code block and task-list item of ``text`` in document order."""
    return _Walker(path).run(_MD.parse(unfold_admonitions(text)))


# MkDocs (Python-Markdown) admonitions `!!! note "Title"`, collapsibles `??? example` and
# content tabs `=== "Linux"` hold Markdown indented by four spaces; CommonMark would read that
# body as one indented code block (a fence in a tab would become code holding its own ```).
_FOLD = lazyre.compile(r'^( {0,36})(?:(?:!!!|\?\?\?\+?) +([\w-]+)(?: +"([^"\n]*)")?'
                       r'|===\+? +"([^"\n]*)")[ \t]*$')
_FENCE_MARK = lazyre.compile(r"^ {0,3}(`{3,}|~{3,})")


def unfold_admonitions(text: str) -> str:
    """The body of each admonition or tab dedented as MkDocs reads it; its marker line becomes
    its title (a paragraph: the prose of the block below). Line numbers do not change."""
    if "!!!" not in text and "???" not in text and "===" not in text:
        return text
    lines = text.split("\n")
    fence = ""
    for i, line in enumerate(lines):
        mark = _FENCE_MARK.match(line.lstrip(" "))
        if fence:
            if mark and mark.group(1)[0] == fence[0] and len(mark.group(1)) >= len(fence):
                fence = ""
            continue
        if mark:
            fence = mark.group(1)
            continue
        fold = _FOLD.match(line)
        if fold:
            lead, kind, title, tab = fold.groups()
            lines[i] = lead + (tab if tab is not None else title or f"{kind.capitalize()}:")
            _dedent_body(lines, i + 1, len(lead))
    return "\n".join(lines)


def _dedent_body(lines: list[str], start: int, indent: int) -> None:
    body = " " * (indent + 4)
    j = start
    while j < len(lines) and (not lines[j].strip() or lines[j].startswith(body)):
        if lines[j].strip():
            lines[j] = lines[j][:indent] + lines[j][indent + 4:]
        j += 1


def _typed(line: str, console: bool) -> str | None:
    """The command typed after a prompt on this line, or None (output, comment, plain code).

    One prompt grammar for the whole parser (prompts.py): `# ` is a root prompt only in console
    blocks and only before something that looks like a command; zsh's `% ` only unindented
    (curl's progress header is an indented `  % Total`).
    """
    if console:
        if line.startswith("% "):
            return line[2:]
        return prompt_command(line, root_hash=True)
    m = _SHELL_PROMPT.match(line)
    return line[m.end():] if m else None


def split_transcript(code: str, console: bool) -> list[tuple[int, str, str]] | None:
    """Terminal transcript -> [(line offset, command, expected output)], None if no prompts.

    In ``console`` blocks ``# `` is a root prompt; in shell blocks only ``$`` prompts count
    (there ``#`` starts a comment, kept with the commands).
    """
    if not console and "$" not in code:
        return None  # the common shell block: no prompt possible
    lines = code.split("\n")
    if code.endswith("\n"):
        lines.pop()
    typed = [_typed(line, console) for line in lines]
    if not any(command is not None for command in typed):
        return None
    out: list[tuple[int, list[str], list[str]]] = []
    pending: list[str] = []  # comments of shell blocks, kept in front of the next command
    continuing = False
    for n, line in enumerate(lines):
        command = typed[n]
        if continuing and out:
            out[-1][1].append(re.sub(r"^>\s?", "", line))
        elif command is not None:
            if not command.strip():
                continue
            out.append((n, [*pending, command], []))
            pending = []
        elif not console and line.lstrip().startswith("#"):
            pending.append(line.strip())
        elif out:
            out[-1][2].append(line)
        continuing = bool(out) and out[-1][1][-1].endswith("\\") and (command is not None or
                                                                     continuing)
    return [(n, "\n".join(cmd), "\n".join(output).strip("\n")) for n, cmd, output in out]
