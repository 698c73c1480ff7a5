"""Loading a runbook for a command: parse, resolve variables, build the graph, select steps."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .graph import RESERVED, Graph, build_graph, select, step_templates
from .model import Runbook, Step
from .parse import load_runbook
from .safety import placeholders
from .template import variables_used
from .variables import Variable, initial_variables, parse_var_args


@dataclass(frozen=True)
class Selection:
    """Which steps a command works on (``--only``, ``--from``, ``--until``, ``--tag``, ...)."""

    only: tuple[str, ...] = ()
    from_: str | None = None
    until: str | None = None
    tags: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    granularity: str | None = None  # None: the runbook's own (front matter) or block

    def recorded(self, granularity: str) -> dict[str, Any]:
        """The selection as ``run_started`` records it (with the granularity actually used)."""
        return {"only": list(self.only), "from": self.from_, "until": self.until,
                "tags": list(self.tags), "sections": list(self.sections),
                "granularity": granularity}


@dataclass
class Loaded:
    """A runbook with its variables, graph and the selected steps."""

    runbook: Runbook
    variables: dict[str, Variable]
    graph: Graph
    steps: list[Step]
    cli_vars: dict[str, str]

    def warnings(self) -> list[str]:
        """``--var`` names nothing in the runbook uses (a typo would otherwise go unnoticed)."""
        used = {spec.name for spec in self.runbook.vars} | RESERVED
        for step in self.runbook.steps:
            used |= {name for text in step_templates(step) if "{" in text
                     for name in variables_used(text)}
            used.update(placeholders(step.code), *(placeholders(t) for t in step.on))
        return [f"warning: --var {name}: nothing in {self.runbook.path} uses it"
                for name in self.cli_vars if name not in used]


def load(book: str, var_items: Sequence[str] = (), selection: Selection = Selection(),
         environ: Mapping[str, str] | None = None) -> Loaded:
    """Parse, resolve variables, build the graph and select steps (no paramiko here)."""
    cli_vars = parse_var_args(var_items)
    runbook = load_runbook(book, granularity=selection.granularity)
    variables = initial_variables(runbook, cli_vars, os.environ if environ is None else environ)
    graph = build_graph(runbook, known=set(variables) | set(cli_vars))
    steps = select(graph, only=selection.only, from_=selection.from_, until=selection.until,
                   tags=selection.tags, sections=selection.sections)
    return Loaded(runbook, variables, graph, steps, cli_vars)
