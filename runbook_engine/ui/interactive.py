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

from .. import answers
from ..answers import DRIFT_HELP, FAILURE_HELP, MANUAL_HELP, STEP_HELP, Reading
from ..control import Answer, DriftView, FailureView, StepView
from ..model import Step, VarSpec
from .display import TerminalDisplay
from .highlight import code_block, flag_text

#: records an operator's note (a line starting with ``#`` at any prompt) about a step (or None)
NoteTaker = Callable[[str, str | None], None]


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
            note = answers.note_text(line)
            if note is not None:
                self.note(note, self._step)
                self.console.print(Text("  note recorded", style="dim"))
                continue
            return line.strip()

    def _ask(self, prompt: str, read: Callable[[str], Reading], help_text: str) -> str:
        """Ask until ``read`` (the shared rules of answers.py) finds an answer in the line."""
        while True:
            reading = read(self._read(prompt))
            if reading.answer is not None:
                return reading.answer
            if reading.help:
                self.console.print(Text(help_text, style="dim"))
            else:
                self.console.print(Text(f"  {reading.problem}", style="yellow"))

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
        prompt = answers.step_prompt(view)
        while True:
            answer = self._ask(prompt, lambda typed: answers.read_step(view, typed), STEP_HELP)
            if answer != "edit":
                return Answer(answer, prompt=prompt)
            edited = answers.edited_command(self._edit_text(view.editable or view.command))
            if edited is not None:
                return Answer("edit", command=edited, prompt=prompt)
            self.console.print(Text(f"  {answers.EMPTY_EDIT}", style="yellow"))

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
        prompt = answers.failure_prompt(view)
        answer = self._ask(prompt, answers.read_failure, FAILURE_HELP)
        if answer == "edit":
            edited = self._edit_text(view.editable or view.step.code)
            return Answer("edit", command=edited, prompt=prompt)
        return Answer(answer, prompt=prompt)

    def ask_drift(self, view: DriftView) -> Answer:
        """The step ran well but printed something else than its runbook shows (the diff is on
        the screen already): go on, note why, retry, edit or quit. It never fails the step."""
        self.display.pause()
        self._step = view.step.id
        prompt = answers.DRIFT_PROMPT
        answer = self._ask(prompt, answers.read_drift, DRIFT_HELP)
        if answer == "note":
            text = self._read("Note:").strip()
            if text and text.lower() != "q":
                self.note(text, view.step.id)
                self.console.print(Text("  note recorded", style="dim"))
        if answer == "edit":
            edited = answers.edited_command(self._edit_text(view.editable or view.step.code))
            if edited is not None:
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
        return Answer(self._ask(prompt, answers.read_manual, MANUAL_HELP), prompt=prompt)

    def ask_choice(self, options: Sequence[StepView]) -> int | None:
        self.display.pause()
        self._step = options[0].step.id if options else None
        self.console.print()
        self.console.print(Text("Alternatives — pick one:", style="bold"))
        for number, view in enumerate(options, 1):
            self.console.print(Text(f"  {number}) {view.step.title}", style="bold"))
            self.console.print(code_block(view.command, view.step.lang).to_rich())
        prompt = answers.choice_prompt(len(options))
        while True:
            try:
                return answers.read_choice(self._read(prompt), len(options))
            except ValueError as problem:
                self.console.print(Text(f"  {problem}", style="yellow"))

    def ask_var(self, spec: VarSpec) -> str:
        self.display.pause()
        label = answers.var_label(spec)
        return answers.var_value(spec, self._secret(label) if spec.secret else self._read(label))

    def ask_env(self, names: Sequence[str]) -> Mapping[str, str]:
        self.display.pause()
        self.console.print(Text(f"This step reads unset environment variables: {', '.join(names)}",
                                style="yellow"))
        typed = {}
        for name in names:
            label = answers.env_label(name)
            typed[name] = self._secret(label) if answers.env_is_secret(name) else self._read(label)
        return answers.env_values(typed)
