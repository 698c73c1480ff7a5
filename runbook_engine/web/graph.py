"""The step graph as an inline SVG arc diagram: one row per step in plan order (a status dot and
the title, a link to its cell), each dependency an arc in the left margin, nested by span."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .markup import esc

ROW = 22  # px per step
TOP = 12
LABEL_CHARS = 34
WIDTH = 300
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def anchor(step_id: str) -> str:
    """A step's HTML id: ``step-`` and the id with anything unusual hex-escaped (unique)."""
    return "step-" + _UNSAFE.sub(lambda m: f"_{ord(m.group()):x}_", step_id)


def _levels(edges: Sequence[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Each arc's nesting level: one more than the widest arc it encloses, so arcs never hide
    inside each other."""
    levels: dict[tuple[int, int], int] = {}
    for a, b in sorted(edges, key=lambda e: e[1] - e[0]):
        inner = [lvl for (c, d), lvl in levels.items() if a <= c and d <= b]
        levels[(a, b)] = 1 + max(inner, default=0)
    return levels


def _label(step: Mapping[str, Any]) -> str:
    title = str(step.get("title") or step["id"])
    text = f"{step['index']}. {title}" if not re.match(r"\d+[.)] ", title) else title
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def _classes(step: Mapping[str, Any]) -> str:
    classes = ["gnode", f"kind-{step['kind']}"]
    if step.get("danger"):
        classes.append("danger")
    return " ".join(classes)


def graph_svg(steps: Sequence[Mapping[str, Any]], edges: Sequence[Sequence[str]]) -> str:
    """The SVG of the selected steps and the edges between them."""
    row = {step["id"]: i for i, step in enumerate(steps)}
    spans = sorted({(min(row[a], row[b]), max(row[a], row[b])) for a, b in edges
                    if a in row and b in row and a != b})
    levels = _levels(spans)
    gutter = min(8 + 7 * max(levels.values(), default=0), 90) + 6
    height = TOP * 2 + ROW * max(len(steps) - 1, 0)
    parts = [f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
             f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-label="Step graph: {len(steps)} steps, {len(spans)} dependencies">',
             '<defs><marker id="arrow" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="6" '
             'markerHeight="6" orient="auto"><path d="M0,0 L6,3 L0,6 z" class="arrowhead"/>'
             '</marker></defs>']
    for (a, b), level in sorted(levels.items()):
        ya, yb, bend = TOP + a * ROW, TOP + b * ROW, gutter - 6 - 7 * level
        parts.append(f'<path class="edge" d="M{gutter - 5},{ya} C{bend},{ya} {bend},{yb} '
                     f'{gutter - 6},{yb}" marker-end="url(#arrow)"/>')
    for i, step in enumerate(steps):
        y = TOP + i * ROW
        parts.append(f'<a href="#{anchor(step["id"])}"><g class="{_classes(step)}" '
                     f'data-step="{esc(step["id"])}"><title>{esc(step["id"])}: '
                     f'{esc(step.get("title", ""))}</title>'
                     f'<rect class="row" x="0" y="{y - ROW // 2}" width="{WIDTH}" height="{ROW}"/>'
                     f'<circle class="dot" cx="{gutter}" cy="{y}" r="5"/>'
                     f'<text x="{gutter + 12}" y="{y + 4}">{esc(_label(step))}</text></g></a>')
    parts.append("</svg>")
    return "".join(parts)
