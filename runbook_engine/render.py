"""The plan document (a dict) and its JSON, Markdown and Mermaid renderings."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .gcpause import paused_gc
from .graph import Graph
from .liveness import needs_terminal, runs_until_stopped
from .mdtext import md_fence
from .model import Step
from .redact import Redactor
from .safety import env_reads, placeholders, step_danger
from .stamps import spell_duration
from .template import render_lenient, substitute_placeholders
from .variables import Variable
from .variables import context as template_context


def plan_document(graph: Graph, steps: Sequence[Step], variables: Mapping[str, Variable],
                  placeholder_values: Mapping[str, str] = {}) -> dict[str, Any]:  # noqa: B006
    """Everything ``runbook plan`` shows, as JSON-ready data with secrets masked."""
    runbook = graph.runbook
    secrets = [str(v.value) for v in variables.values() if v.secret and v.value is not None]
    redactor = Redactor(secrets)
    values = {name: var.value for name, var in variables.items()}
    context = template_context(variables)
    fills = {**{k: str(v) for k, v in values.items() if v is not None}, **placeholder_values}
    with paused_gc():
        step_docs = [_step_doc(step, graph, context, fills) for step in steps]
    selected = {step.id for step in steps}
    doc = {
        "title": runbook.title,
        "path": runbook.path,
        "granularity": runbook.granularity,
        "default_targets": default_targets(runbook.defaults.get("on")),
        "variables": _variables(graph, steps, variables, placeholder_values),
        "steps": step_docs,
        "edges": [[a, b] for a, b in graph.edges if a in selected and b in selected],
        "problems": [{"severity": p.severity, "path": p.path, "line": p.line,
                      "message": p.message, "code": p.code}
                     for p in sorted((*runbook.problems, *graph.problems),
                                     key=lambda p: (p.path, p.line, p.column))],
    }
    return redactor.redact_value(doc) if redactor.active else doc


def _variables(graph: Graph, steps: Sequence[Step], variables: Mapping[str, Variable],
               placeholder_values: Mapping[str, str]) -> list[dict[str, Any]]:
    names = [spec.name for spec in graph.runbook.vars]
    for step in steps:
        if step.executable:
            names += _placeholders(step)
    names += list(variables)
    secret_specs = {spec.name for spec in graph.runbook.vars if spec.secret}
    rows = []
    for name in dict.fromkeys(names):
        if name in variables:
            rows.append(variables[name].as_dict())
        elif name in placeholder_values:
            rows.append(Variable(name, placeholder_values[name], "placeholder",
                                 name in secret_specs).as_dict())
        else:
            rows.append({"name": name, "source": "prompt", "secret": name in secret_specs,
                         "value": None})
    return rows


def default_targets(on: Any) -> list[str]:
    """Where a step runs when it does not say: the front matter's ``defaults: on``, or here."""
    if isinstance(on, str):
        return [on]
    return [str(target) for target in on] if on else ["local"]


def _placeholders(step: Step) -> list[str]:
    """Placeholders of the code and of the targets (``ssh deploy@<production-ip>``)."""
    names = placeholders(step.code)
    for target in step.on:
        names += placeholders(target)
    return list(dict.fromkeys(names))


def _step_doc(step: Step, graph: Graph, context: Mapping[str, Any],
              fills: Mapping[str, str]) -> dict[str, Any]:
    code = step.code
    if step.executable:
        # same order as the engine: template first, then placeholders
        code = substitute_placeholders(render_lenient(code, context, step.interpreter), fills,
                                       lenient=True, interpreter=step.interpreter)
    env = env_reads(step.code) if step.kind == "shell" else []
    if step.interpreter:
        env = sorted({*env, *env_reads(step.interpreter)})
    shell = step.kind == "shell"
    terminal = needs_terminal(step.code, step.lang) if shell else None
    follows = runs_until_stopped(step.code, step.lang) if shell else None
    # as the run does: a runbook-wide timeout leaves the terminal's steps and `tail -f` alone
    untimed = step.timeout_default and (step.interactive or terminal or follows)
    return {
        "index": step.index,
        "id": step.id,
        "title": step.title,
        "section": list(step.section),
        "line": step.line,
        "lang": step.lang,
        "kind": step.kind,
        "executable": step.executable,
        "code": code,
        "targets": list(step.on) or ["local"],
        "needs": list(graph.preds.get(step.id, ())),
        "confirm": step.confirm,
        "danger": step_danger(step),
        "placeholders": _placeholders(step) if step.executable or step.kind == "manual" else [],
        "env": env,
        "capture": step.capture,
        "when": step.when,
        "timeout": None if untimed else step.timeout,
        "parent": step.parent,
        "choice": step.choice,
        "interpreter": step.interpreter,
        "session_lines": list(step.session_lines),
        "description": step.description,
        "expected_output": step.expected_output,
        "tags": list(step.tags),
        "interactive": step.interactive,
        "needs_terminal": terminal,
        "runs_until_stopped": follows,
    }


def plan_json(doc: Mapping[str, Any]) -> str:
    return "".join(plan_json_pieces(doc))


def plan_json_pieces(doc: Mapping[str, Any], size: int = 1 << 16) -> Iterator[str]:
    """`plan_json` in pieces of about ``size`` characters, to write as they come: the whole text
    of a big plan, and json's list of its small pieces, took more memory than the plan."""
    batch: list[str] = []
    held = 0
    for piece in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(doc):
        batch.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(batch)
            batch.clear()
            held = 0
    yield "".join(batch) + "\n"


# ---------------------------------------------------------------- Markdown


def _fence(code: str, lang: str, indent: str) -> list[str]:
    ticks = md_fence(code)
    body = [f"{indent}{line}" if line else "" for line in code.rstrip("\n").splitlines()]
    return [f"{indent}{ticks}{lang}", *body, f"{indent}{ticks}"]


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _flags(step: Mapping[str, Any]) -> list[str]:
    flags = []
    if step["confirm"]:
        flags.append("confirm" if step["confirm"] is True else f"confirm: {step['confirm']}")
    if step["danger"]:
        flags.append("⚠ DANGER: " + "; ".join(step["danger"]))
    for key in ("capture", "when", "timeout", "interpreter"):
        if step[key] not in (None, ""):
            value = spell_duration(step[key]) if key == "timeout" else step[key]
            flags.append(f"{key}: `{value}`")
    if step["needs"]:
        flags.append("after: " + ", ".join(f"`{n}`" for n in step["needs"]))
    if step["env"]:
        flags.append("reads: " + ", ".join(f"`${n}`" for n in step["env"]))
    return flags


def plan_markdown(doc: Mapping[str, Any]) -> str:
    """A printable procedure with checkboxes, for pasting into an incident document."""
    lines = [f"# {doc['title']}", "", f"Runbook: `{doc['path']}` · {len(doc['steps'])} steps", ""]
    if doc["variables"]:
        lines += ["## Variables", "", "| Name | Value | Source |", "|---|---|---|"]
        for var in doc["variables"]:
            value = "*(asked at run time)*" if var["value"] is None else f"`{_cell(var['value'])}`"
            lines.append(f"| `{var['name']}` | {value} | {var['source']} |")
        lines.append("")
    lines += ["## Procedure", ""]
    section: list[str] = []
    for number, step in enumerate(doc["steps"], 1):
        if step["section"] and step["section"] != section:
            section = step["section"]
            lines += [f"### {' › '.join(section)}", ""]
        lines += _markdown_step(number, step)
    if doc["problems"]:
        lines += ["## Problems", ""]
        lines += [f"- {p['path']}:{p['line']}: {p['severity']}: {p['message']}"
                  for p in doc["problems"]]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _markdown_step(number: int, step: Mapping[str, Any]) -> list[str]:
    title = f"**{number}. {step['title']}** (`{step['id']}`)"
    if step["kind"] == "doc":
        lines = [f"> **Note {number}. {step['title']}** (reference, not run)", ">"]
        return lines + [f"> {line}" for line in _fence(step["code"], step["lang"], "")] + [""]
    if step["kind"] == "manual":
        where = f" in `{step['interpreter']}`" if step["interpreter"] else ""
        lines = [f"- [ ] {title} — manual{where}", ""]
        return lines + ([*_fence(step["code"], step["lang"], "  "), ""] if step["code"] else [])
    targets = ", ".join(step["targets"])
    lines = [f"- [ ] {title} — on {targets}"]
    lines += [f"  - {flag}" for flag in _flags(step)]
    if step["description"]:
        lines += ["", f"  {step['description'].strip().replace(chr(10), chr(10) + '  ')}"]
    if step["expected_output"]:
        lines += ["", "  Expected output:", *_fence(step["expected_output"], "", "  ")]
    return lines + ["", *_fence(step["code"], step["lang"], "  "), ""]


# ---------------------------------------------------------------- Mermaid


def _label(text: str) -> str:
    """Mermaid-safe label text (entity codes for the characters its parser trips on)."""
    out = text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
    return out.replace(">", "#gt;").replace("\n", " ")


def _node_ids(steps: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Step id → a Mermaid-safe node id, readable (``port-owner`` → ``port_owner``) and unique."""
    nodes: dict[str, str] = {}
    used: set[str] = set()
    for step in steps:
        base = re.sub(r"\W", "_", step["id"], flags=re.ASCII) or "step"
        if base.lower() in ("end", "graph", "subgraph", "flowchart", "class", "style") or (
            base[0].isdigit()
        ):
            base = f"s_{base}"  # words and leading digits Mermaid would misread
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        nodes[step["id"]] = name
    return nodes


def plan_mermaid(doc: Mapping[str, Any]) -> str:
    """The step graph as a Mermaid flowchart; dangerous steps in red, manual ones dashed."""
    node = _node_ids(doc["steps"])
    lines = ["flowchart TD"]
    for i, step in enumerate(doc["steps"], 1):
        title = step["title"]
        label = _label(title if re.match(r"\d+[.)] ", title) else f"{i}. {title}")
        shape = '(["{}"])' if step["kind"] == "doc" else '["{}"]'
        lines.append(f"    {node[step['id']]}{shape.format(label)}")
    for src, dst in doc["edges"]:
        lines.append(f"    {node[src]} --> {node[dst]}")
    styled = {
        "danger": [node[s["id"]] for s in doc["steps"] if s["danger"]],
        "manual": [node[s["id"]] for s in doc["steps"] if s["kind"] == "manual"],
    }
    lines.append("    classDef danger fill:#fdd,stroke:#c00,stroke-width:2px")
    lines.append("    classDef manual stroke-dasharray: 5 5")
    for name, ids in styled.items():
        if ids:
            lines.append(f"    class {','.join(ids)} {name}")
    return "\n".join(lines) + "\n"

