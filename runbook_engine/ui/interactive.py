"""The terminal Controller: shows each step and reads the operator's answer."""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from rich.console import Console
from rich.text import Text

from ..control import Answer, DriftView, FailureView, QuitRun, StepView
from ..model import Step, VarSpec
from ..redact import looks_secret
from .display import TerminalDisplay
from .highlight import code_block, flag_text

#: records an operator's note (a line starting with ``#`` at any prompt) about a step (or None)
NoteTaker = Callable[[str, str | None], None]

STEP_HELP = """y  run this step
n  skip it
e  edit the command first (in $EDITOR), then run the edited text
a  run this and all remaining steps without asking (dangerous steps still ask)
q  quit the run
?  this help
#  a line starting with # is recorded as a note in the transcript"""

FAILURE_HELP = """r  retry the step
e  edit the command, then retry
s  skip it and go on
q  quit the run
#  a line starting with # is recorded as a note"""

MANUAL_HELP = """d  done
n  not done (it stays an open item)
s  skip
q  quit the run
#  a line starting with # is recorded as a note"""

DRIFT_HELP = """g  go on: the output is fine as it is
n  go on, and write a note about it for the transcript (why it differs, what to update)
r  run the step again
e  edit the command, then run it again
q  quit the run
#  a line starting with # is recorded as a note"""

DRIFT_KEYS = {"g": "go_on", "y": "go_on", "n": "note", "r": "retry", "e": "edit", "q": "quit"}
STEP_KEYS = {"y": "run", "yes": "run", "n": "skip", "no": "skip", "e": "edit", "a": "all",
             "q": "quit"}
FAILURE_KEYS = {"r": "retry", "e": "edit", "s": "skip", "q": "quit"}
MANUAL_KEYS = {"d": "done", "y": "done", "n": "not_done", "s": "skip", "q": "quit"}


class LineInput(Protocol):
    """Where answers come from: a terminal's stdin (or nothing, for the --yes display)."""

    def readline(self) -> str: ...

    def isatty(self) -> bool: ...


class InteractiveController:
    """Asks on a terminal. ``input`` is read line by line; ``console`` is where everything goes;
    the ``display`` shows the run's events on the same console (its spinner stops for a prompt);
    ``note`` records what the operator types after ``#``."""

    def __init__(self, console: Console, input: LineInput, *, display: TerminalDisplay,
                 note: NoteTaker, editor: str | None = None) -> None:
        self.console = console
        self.input = input
        self.display = display
        self.note = note
        self.editor = editor if editor is not None else os.environ.get("EDITOR", "")
        self._step: str | None = None  # the step being asked about, for notes

    # -- reading ---------------------------------------------------------------------------
    def _read(self, prompt: str) -> str:
        """One line from the operator; '#' lines become notes; EOF means quit."""
        while True:
            self.console.print(Text(prompt, style="bold"), end=" ")
            line = self.input.readline()
            if not line:
                self.console.print()
                return "q"
            answer = line.strip()
            if answer.startswith("#"):
                self.note(answer.lstrip("#").strip(), self._step)
                self.console.print(Text("  note recorded", style="dim"))
                continue
            return answer

    def _ask_key(self, prompt: str, keys: Mapping[str, str], help_text: str) -> str:
        while True:
            answer = self._read(prompt).lower()
            if answer in keys:
                return keys[answer]
            if answer in ("?", "h", "help"):
                self.console.print(Text(help_text, style="dim"))
                continue
            self.console.print(Text(f"  please answer one of {'/'.join(sorted(set(keys)))}",
                                    style="yellow"))

    def _secret(self, prompt: str) -> str:
        if self.input.isatty():
            return getpass.getpass(prompt + " ")
        self.console.print(Text(prompt, style="bold"), end=" ")
        return self.input.readline().rstrip("\n")

    # -- showing ---------------------------------------------------------------------------
    def _show_step(self, view: StepView) -> None:
        step = view.step
        self.console.print()
        if step.section:
            self.console.print(Text(" › ".join(step.section), style="dim italic"))
        head = Text()
        head.append(f"{step.index}. {step.title}", style="bold")
        head.append(f"  #{step.id}  {step.location}", style="dim")
        self.console.print(head)
        if step.description and step.description != step.title:
            self.console.print(Text(step.description, style="italic"))
        self.console.print(Text(f"on {', '.join(view.targets) or 'local'}", style="magenta"))
        flags = list(view.flags) + [f"danger: {reason}" for reason in view.danger]
        if flags:
            self.console.print(flag_text(flags).to_rich())
        if step.interpreter:
            self.console.print(Text(f"fed on stdin to: {step.interpreter}", style="cyan"))
        if view.command:
            self.console.print(code_block(view.command, step.lang).to_rich())
        if view.expected_output:
            self.console.print(Text("expected output:", style="dim"))
            self.console.print(Text(view.expected_output.rstrip(), style="dim"))
        if view.missing_env:
            self.console.print(Text(f"unset environment: {', '.join(view.missing_env)}",
                                    style="yellow"))

    # -- Controller protocol ----------------------------------------------------------------
    def ask_step(self, view: StepView) -> Answer:
        self.display.pause()
        self._step = view.step.id
        self._show_step(view)
        step = view.step
        custom = step.confirm if isinstance(step.confirm, str) and step.confirm else ""
        while True:
            if view.danger:
                prompt = (f"{custom + ' ' if custom else ''}Type {step.id} to run this dangerous "
                          f"step (n skip, e edit, q quit):")
                answer = self._ask_dangerous(step.id, prompt)
            else:
                prompt = f"{custom or 'Run this step?'} [y/n/e/a/q/?]"
                answer = self._ask_key(prompt, STEP_KEYS, STEP_HELP)
            if answer != "edit":
                return Answer(answer, prompt=prompt)
            edited = self._edit_text(view.editable or view.command)
            if edited and edited.strip():
                return Answer("edit", command=edited, prompt=prompt)
            self.console.print(Text("  the edited command is empty: asking again", style="yellow"))

    def _ask_dangerous(self, step_id: str, prompt: str) -> str:
        while True:
            answer = self._read(prompt)
            if answer == step_id:
                return "run"
            key = answer.lower()
            if key in ("n", "no", "s"):
                return "skip"
            if key in ("q", "e"):
                return {"q": "quit", "e": "edit"}[key]
            if key in ("?", "help"):
                self.console.print(Text(STEP_HELP, style="dim"))
                continue
            self.console.print(Text(f"  this step is dangerous: type its id '{step_id}' to run it",
                                    style="yellow"))

    def _edit_text(self, text: str) -> str | None:
        if self.editor:
            with tempfile.NamedTemporaryFile("w+", suffix=".sh", delete=False) as handle:
                handle.write(text)
                name = handle.name
            try:
                subprocess.run([*shlex.split(self.editor), name], check=False)
                with open(name, encoding="utf-8") as handle:
                    return handle.read()
            finally:
                os.unlink(name)
        self.console.print(Text("Enter the command to run; end with an empty line:", style="bold"))
        lines: list[str] = []
        while True:
            line = self.input.readline()
            if not line or not line.strip():
                break
            lines.append(line.rstrip("\n"))
        return "\n".join(lines) + "\n" if lines else text

    def ask_failure(self, view: FailureView) -> Answer:
        self.display.pause()
        self._step = view.step.id
        reason = view.reason or view.status
        self.console.print(Text(f"✗ {view.step.id} {view.status}: {reason}", style="bold red"))
        prompt = "Step failed. [r/e/s/q/?]"
        answer = self._ask_key(prompt, FAILURE_KEYS, FAILURE_HELP)
        if answer == "edit":
            edited = self._edit_text(view.editable or view.step.code)
            return Answer("edit", command=edited, prompt=prompt)
        return Answer(answer, prompt=prompt)

    def ask_drift(self, view: DriftView) -> Answer:
        """The step ran well but printed something else than its runbook shows (the diff is on
        the screen already): go on, note why, retry, edit or quit. It never fails the step."""
        self.display.pause()
        self._step = view.step.id
        prompt = "Output differs from the runbook. Go on? [g/n/r/e/q/?]"
        answer = self._ask_key(prompt, DRIFT_KEYS, DRIFT_HELP)
        if answer == "note":
            text = self._read("Note:").strip()
            if text and text.lower() != "q":
                self.note(text, view.step.id)
                self.console.print(Text("  note recorded", style="dim"))
        if answer == "edit":
            edited = self._edit_text(view.editable or view.step.code)
            if edited and edited.strip():
                return Answer("edit", command=edited, prompt=prompt)
            return Answer("retry", prompt=prompt)
        return Answer(answer, prompt=prompt)

    def ask_manual(self, step: Step) -> Answer:
        self.display.pause()
        self._step = step.id
        self.console.print()
        if step.section:
            self.console.print(Text(" › ".join(step.section), style="dim italic"))
        self.console.print(Text(f"{step.index}. ☐ {step.title}", style="bold"))
        if step.code.strip():  # code the operator types or pastes (SQL without a client...)
            where = f" (in {step.interpreter})" if step.interpreter else ""
            self.console.print(Text(f"Do this yourself{where}:", style="dim"))
            self.console.print(code_block(step.code, step.lang).to_rich())
        prompt = "Manual step. Done? [d/n/s/q/?]"
        return Answer(self._ask_key(prompt, MANUAL_KEYS, MANUAL_HELP), prompt=prompt)

    def ask_choice(self, options: Sequence[StepView]) -> int | None:
        self.display.pause()
        self._step = options[0].step.id if options else None
        self.console.print()
        self.console.print(Text("Alternatives — pick one:", style="bold"))
        for number, view in enumerate(options, 1):
            self.console.print(Text(f"  {number}) {view.step.title}", style="bold"))
            self.console.print(code_block(view.command, view.step.lang).to_rich())
        prompt = f"Which one? [1-{len(options)}/n/q]"
        while True:
            answer = self._read(prompt).lower()
            if answer.isdigit() and 1 <= int(answer) <= len(options):
                return int(answer) - 1
            if answer in ("n", "none", "s"):
                return None
            if answer == "q":
                raise QuitRun  # like q at any other prompt: the run ends as aborted
            self.console.print(Text(f"  answer a number from 1 to {len(options)}, or n",
                                    style="yellow"))

    def ask_var(self, spec: VarSpec) -> str:
        self.display.pause()
        label = spec.prompt or f"Value for {spec.name}"
        if spec.choices:
            label += f" ({'/'.join(spec.choices)})"
        if spec.has_default:
            label += f" [{spec.default}]"
        label += ":"
        answer = self._secret(label) if spec.secret else self._read(label)
        if not answer and spec.has_default:
            return str(spec.default)
        return answer

    def ask_env(self, names: Sequence[str]) -> Mapping[str, str]:
        self.display.pause()
        self.console.print(Text(f"This step reads unset environment variables: {', '.join(names)}",
                                style="yellow"))
        values: dict[str, str] = {}
        for name in names:
            label = f"Set {name} for this run (empty: leave unset):"
            value = self._secret(label) if looks_secret(name) else self._read(label)
            if value:
                values[name] = value
        return values
