"""Terminal renderings of a plan document: the numbered procedure and the step table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from .console import code_block, flag_text


def step_flags(step: Mapping[str, Any]) -> list[str]:
    """Short flags for one plan step: confirm, danger, capture, when, timeout, kind."""
    flags: list[str] = []
    if step.get("kind") == "manual":
        flags.append("manual")
    elif not step.get("executable", True):
        flags.append("doc")
    if step.get("confirm"):
        confirm = step["confirm"]
        flags.append("confirm" if confirm is True else f"confirm: {confirm}")
    for reason in step.get("danger") or []:
        flags.append(f"danger: {reason}")
    if step.get("capture"):
        flags.append(f"capture={step['capture']}")
    if step.get("when"):
        flags.append(f"when {step['when']}")
    if step.get("timeout"):
        flags.append(f"timeout {step['timeout']:g}s")
    if step.get("choice"):
        flags.append(f"choice {step['choice']}")
    if step.get("interpreter"):
        flags.append(f"fed to {step['interpreter']}")
    if step.get("interactive"):
        flags.append("interactive")
    for key in ("needs_terminal", "runs_until_stopped"):
        if step.get(key):
            flags.append(step[key])
    if step.get("env"):
        flags.append(f"reads ${', $'.join(step['env'])}")
    return flags


def targets_text(step: Mapping[str, Any]) -> str:
    return ", ".join(step.get("targets") or ["local"])


def _variables_table(variables: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="Variables", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("name", style="bold")
    table.add_column("value")
    table.add_column("source", style="dim")
    for var in variables:
        value = var.get("value")
        shown = Text("(asked at run time)", style="yellow") if value is None else Text(str(value))
        table.add_row(var["name"], shown, var.get("source") or "")
    return table


def _step_block(step: Mapping[str, Any]) -> Group:
    section = " › ".join(step.get("section") or [])
    head = Text()
    head.append(f"{step['index']}. ", style="bold")
    head.append(step.get("title") or step["id"], style="bold")
    head.append(f"  #{step['id']}", style="dim")
    head.append(f"  line {step['line']}", style="dim")
    parts: list[Any] = []
    if section:
        parts.append(Text(section, style="dim italic"))
    parts.append(head)
    meta = Text()
    meta.append(f"on {targets_text(step)}", style="magenta")
    if step.get("needs"):
        meta.append(f"  needs {', '.join(step['needs'])}", style="dim")
    parts.append(meta)
    flags = step_flags(step)
    if flags:
        parts.append(flag_text(flags))
    if step.get("code"):
        parts.append(Padding(code_block(step["code"], step.get("lang") or ""), (0, 0, 0, 2)))
    if step.get("expected_output"):
        parts.append(Text("expected output:", style="dim"))
        parts.append(Padding(Text(step["expected_output"].rstrip(), style="dim"), (0, 0, 0, 2)))
    return Group(*parts)


def print_plan(doc: Mapping[str, Any], console: Console) -> None:
    """The whole procedure, numbered, with breadcrumbs, targets, flags and filled-in code."""
    console.print(Text(doc.get("title") or doc.get("path", ""), style="bold underline"))
    console.print(Text(f"{doc.get('path')} · {len(doc['steps'])} steps", style="dim"))
    if doc.get("variables"):
        console.print(_variables_table(doc["variables"]))
    console.print()
    for step in doc["steps"]:
        console.print(_step_block(step))
        console.print()
    problems = doc.get("problems") or []
    if problems:
        console.print(Text(f"{len(problems)} problem(s):", style="bold yellow"))
        for problem in problems:
            style = "red" if problem["severity"] == "error" else "yellow"
            console.print(
                Text(f"  line {problem['line']}: {problem['severity']}: {problem['message']}",
                     style=style)
            )


def print_step_table(doc: Mapping[str, Any], console: Console) -> None:
    """`runbook list`: index, id, title, target, flags."""
    table = Table(title=doc.get("title"), title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("id", style="bold")
    table.add_column("title")
    table.add_column("target", style="magenta")
    table.add_column("flags")
    for step in doc["steps"]:
        table.add_row(str(step["index"]), step["id"], step.get("title") or "", targets_text(step),
                      flag_text(step_flags(step)))
    console.print(table)
