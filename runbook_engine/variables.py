"""Initial variable resolution: ``--var`` beats the declared env variable beats the default."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import lazyre, regexes
from .model import Runbook, RunbookError, UsageError, VarSpec
from .redact import MASK, looks_secret

_NAME_RE = lazyre.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass
class Variable:
    """A variable's current value and where it came from (cli/env/default/prompt/capture/...)."""

    name: str
    value: Any
    source: str
    secret: bool = False

    @property
    def display(self) -> str:
        return MASK if self.secret else str(self.value)

    def as_dict(self) -> dict[str, Any]:
        """The masked form used in plan documents and events."""
        value = MASK if self.secret and self.value is not None else self.value
        return {"name": self.name, "source": self.source, "secret": self.secret, "value": value}


def parse_var_args(items: Iterable[str]) -> dict[str, str]:
    """``--var k=v`` arguments into a dict (the last one wins); UsageError for anything else."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not _NAME_RE.match(name):
            raise UsageError(f"--var expects NAME=VALUE, got {item!r}")
        result[name] = value
    return result


def validate(spec: VarSpec, value: str) -> str | None:
    """Why ``value`` is not acceptable for ``spec`` (choices, pattern), or None when it is."""
    text = "" if value is None else str(value)
    got = "" if spec.secret else f" (got {text!r})"  # never echo a secret back
    if spec.choices and text not in [str(c) for c in spec.choices]:
        return f"variable '{spec.name}' must be one of {', '.join(map(str, spec.choices))}{got}"
    if spec.pattern:
        try:
            matched = regexes.search(spec.pattern, text, whole=True) is not None
        except re.error as exc:
            return f"variable '{spec.name}' has a bad pattern {spec.pattern!r}: {exc}"
        except regexes.PatternTimeout as exc:
            return f"variable '{spec.name}': {exc}"
        if not matched:
            return f"variable '{spec.name}' must match {spec.pattern!r}{got}"
    return None


def initial_variables(runbook: Runbook, cli_vars: Mapping[str, str],
                      environ: Mapping[str, str]) -> dict[str, Variable]:
    """Variables whose value is known before the run starts, strongest source first."""
    result: dict[str, Variable] = {}
    for spec in runbook.vars:
        found = _resolve(spec, cli_vars, environ)
        if found is None:
            continue
        value, source = found
        problem = validate(spec, value)
        if problem:
            origin = {"cli": "--var", "env": f"${spec.env}", "default": "the default"}[source]
            raise RunbookError(f"{problem} from {origin}", path=runbook.path, line=spec.line)
        result[spec.name] = Variable(spec.name, value, source, secret=spec.secret)
    secret_captures = {s.capture for s in runbook.steps if s.secret and s.capture}
    for name, value in cli_vars.items():
        # placeholders and names the runbook does not declare are still settable; a secret
        # capture given again (say, on --resume) stays a secret
        if name not in result:
            secret = looks_secret(name) or name in secret_captures
            result[name] = Variable(name, value, "cli", secret=secret)
    return result


def keep_secret(variables: Mapping[str, Variable], secret_names: Iterable[str]) -> None:
    """Variables an earlier session of the run recorded as secrets stay secrets when given again
    (a ``$RUNBOOK_OUTPUT`` secret passed with ``--var`` on ``--resume``)."""
    for name in secret_names:
        if name in variables:
            variables[name].secret = True


def _resolve(spec: VarSpec, cli_vars: Mapping[str, str],
             environ: Mapping[str, str]) -> tuple[Any, str] | None:
    if spec.name in cli_vars:
        return cli_vars[spec.name], "cli"
    if spec.env and spec.env in environ:
        return environ[spec.env], "env"
    if spec.has_default:
        return spec.default, "default"
    return None


def context(variables: Mapping[str, Variable]) -> dict[str, Any]:
    """A template context: each variable by name, and all of them under ``vars``."""
    values = {name: var.value for name, var in variables.items()}
    return {**values, "vars": dict(values)}
