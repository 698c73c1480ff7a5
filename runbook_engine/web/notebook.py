"""The runbook as a notebook page: its prose rendered from Markdown, each step a cell in place of
its code block (code with the values filled in, target, dangers, placeholders), and the step
graph. ``runbook plan --format html`` writes it as one self-contained file; ``runbook serve``
serves the same page, which its script brings to life."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from markdown_it.token import Token

from ..model import Runbook
from ..parse.frontmatter import split as split_front_matter
from .graph import anchor, graph_svg
from .markup import code_html, esc, markdown

StepDoc = Mapping[str, Any]


@dataclass(frozen=True)
class Live:
    """How ``runbook serve`` wants the page: who looks at it (operator or watcher)."""

    role: str  # "operator" or "watcher"


def asset(name: str) -> str:
    """One of the page's own files (``static/``), as text."""
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def page(runbook: Runbook, doc: StepDoc, source: str, live: Live | None = None) -> str:
    """The whole HTML page. Without ``live``: self-contained (inline style, no script, a CSP that
    allows nothing else), good to attach to a change request."""
    title = esc(doc["title"])
    if live is None:
        css = asset("notebook.css")
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        head = (f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
                f'style-src \'sha256-{digest}\'; img-src data:">\n<style>{css}</style>')
        body_attrs = 'data-mode="plan"'
    else:
        head = ('<link rel="stylesheet" href="static/notebook.css">\n'
                '<script type="module" src="static/app.js"></script>')
        body_attrs = f'data-mode="live" data-role="{esc(live.role)}"'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>{title} · runbook</title>
{head}
</head>
<body {body_attrs}>
{_topbar(runbook, doc, live)}
<div class="layout">
<nav class="sidebar" aria-label="Steps and variables">
{_sidebar(doc, live)}
</nav>
<main class="notebook" id="notebook">
{_lead(runbook)}{_document(doc, source)}
</main>
</div>
</body>
</html>
"""


def _topbar(runbook: Runbook, doc: StepDoc, live: Live | None) -> str:
    steps = doc["steps"]
    dangerous = sum(1 for s in steps if s["danger"])
    facts = [f"<code>{esc(doc['path'])}</code>", f"{len(steps)} steps"]
    if dangerous:
        facts.append(f'<span class="warn">{dangerous} dangerous</span>')
    if live is None:
        state = '<span class="pill plan">dry run: nothing has run</span>'
    else:
        role = "operator" if live.role == "operator" else "watching, read-only"
        state = (f'<span class="pill" id="run-status">connecting…</span>'
                 f'<span class="role role-{esc(live.role)}">{role}</span>')
    return f"""<header class="topbar">
<div class="titles"><h1>{esc(doc['title'])}</h1>
<p class="facts">{' · '.join(facts)}</p></div>
<div class="state">{state}</div>
</header>"""


def _lead(runbook: Runbook) -> str:
    """The front matter's description, before the runbook's own text."""
    text = runbook.description.strip()
    return f'<p class="lead">{esc(text)}</p>\n' if text else ""


def _sidebar(doc: StepDoc, live: Live | None) -> str:
    parts = []
    if live is not None:
        parts.append('<section class="panel" id="run-panel" aria-live="polite"></section>')
    parts.append(f'<section class="panel"><h2>Steps</h2>'
                 f'{graph_svg(doc["steps"], doc["edges"])}</section>')
    if doc["variables"]:
        parts.append(f'<section class="panel"><h2>Variables</h2>{_variables(doc)}</section>')
    if doc["problems"]:
        items = "".join(f'<li class="sev-{esc(p["severity"])}"><code>{esc(p["path"])}:'
                        f'{esc(p["line"])}</code> {esc(p["message"])}</li>'
                        for p in doc["problems"])
        parts.append(f'<section class="panel"><h2>Problems</h2><ul class="problems">{items}'
                     f'</ul></section>')
    if live is not None and live.role == "operator":
        parts.append('<section class="panel" id="notes-panel"></section>')
    return "\n".join(parts)


def _variables(doc: StepDoc) -> str:
    rows = []
    for var in doc["variables"]:
        value = ('<span class="muted">asked at run time</span>' if var["value"] is None
                 else f'<code>{esc(var["value"])}</code>')
        rows.append(f'<tr data-var="{esc(var["name"])}"><th><code>{esc(var["name"])}</code></th>'
                    f'<td><span class="value">{value}</span> <span class="source">'
                    f'{esc(var["source"])}</span></td></tr>')
    return f'<table class="vars" id="vars">{"".join(rows)}</table>'


# ----------------------------------------------------------------------- the document


def _document(doc: StepDoc, source: str) -> str:
    """The runbook's Markdown rendered, each code block replaced by the cells of its steps."""
    body_start = split_front_matter(source)[1]
    if body_start:  # blank lines in place of the front matter: token lines stay file lines
        source = "\n" * body_start + source.split("\n", body_start)[-1]
    md = markdown()
    md.add_render_rule("runbook_cells", _render_cells)
    md.add_render_rule("fence", _render_unrun)
    md.add_render_rule("code_block", _render_unrun)
    steps: list[StepDoc] = list(doc["steps"])
    placed: set[str] = set()
    tokens = _with_cells(md.parse(source), steps, placed)
    html = md.renderer.render(tokens, md.options, {"edges": doc["edges"]})
    rest = [s for s in steps if s["id"] not in placed]
    if rest:  # a step whose block could not be found in the text (should not happen)
        html += "<h2>Other steps</h2>" + _cells(rest)
    return html


def _with_cells(tokens: list[Token], steps: Sequence[StepDoc], placed: set[str]) -> list[Token]:
    """Code blocks holding steps become a ``runbook_cells`` token; a task item's manual step
    gets its cell inside the item."""
    out: list[Token] = []
    items: list[int] = []  # first lines of the open list items
    for tok in tokens:
        if tok.type in ("fence", "code_block") and tok.map:
            inside = _steps_in(steps, placed, tok.map[0] + 1, tok.map[1])
            out.append(_cells_token(inside) if inside else tok)
            continue
        if tok.type == "list_item_open":
            items.append(tok.map[0] + 1 if tok.map else -1)
        elif tok.type == "list_item_close" and items:
            line = items.pop()
            tasks = [s for s in steps if s["line"] == line and s["kind"] == "manual"
                     and s["id"] not in placed]
            if tasks:
                placed.update(s["id"] for s in tasks)
                out.append(_cells_token(tasks))
        out.append(tok)
    return out


def _steps_in(steps: Sequence[StepDoc], placed: set[str], first: int, last: int) -> list[StepDoc]:
    inside = [s for s in steps if first <= s["line"] <= last and s["id"] not in placed
              and not (s["kind"] == "manual" and not s["code"])]
    placed.update(s["id"] for s in inside)
    return inside


def _cells_token(steps: Sequence[StepDoc]) -> Token:
    token = Token("runbook_cells", "", 0)
    token.meta = {"steps": list(steps)}
    return token


def _render_cells(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return _cells(tokens[idx].meta["steps"])


def _render_unrun(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """A code block that is no step (example output, a file's content): shown, never run."""
    tok = tokens[idx]
    lang = tok.info.split()[0] if tok.info.strip() else ""
    return f'<div class="unrun">{code_html(tok.content, lang)}</div>\n'


def _cells(steps: Sequence[StepDoc]) -> str:
    """Cells in order; consecutive alternatives (``# Or``) grouped under one heading."""
    out: list[str] = []
    i = 0
    while i < len(steps):
        choice = steps[i]["choice"]
        group = [steps[i]]
        while choice is not None and i + len(group) < len(steps) and \
                steps[i + len(group)]["choice"] == choice:
            group.append(steps[i + len(group)])
        previous = steps[i - 1]["title"] if i else None
        if len(group) > 1:
            out.append(f'<div class="alternatives" data-choice="{esc(choice)}">'
                       f'<p class="alt-head">Alternatives: one of these is run</p>'
                       f'{"".join(cell(s) for s in group)}</div>')
        else:  # the commands of one block share its title: shown once
            out.append(cell(group[0], compact=group[0]["title"] == previous))
        i += len(group)
    return "\n".join(out)


KIND_NOTES = {"doc": "reference, not run", "manual": "manual: you do this, then say done"}


def cell(step: StepDoc, compact: bool = False) -> str:
    """One step as a cell: what it is, where it runs, why it is dangerous, its code. A
    ``compact`` cell continues the block of the cell before it (its title is not repeated)."""
    kind = step["kind"]
    classes = f"cell kind-{esc(kind)}" + (" danger" if step["danger"] else "") + (
        " compact" if compact else "")
    head = (f'<header class="cell-head"><span class="cell-index">{esc(step["index"])}</span>'
            f'<h3 class="cell-title">{"" if compact else esc(step["title"])}</h3>'
            f'<span class="cell-id">#{esc(step["id"])}</span>'
            f'<span class="cell-line">line {esc(step["line"])}</span>'
            f'<span class="cell-status" data-status="planned"></span></header>')
    parts = [head]
    meta = _meta(step)
    if meta:
        parts.append(f'<p class="cell-meta">{" · ".join(meta)}</p>')
    if step["danger"]:
        reasons = "".join(f"<li>{esc(r)}</li>" for r in step["danger"])
        parts.append(f'<div class="danger-box"><strong>Dangerous</strong>: the operator types '
                     f'<code>{esc(step["id"])}</code> to run it<ul>{reasons}</ul></div>')
    if step["placeholders"]:
        names = ", ".join(f"<code>{esc(n)}</code>" for n in step["placeholders"])
        parts.append(f'<p class="cell-asks">asks for {names} before it runs</p>')
    if step["code"]:
        parts.append(f'<div class="cell-code">{code_html(step["code"], step["lang"])}</div>')
    if step.get("expected_output"):
        parts.append(f'<details class="expected"><summary>Expected output</summary>'
                     f'<pre class="code"><code>{esc(step["expected_output"])}</code></pre>'
                     f'</details>')
    parts.append('<div class="cell-live"></div>')
    return (f'<section class="{classes}" id="{anchor(step["id"])}" data-step="{esc(step["id"])}"'
            f' data-kind="{esc(kind)}">{"".join(parts)}</section>')


def _meta(step: StepDoc) -> list[str]:
    note = KIND_NOTES.get(step["kind"])
    meta = [f'<span class="muted">{note}</span>'] if note else []
    if step["executable"]:
        meta.append("on " + ", ".join(f"<b>{esc(t)}</b>" for t in step["targets"]))
    if step["interpreter"]:
        meta.append(f"fed to <code>{esc(step['interpreter'])}</code>")
    if step["needs"]:
        links = ", ".join(f'<a href="#{anchor(n)}">{esc(n)}</a>' for n in step["needs"])
        meta.append(f"after {links}")
    for key, label in (("capture", "captures"), ("when", "when")):
        if step.get(key):
            meta.append(f"{label} <code>{esc(step[key])}</code>")
    if step.get("timeout"):
        meta.append(f"timeout {float(step['timeout']):g}s")
    if step["env"]:
        meta.append("reads " + ", ".join(f"<code>${esc(n)}</code>" for n in step["env"]))
    if step["confirm"]:
        text = step["confirm"] if isinstance(step["confirm"], str) else "asks to confirm"
        meta.append(f'<span class="confirm">{esc(text)}</span>')
    for key in ("needs_terminal", "runs_until_stopped"):
        if step.get(key):
            meta.append(f'<span class="muted">{esc(step[key])}</span>')
    if step["tags"]:
        meta.append(" ".join(f'<span class="tag">{esc(t)}</span>' for t in step["tags"]))
    return meta
