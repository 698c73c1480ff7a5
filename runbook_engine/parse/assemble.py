"""Pass 3 of command splitting: classified items become fragments with titles, ``# Or`` choices,
ssh targets, expected output and SQL statements."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field, replace
from typing import Any

from .. import lazyre
from .languages import split_sql
from .lines import Fragment
from .shapes import Known, first_word, line_shape
from .vocabulary import SILENT

#: words and commas, nothing a shell would act on: "nothing to commit, working tree clean"
_SENTENCE = lazyre.compile(r"^[a-z][a-z' ]*,(?: [a-z'()]+)+\.?$")
_OR = lazyre.compile(r"^(?:or|alternatively)\b[\s,:.\-]*(.*)$", re.IGNORECASE)


@dataclass
class Item:
    """A classified region of the block (internal): lines start..end inclusive."""

    kind: str  # blank comment shell cmd doc expected console ssh sql
    start: int
    end: int
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

class Assembler:
    """Turns classified items into fragments: titles, ``# Or`` choices, ssh targets, outputs."""

    def __init__(self, items: list[Item], known: Known = Known()) -> None:  # noqa: B008
        self.items = items
        self.known = known
        self.out: list[Fragment] = []
        self.title: str | None = None
        self.or_pending = False
        self.target: str | None = None
        self.opened: int | None = None  # the line of the `ssh dest` that set the target
        self.last_cmd: int | None = None
        self.choices = 0
        self._printed_lines: bool | None = None  # computed on first need

    def run(self) -> list[Fragment]:
        for idx, item in enumerate(self.items):
            handler = getattr(self, f"_on_{item.kind}")
            handler(idx, item)
        return self.out

    def _on_blank(self, idx: int, item: Item) -> None:
        return None

    def _on_comment(self, idx: int, item: Item) -> None:
        m = _OR.match(item.text)
        if m:
            self.or_pending = self.last_cmd is not None
            self.title = item.text if re.search(r"\w", m.group(1)) else None
        elif item.text and not item.text.startswith("!"):
            self.title = item.text

    def _on_sql(self, idx: int, item: Item) -> None:
        """SQL typed into a shell block: one statement each, fed or manual (decided later)."""
        title = self.title
        for frag in split_sql(item.text):
            if frag.kind == "doc":
                self._emit(replace(frag, line_offset=frag.line_offset + item.start))
                continue
            self._emit(replace(frag, line_offset=frag.line_offset + item.start,
                               title=frag.title or title, target=self.target))
            title = None

    def _on_expected(self, idx: int, item: Item) -> None:
        if self.out and self.last_cmd == len(self.out) - 1:
            prev = self.out[-1]
            text = f"{prev.expected_output}\n{item.text}" if prev.expected_output else item.text
            self.out[-1] = replace(prev, expected_output=text,
                                   expected_from=prev.expected_from or item.extra.get("from"),
                                   expected_sample=prev.expected_sample
                                   or bool(item.extra.get("sample")))
        else:
            self._emit(Fragment("doc", item.text, item.start + 1, self.title))

    def _on_doc(self, idx: int, item: Item) -> None:
        if self._printed(idx, item):
            # `Active: active (running) since ...` right under `systemctl status`: not shell,
            # what the command above printed
            self._on_expected(idx, Item("expected", item.start - 1, item.end, item.text,
                                        {"from": "printed"}))
            return
        self._emit(Fragment("doc", item.text, item.start, self.title))

    def _printed(self, idx: int, item: Item) -> bool:
        """A region right under the last command (no blank line) whose lines all look printed."""
        if not self.out or self.last_cmd != len(self.out) - 1 or idx == 0:
            return False
        if self.items[idx - 1].kind not in ("cmd", "console", "expected"):
            return False
        if item.text.lstrip()[:1] in "{[":
            return False  # JSON typed into a shell block stays a doc step (lint says so)
        # line by line, not a list of them: the doc may be the rest of a huge damaged block
        lines = (x.rstrip("\n") for x in io.StringIO(item.text) if x.strip())
        seen = False
        for line in lines:
            if line_shape(line, self.known).score > -1.5:
                return False
            seen = True
        return seen

    def _on_ssh(self, idx: int, item: Item) -> None:
        nxt = next((x for x in self.items[idx + 1 :] if x.kind in ("cmd", "console", "ssh")), None)
        if nxt is not None and nxt.kind != "ssh":
            self.target, self.title, self.or_pending = item.extra["dest"], None, False
            self.opened = item.start
            return
        self._on_cmd(idx, item)

    def _on_cmd(self, idx: int, item: Item) -> None:
        if self.target and item.text.strip() in ("exit", "logout"):
            self.target, self.title = None, None  # the ssh session ends here
            if self.last_cmd is not None and self.opened is not None:
                prev = self.out[self.last_cmd]
                self.out[self.last_cmd] = replace(prev, session=(*prev.session, item.start))
            self.opened = None
            return
        if item.start == item.end and self._printed_line(idx, item):
            # a table header, a log line, `Error: ...`: what the command above printed
            self._on_expected(idx, Item("expected", item.start - 1, item.end, item.text,
                                        {"from": "printed"}))
            return
        title = self.title or item.extra.get("trailing")
        self._emit(Fragment("command", item.text, item.start, title, target=self.target))

    def _printed_line(self, idx: int, item: Item) -> bool:
        """A line that reads as output, or one whose first word is no program this reader knows
        (``enabled``, ``nothing to commit, working tree clean``) right under a command that
        prints (no blank line between, and not ``cd``/``export``)."""
        shape = line_shape(item.text, self.known)
        if shape.score <= -1.5:
            return True
        if shape.score >= 1.5 or idx == 0 or self.last_cmd != len(self.out) - 1:
            return False
        above = self.items[idx - 1]
        if above.kind not in ("cmd", "expected") or above.end != item.start - 1:
            return False
        word = first_word(self.out[-1].code)[0]
        if word == shape.word or word in SILENT or self.out[-1].code.rstrip().endswith("&"):
            return False  # `amtool ...` twice: the same program again is a command
        if shape.score >= 0.5 and not self._shows_output():
            return False  # `crontab -l` then `atq`: a block where nothing else reads as printed
        return shape.score < 1.0 or _SENTENCE.match(item.text.strip()) is not None

    def _shows_output(self) -> bool:
        """Does any line of the block read as printed (a table, a log line, a sentence)?"""
        if self._printed_lines is None:
            self._printed_lines = any(
                line_shape(x, self.known).score <= -1.5 for it in self.items
                if it.kind in ("cmd", "doc", "expected") for x in it.text.split("\n")
                if x.strip())
        return self._printed_lines

    def _on_console(self, idx: int, item: Item) -> None:
        interp = item.extra["interpreter"]
        self._emit(Fragment("command", item.text, item.start, self.title, None, self.target,
                            interp, session=(item.start,)))

    def _emit(self, frag: Fragment) -> None:
        if self.target and self.opened is not None and frag.target == self.target:
            frag = replace(frag, session=(self.opened, *frag.session))
        if frag.kind == "command":
            if self.or_pending and self.last_cmd is not None:
                prev = self.out[self.last_cmd]
                if prev.choice is None:
                    self.choices += 1
                    self.out[self.last_cmd] = prev = replace(prev, choice=self.choices)
                frag = replace(frag, choice=prev.choice)
            self.last_cmd = len(self.out)
        self.out.append(frag)
        self.title, self.or_pending = None, False


