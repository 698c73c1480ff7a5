"""Text made safe for a page: escaped code with the terminal's highlighting, and runbook
Markdown rendered with markdown-it where raw HTML is shown as text, never interpreted."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from ..ui.highlight import code_block

#: a piece of highlighted code: (text, CSS class or "")
Piece = tuple[str, str]


def esc(text: object) -> str:
    """Text as HTML text or attribute value (quotes escaped too)."""
    return html.escape(str(text), quote=True)


def style_class(style: str) -> str:
    """The terminal style of a piece (``bold yellow``) as a CSS class (``hl-bold-yellow``)."""
    return "hl-" + "-".join(style.split()) if style else ""


def highlighted(code: str, lang: str) -> list[Piece]:
    """The code in pieces, highlighted by the same rules as the terminal (ui.highlight)."""
    return [(text, style_class(style))
            for text, style in code_block(code, lang, indent=0).pieces]


def pieces_html(pieces: Sequence[Piece]) -> str:
    return "".join(f'<span class="{cls}">{esc(text)}</span>' if cls else esc(text)
                   for text, cls in pieces)


def code_html(code: str, lang: str) -> str:
    """A ``<pre><code>`` block of highlighted, escaped code."""
    lang_attr = f' data-lang="{esc(lang)}"' if lang else ""
    return f'<pre class="code"{lang_attr}><code>{pieces_html(highlighted(code, lang))}</code></pre>'


def _raw_html(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """Raw HTML in a runbook is shown as text (an annotation comment is not shown at all)."""
    content = tokens[idx].content
    if content.lstrip().startswith("<!--"):
        return ""
    shown = esc(content)
    return f'<p class="raw-html">{shown}</p>\n' if tokens[idx].type == "html_block" else shown


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    if not href.startswith("#"):  # the runbook's own links leave the page without a referrer
        token.attrSet("rel", "noopener noreferrer")
        token.attrSet("target", "_blank")
    return str(self.renderToken(tokens, idx, options, env))


def markdown() -> MarkdownIt:
    """CommonMark with tables and strikethrough; HTML recognised (so it can be shown as text and
    annotation comments dropped), links validated by markdown-it (no ``javascript:``)."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.add_render_rule("html_block", _raw_html)
    md.add_render_rule("html_inline", _raw_html)
    md.add_render_rule("link_open", _link_open)
    md.core.ruler.at("inline", _bounded_inline)
    return md


# A paragraph (heading, table cell) over this many characters is shown as its plain text, not
# read for links and emphasis: markdown-it looks for a link text's closing `]` from each `[` to
# the paragraph's end, so its time grows with `[` count times length (a fuzzed 805 KB line with
# 146 `[`: 4 s). Far above any paragraph a person writes.
INLINE_MAX = 1 << 16


def _bounded_inline(state: StateCore) -> None:
    """markdown-it's inline rule, with an inline run over `INLINE_MAX` one text token."""
    for token in state.tokens:
        if token.type != "inline":
            continue
        if len(token.content) > INLINE_MAX:
            text = Token("text", "", 0)
            text.content = token.content
            token.children = [text]
            continue
        if token.children is None:
            token.children = []
        state.md.inline.parse(token.content, state.md, state.env, token.children)
