"""The terminal Controller: shows each step and reads the operator's answer."""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import subprocess
import tempfile
import termios
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from rich.console import Console
from rich.text import Text

from .. import answers
from ..answers import DRIFT_HELP, FAILURE_HELP, MANUAL_HELP, Reading
from ..control import Answer, DriftView, FailureView, QuitRun, StepView
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
        self._headed: str | None = None  # the step whose header is on the screen
        self._described: str | None = None  # ... and whose description is
        self._shown: str | None = None  # ... and whose command is
        self._section: tuple[str, ...] = ()  # the breadcrumbs shown last
        self._all = False  # the operator answered "all": steps get their one-line header only

    # -- reading ---------------------------------------------------------------------------
    def _discard_typeahead(self) -> None:
        """What was typed before a question showed is no answer to it: a ``y`` typed while a
        step ran must not answer the next step (it would show no prompt, or run it)."""
        fileno = getattr(self.input, "fileno", None)
        if fileno is None or not self.input.isatty():
            return
        with contextlib.suppress(OSError, ValueError, termios.error):
            termios.tcflush(fileno(), termios.TCIFLUSH)

    def _read(self, prompt: str) -> str | None:
        """One line from the operator ('#' lines become notes); None at end of input."""
        while True:
            self._discard_typeahead()
            self.console.print(Text(prompt, style="bold"), end=" ")
            line = self.input.readline()
            if not line:
                self.console.print()
                return None
            note = answers.note_text(line)
            if note is not None:
                self.note(note, self._step)
                self.console.print(Text("  note recorded", style="dim"))
                continue
            return line.strip()

    def _ask(self, prompt: str, read: Callable[[str], Reading], help_text: str) -> str:
        """Ask until ``read`` (the shared rules of answers.py) finds an answer in the line; the
        end of input quits."""
        while True:
            typed = self._read(prompt)
            reading = read("q" if typed is None else typed)
            if reading.answer is not None:
                return reading.answer
            if reading.help:
                self.console.print(Text(help_text, style="dim"))
            else:
                self.console.print(Text(f"  {reading.problem}", style="yellow"))

    def _value(self, prompt: str, secret: bool) -> str:
        """A value: typed without echo when it is (or will be) a secret; the end of input
        quits the run (never a value of "q")."""
        if not secret:
            typed = self._read(prompt)
        elif self.input.isatty():
            self._discard_typeahead()
            try:
                typed = getpass.getpass(prompt + " ")
            except EOFError:
                typed = None
        else:
            self.console.print(Text(prompt, style="bold"), end=" ")
            line = self.input.readline()
            typed = line.rstrip("\n") if line else None
        if typed is None:
            raise QuitRun
        return typed

    # -- showing ---------------------------------------------------------------------------
    def _header(self, step: Step, mark: str = "") -> None:
        """The step's one-line header (its section's breadcrumbs above it when they change)."""
        self.console.print()
        if step.section and step.section != self._section:
            self.console.print(Text(" › ".join(step.section), style="dim italic"))
        self._section = step.section
        head = Text()
        head.append(f"{step.index}. {mark}{step.title}", style="bold")
        head.append(f"  #{step.id}  {step.location}", style="dim")
        self.console.print(head, soft_wrap=True)  # one line, whatever rich thinks the width is
        self._headed = step.id

    def _show_step(self, view: StepView) -> None:
        step = view.step
        if self._headed != step.id:
            self._header(step)
        elif self._shown == step.id:  # asked again after an edit: what runs now
            self.console.print(Text("edited:", style="bold"))
        self._shown = step.id
        if step.description and step.description != step.title and self._described != step.id:
            self.console.print(Text(step.description, style="italic"))
        self._described = step.id
        if view.targets and view.targets != ("local",):
            self.console.print(Text(f"on {', '.join(view.targets)}", style="bold"))
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
    def begin_step(self, step: Step) -> None:
        """The header first: any value asked for the step comes after it (after ``a`` too,
        where it is all there is of the step before its output)."""
        self.display.pause()
        self._step = step.id
        self._header(step)
        if step.description and step.description != step.title and not self._all:
            self.console.print(Text(step.description, style="italic"))
            self._described = step.id

    def ask_step(self, view: StepView) -> Answer:
        self.display.pause()
        self._step = view.step.id
        self._show_step(view)
        prompt = answers.step_prompt(view)
        while True:
            answer = self._ask(prompt, lambda typed: answers.read_step(view, typed),
                               answers.step_help(view))
            if answer != "edit":
                self._all = self._all or answer == "all"
                return Answer(answer, prompt=prompt)
            edited = self._edit(view.editable or view.command)
            if edited is not None:
                return Answer("edit", command=edited, prompt=prompt)

    def _edit(self, text: str) -> str | None:
        """The edited command, or None (said why in one line) when the step stays as it was:
        the editor failed or is missing, or nothing is left of the command."""
        if self.editor:
            edited, problem = self._in_editor(text)
        else:
            edited, problem = self._inline(), "nothing typed"
        result = answers.edited_command(edited)
        if result is None:
            self.console.print(Text(f"  {problem or answers.EMPTY_EDIT}: the step is unchanged",
                                    style="yellow"))
        return result

    def _in_editor(self, text: str) -> tuple[str | None, str]:
        with tempfile.NamedTemporaryFile("w+", suffix=".sh", delete=False) as handle:
            handle.write(text)
            name = handle.name
        try:
            argv = [*shlex.split(self.editor), name]
            try:
                done = subprocess.run(argv, check=False)
            except OSError as exc:
                return None, f"cannot start the editor {argv[0]!r} ($EDITOR): {exc.strerror}"
            if done.returncode != 0:
                return None, f"the editor {argv[0]!r} exited with status {done.returncode}"
            with open(name, encoding="utf-8") as handle:
                return handle.read(), ""
        finally:
            os.unlink(name)

    def _inline(self) -> str | None:
        self.console.print(Text("Enter the command to run; end with an empty line "
                                "(an empty first line keeps the step as it is):", style="bold"))
        lines: list[str] = []
        while True:
            line = self.input.readline()
            if not line or not line.strip():
                break
            lines.append(line.rstrip("\n"))
        return "\n".join(lines) + "\n" if lines else None

    def ask_failure(self, view: FailureView) -> Answer:
        self.display.pause()
        self._step = view.step.id
        said = f": {view.reason}" if view.reason and view.reason != view.status else ""
        self.console.print(Text(f"✗ {view.step.id} {view.status}{said}", style="bold red"))
        prompt = answers.failure_prompt(view)
        while True:
            answer = self._ask(prompt, answers.read_failure, FAILURE_HELP)
            if answer != "edit":
                return Answer(answer, prompt=prompt)
            edited = self._edit(view.editable or view.step.code)
            if edited is not None:
                return Answer("edit", command=edited, prompt=prompt)

    def ask_drift(self, view: DriftView) -> Answer:
        """The step ran well but printed something else than its runbook shows (the diff is on
        the screen already): go on, note why, retry, edit or quit. It never fails the step."""
        self.display.pause()
        self._step = view.step.id
        prompt = answers.DRIFT_PROMPT
        while True:
            answer = self._ask(prompt, answers.read_drift, DRIFT_HELP)
            if answer == "note":
                text = (self._read("Note:") or "").strip()
                if text and text.lower() != "q":
                    self.note(text, view.step.id)
                    self.console.print(Text("  note recorded", style="dim"))
            if answer != "edit":
                return Answer(answer, prompt=prompt)
            edited = self._edit(view.editable or view.step.code)
            if edited is not None:
                return Answer("edit", command=edited, prompt=prompt)

    def ask_manual(self, step: Step) -> Answer:
        self.display.pause()
        self._step = step.id
        self._header(step, mark="☐ ")
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
                return answers.read_choice(self._read(prompt) or "q", len(options))
            except ValueError as problem:
                self.console.print(Text(f"  {problem}", style="yellow"))

    def ask_var(self, spec: VarSpec) -> str:
        self.display.pause()
        return answers.var_value(spec, self._value(answers.var_label(spec), spec.secret))

    def ask_env(self, specs: Sequence[VarSpec]) -> Mapping[str, str]:
        self.display.pause()
        names = ", ".join(spec.name for spec in specs)
        self.console.print(Text(f"This step reads unset environment variables: {names}",
                                style="yellow"))
        typed = {spec.name: self._value(answers.env_label(spec), answers.env_is_secret(spec))
                 for spec in specs}
        return answers.env_values(typed)
