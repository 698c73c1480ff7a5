"""Terminal renderings of a plan document: the numbered procedure and the step table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..stamps import spell_duration
from .highlight import Styled, code_block, flag_text

if TYPE_CHECKING:
    from rich.console import Console


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
    if step.get("timeout") and step.get("executable", True):
        flags.append(f"timeout {spell_duration(step['timeout'])}")
    if step.get("choice"):
        flags.append(f"choice {step['choice']}")
    if step.get("interpreter"):
        manual = step.get("kind") == "manual"
        flags.append(f"{'type into' if manual else 'fed to'} {step['interpreter']}")
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


def _variables_text(variables: Sequence[Mapping[str, Any]]) -> Styled:
    text = Styled("Variables\n", "bold")
    width = max(len(var["name"]) for var in variables)
    for var in variables:
        value = var.get("value")
        text.append(f"  {var['name']:<{width}}  ", "cyan")
        if value is None:
            text.append("(asked at run time)", "yellow")
        else:
            text.append(str(value))
        text.append(f"  {var.get('source') or ''}\n", "dim")
    return text


def _step_text(step: Mapping[str, Any], section: str, default: Sequence[str]) -> Styled:
    """One step; ``section`` only when it differs from the step before, the target only when
    it is not the runbook's default (said once in the header)."""
    text = Styled()
    if section:
        text.append(section + "\n", "bold")
    text.append(f"{step['index']}. {step.get('title') or step['id']}", "bold")
    text.append(f"  #{step['id']}  line {step['line']}", "dim")
    targets = step.get("targets") or ["local"]
    if list(targets) != list(default):
        text.append(f"  on {', '.join(targets)}", "bold")
    if step.get("needs"):
        text.append(f"  needs {', '.join(step['needs'])}", "dim")
    text.append("\n")
    flags = step_flags(step)
    if flags:
        text.extend(flag_text(flags))
        text.append("\n")
    if step.get("code"):
        text.extend(code_block(step["code"], step.get("lang") or ""))
        text.append("\n")
    if step.get("expected_output"):
        text.append("expected output:\n", "dim")
        text.append("  " + step["expected_output"].rstrip().replace("\n", "\n  ") + "\n",
                    style="dim")
    return text


def print_plan(doc: Mapping[str, Any], console: Console) -> None:
    """The whole procedure, numbered, with breadcrumbs, targets, flags and filled-in code."""
    console.print(plan_text(doc).to_rich(), soft_wrap=True, end="")


def plan_text(doc: Mapping[str, Any]) -> Styled:
    """The plan as one Styled run (``.plain`` for pipes and files)."""
    # One Text printed once, without wrapping: rich's per-renderable layout would cost more
    # than parsing the runbook (the plan of a seed must start as fast as a bare import).
    out = Styled()
    out.append((doc.get("title") or doc.get("path", "")) + "\n", "bold underline")
    default = doc.get("default_targets") or ["local"]
    out.append(f"{doc.get('path')} · {len(doc['steps'])} steps · "
               f"steps run on {', '.join(default)} unless they say otherwise\n\n", "dim")
    if doc.get("variables"):
        out.extend(_variables_text(doc["variables"]))
        out.append("\n")
    shown: str | None = None
    for step in doc["steps"]:
        section = " › ".join(step.get("section") or [])
        out.extend(_step_text(step, section if section != shown else "", default))
        shown = section
        out.append("\n")
    problems = doc.get("problems") or []
    if problems:
        out.append(f"{len(problems)} problem(s):\n", "bold yellow")
        for problem in problems:
            style = "red" if problem["severity"] == "error" else "yellow"
            out.append(f"  {problem_line(problem)}\n", style)
    return out


def problem_line(problem: Mapping[str, Any]) -> str:
    """``path:line: severity: message``, the way an editor or CI jumps to it."""
    return f"{problem.get('path')}:{problem['line']}: {problem['severity']}: {problem['message']}"


def print_step_table(doc: Mapping[str, Any], console: Console) -> None:
    """`runbook list`: index, id, title, target, flags."""
    from rich.table import Table
    from rich.text import Text

    # Text cells, never markup: a title such as "Reload [/etc/nginx]" must print as written
    table = Table(title=Text(doc.get("title") or ""), title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("id", "bold")
    table.add_column("title")
    table.add_column("target", "magenta")
    table.add_column("flags")
    for step in doc["steps"]:
        table.add_row(str(step["index"]), Text(step["id"]), Text(step.get("title") or ""),
                      Text(targets_text(step)), flag_text(step_flags(step)).to_rich())
    console.print(table)
