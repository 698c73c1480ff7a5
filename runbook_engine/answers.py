"""What an operator's answer means, whoever asks (the terminal or the web page): the keys each
prompt accepts, the typed id of a dangerous step, a picked alternative, a value's default. The
controllers only read and show; the rules are here, once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .control import FailureView, QuitRun, StepView
from .folding import fold_names
from .model import VarSpec
from .redact import looks_secret

STEP_HELP = """y  run this step
n  skip it
e  edit the command first (in $EDITOR, or typed here when it is not set), then run it
a  run this and all remaining steps without asking (dangerous steps still ask)
q  quit the run
?  this help
#  a line starting with # is recorded as a note in the transcript"""

DANGER_HELP = """{id}  type the step's id to run it (nothing else runs a dangerous step)
e  edit the command first; the edited command asks for the id again
n  skip it (s too)
q  quit the run
?  this help
#  a line starting with # is recorded as a note in the transcript"""

FAILURE_HELP = """r  retry the step (on a fleet: only on the hosts it failed on)
a  retry on all its hosts, those it went well on too
e  edit the command, then retry (where it failed)
s  skip it and go on
q  quit the run
?  this help
#  a line starting with # is recorded as a note"""

MANUAL_HELP = """d  done (y too)
n  not done (it stays an open item)
s  skip
q  quit the run
?  this help
#  a line starting with # is recorded as a note"""

DRIFT_HELP = """g  go on: the output is fine as it is (y too)
n  go on, and write a note about it for the transcript (why it differs, what to update)
r  run the step again
e  edit the command, then run it again
q  quit the run
?  this help
#  a line starting with # is recorded as a note"""

DRIFT_PROMPT = "Output differs from the runbook. Go on? [g/n/r/e/q/?]"

STEP_KEYS = {"y": "run", "yes": "run", "n": "skip", "no": "skip", "e": "edit", "a": "all",
             "q": "quit"}
#: a dangerous step runs only when its id is typed; these keys do the rest (no "all", no "y")
DANGEROUS_KEYS = {"n": "skip", "no": "skip", "s": "skip", "q": "quit", "e": "edit"}
FAILURE_KEYS = {"r": "retry", "a": "retry_all", "e": "edit", "s": "skip", "q": "quit"}
MANUAL_KEYS = {"d": "done", "y": "done", "n": "not_done", "s": "skip", "q": "quit"}
#: the step ran well but printed something else than its runbook shows
DRIFT_KEYS = {"g": "go_on", "y": "go_on", "n": "note", "r": "retry", "e": "edit", "q": "quit"}
HELP_WORDS = frozenset({"?", "h", "help"})


@dataclass(frozen=True)
class Reading:
    """An answer read from what the operator typed: ``answer`` (None: not an answer), or the
    ``problem`` to show before asking again; ``help`` when they asked for it."""

    answer: str | None = None
    problem: str = ""
    help: bool = False


def step_prompt(view: StepView) -> str:
    """The question a step asks: its own ``confirm`` text (values filled in), how to answer."""
    step = view.step
    custom = view.confirm or (step.confirm if isinstance(step.confirm, str) else "")
    if view.danger:
        return (f"{custom + ' ' if custom else ''}Type {step.id} to run this dangerous step "
                f"(n skip, e edit, q quit):")
    return f"{custom or 'Run this step?'} [y/n/e/a/q/?]"


def step_help(view: StepView) -> str:
    """The help of a step's prompt: exactly the keys that prompt takes."""
    return DANGER_HELP.format(id=view.step.id) if view.danger else STEP_HELP


def read_step(view: StepView, typed: str) -> Reading:
    """run / skip / edit / all / quit. A dangerous step runs only on its exact id."""
    text = typed.strip()
    if view.danger:
        if text == view.step.id:
            return Reading("run")
        return _keyed(text.lower(), DANGEROUS_KEYS,
                      f"this step is dangerous: type its id '{view.step.id}' to run it")
    return _keyed(text.lower(), STEP_KEYS, _one_of(STEP_KEYS))


def failure_prompt(view: FailureView) -> str:
    """The failure menu's question; on some hosts of a fleet it says where (their names
    folded, ``web[02-03]``) and that ``r`` retries there only."""
    if not view.partial:
        return "Step failed. [r/e/s/q/?]"
    where = fold_names(view.failed_hosts)
    return (f"Step failed on {where} ({len(view.failed_hosts)} of {view.hosts} hosts); "
            "r retries there only. [r/a/e/s/q/?]")


def read_failure(typed: str) -> Reading:
    return _keyed(typed.strip().lower(), FAILURE_KEYS, _one_of(FAILURE_KEYS))


def read_manual(typed: str) -> Reading:
    return _keyed(typed.strip().lower(), MANUAL_KEYS, _one_of(MANUAL_KEYS))


def read_drift(typed: str) -> Reading:
    return _keyed(typed.strip().lower(), DRIFT_KEYS, _one_of(DRIFT_KEYS))


def read_choice(typed: str, options: int) -> int | None:
    """The index of the picked alternative, or None for none of them; ValueError for anything
    else (the message says what to type); ``q`` quits the run, as at any other prompt."""
    answer = typed.strip().lower()
    if answer.isdigit() and 1 <= int(answer) <= options:
        return int(answer) - 1
    if answer in ("n", "none", "s"):
        return None
    if answer == "q":
        raise QuitRun
    raise ValueError(f"answer a number from 1 to {options}, or n")


def choice_prompt(options: int) -> str:
    return f"Which one? [1-{options}/n/q]"


def edited_command(text: str | None) -> str | None:
    """An edited command to run, or None when nothing is left of it (ask again)."""
    return text if text is not None and text.strip() else None


EMPTY_EDIT = "the edited command is empty: asking again"


def var_label(spec: VarSpec) -> str:
    """How a value is asked for: its prompt, choices and default."""
    label = spec.prompt or f"Value for {spec.name}"
    if spec.choices:
        label += f" ({'/'.join(spec.choices)})"
    if spec.has_default and not spec.secret:
        label += f" [{spec.default}]"
    return label + ":"


def var_value(spec: VarSpec, typed: str) -> str:
    """The value given: what was typed, or the default for an empty answer."""
    if not typed and spec.has_default:
        return str(spec.default)
    return typed


def env_label(spec: VarSpec) -> str:
    """How an unset environment variable is offered: the runbook's prompt when it has one."""
    if spec.prompt:
        return f"{spec.prompt} (sets ${spec.name} for this run; empty: leave unset):"
    return f"Set {spec.name} for this run (empty: leave unset):"


def env_is_secret(spec: VarSpec) -> bool:
    """An environment variable whose value is read without echo (and masked once set)."""
    return spec.secret or looks_secret(spec.name)


def empty_problem(spec: VarSpec, value: str) -> str | None:
    """Why an empty answer is refused: a placeholder (or a required value) left empty would
    run the command with a hole in it (``kill -9 ''``)."""
    if value or not (spec.placeholder or spec.required):
        return None
    shown = f"<{spec.name}>" if spec.placeholder else spec.name
    return f"{shown} needs a value: the command would run with an empty one"


def env_values(typed: Mapping[str, str]) -> dict[str, str]:
    """The variables set: an empty answer leaves a variable unset."""
    return {name: value for name, value in typed.items() if value}


def note_text(typed: str) -> str | None:
    """A line starting with ``#`` at any prompt is a note for the record: its text."""
    text = typed.strip()
    return text.lstrip("#").strip() if text.startswith("#") else None


def _keyed(key: str, keys: Mapping[str, str], problem: str) -> Reading:
    if key in keys:
        return Reading(keys[key])
    if key in HELP_WORDS:
        return Reading(help=True)
    return Reading(problem=problem)


def _one_of(keys: Mapping[str, str]) -> str:
    return f"please answer one of {'/'.join(sorted(set(keys)))}"
