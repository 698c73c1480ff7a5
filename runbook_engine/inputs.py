"""What a step needs before it runs: its values (asked when missing), the environment it reads,
the rendered command, and what the operator is shown about it (danger, flags)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import answers, safety, template
from .control import Controller, QuitRun, StepView
from .events import Decision, Invalid, VarRecord, VarSet
from .graph import RESERVED, outputs_of, step_templates
from .model import HostTarget, Runbook, RunbookError, Step, VarSpec
from .recording import Recorder
from .redact import MASK, looks_secret, may_create_secret, secret_env_values
from .runners.base import Command, Runner
from .stamps import spell_duration
from .state import RunState
from .variables import Variable, validate

#: flags shown with a step: (attribute, shown as name only when true, else name=value)
FLAG_NAMES = ("sudo", "interactive", "until", "continue_on_error", "secret")
VALUE_FLAGS = ("timeout", "retries", "capture", "expect", "serial", "max_fail", "user")


def has_template(text: str | None) -> bool:
    # Jinja only acts on these delimiters: skip the (costly) render of plain text.
    return bool(text) and any(m in text for m in ("{{", "{%", "{#"))  # type: ignore[operator]


def recorded(var: Variable) -> VarRecord:
    """A variable as the transcript keeps it (a secret's value never leaves the process)."""
    return VarRecord(name=var.name, source=var.source, secret=var.secret,
                     value=MASK if var.secret else var.value)


def danger_of(step: Step, code: str) -> list[str]:
    if step.danger is True:
        return ["marked dangerous"]
    if step.danger is False or not code:
        return []
    return safety.danger_reasons(code, step.lang or "bash")


def flags_of(step: Step) -> tuple[str, ...]:
    flags = [name for name in FLAG_NAMES if getattr(step, name)]
    flags += [f"{name}={_flag_value(name, getattr(step, name))}" for name in VALUE_FLAGS
              if getattr(step, name)]
    return tuple(flags)


def _flag_value(name: str, value: Any) -> str:
    return spell_duration(value) if name == "timeout" else str(value)


def runnable(steps: Sequence[Step], state: RunState, only: Sequence[str]) -> list[Step]:
    """The steps this run would execute: not finished earlier, not excluded from run-all."""
    return [s for s in steps if s.executable and not state.done(s.id)
            and not (s.exclude_from_run_all and s.id not in only)]


def missing_inputs(steps: Sequence[Step], state: RunState,
                   variables: Mapping[str, Variable]) -> list[tuple[Step, str]]:
    """(step, name) for every value no source gives before the step: what --yes can't ask."""
    known = set(variables) | {n for n, v in state.variables.items() if not v.lost} | RESERVED
    missing: list[tuple[Step, str]] = []
    for step in steps:
        if not step.executable or state.done(step.id):
            continue
        names = [n for text in step_templates(step) if has_template(text)
                 for n in sorted(template.variables_used(text))]
        names += safety.placeholders(step.code)  # every form (<name>, YOUR_TOKEN, example.com)
        for name in dict.fromkeys(names):
            if name not in known:
                missing.append((step, name))
                known.add(name)  # report each once
        known |= outputs_of(step)
    return missing


def dangerous_steps(steps: Sequence[Step], state: RunState, variables: Mapping[str, Variable],
                    only: Sequence[str] = ()) -> list[tuple[Step, list[str]]]:
    """Steps this run would execute that are dangerous, with reasons (for --yes refusal)."""
    values = {**state.values(), **{n: v.value for n, v in variables.items()}}
    ctx = {**values, "vars": values, "steps": state.template_steps()}
    found: list[tuple[Step, list[str]]] = []
    seen_choices: set[str] = set()
    for step in runnable(steps, state, only):
        if step.choice is not None:
            if step.choice in seen_choices:
                continue  # --yes picks the first alternative only
            seen_choices.add(step.choice)
        code = template.render_lenient(step.code, ctx) if has_template(step.code) else step.code
        reasons = danger_of(step, code)
        if reasons:
            found.append((step, reasons))
    return found


@dataclass(frozen=True)
class Prepared:
    """A step rendered and ready: what runs and what the operator sees."""

    command: Command
    view: StepView
    targets: list[HostTarget]


class Inputs:
    """The values of the run and asking for the missing ones. Values the transcript holds come
    from the state; secrets (and values with a secret in them) are kept here only, so a resumed
    run asks for them again instead of using ``****``."""

    def __init__(self, runbook: Runbook, state: RunState, emit: Recorder, controller: Controller,
                 runner: Callable[[HostTarget], Runner],
                 targets_for: Callable[[Step], list[HostTarget]], run_id: str,
                 environ: Mapping[str, str]) -> None:
        self.runbook = runbook
        self.state = state
        self.emit = emit
        self.controller = controller
        self.runner = runner
        self.targets_for = targets_for
        self.run_id = run_id
        self.environ = dict(environ)
        self.secrets: dict[str, Any] = {}  # name -> value the transcript masks
        self.extra_env: dict[str, str] = {}  # answers to ask_env, given to every later step

    # -- values ---------------------------------------------------------------------------------

    def known(self, name: str) -> bool:
        var = self.state.variables.get(name)
        return name in self.secrets or (var is not None and not var.lost)

    def value(self, name: str) -> Any:
        return self.secrets[name] if name in self.secrets else self.state.variables[name].value

    def context(self) -> dict[str, Any]:
        """A template's names: the variables (also under ``vars``), ``steps`` and ``env``."""
        values = self.state.values()
        values.update(self.secrets)
        return {**values, "vars": dict(values), "steps": self.state.template_steps(),
                "env": {**self.environ, **self.extra_env}}

    def mask_secrets(self, variables: Mapping[str, Variable]) -> None:
        """Before anything is emitted: the secret values known up front are masked everywhere,
        with the values of the secret-looking environment variables, whatever reads them."""
        for var in variables.values():
            if var.secret:
                self.emit.secret(var.value)
        for value in secret_env_values(self.environ):
            self.emit.secret(value)

    @functools.cached_property
    def secret_names(self) -> frozenset[str]:
        """Names the runbook says hold secrets: declared ``secret`` vars, secret captures."""
        return frozenset({v.name for v in self.runbook.vars if v.secret}
                         | {s.capture for s in self.runbook.steps if s.secret and s.capture})

    def output_is_secret(self, step: Step, name: str) -> bool:
        """A ``name=value`` the step wrote to $RUNBOOK_OUTPUT is a secret."""
        return step.secret or looks_secret(name) or name in self.secret_names

    def may_create_secret(self, step: Step, code: str) -> bool:
        """The step may make a secret that its own output shows: hold that output until the
        step ends (when the value is known), then show it masked."""
        return step.secret or may_create_secret(code, self.secret_names)

    def keep(self, variables: Mapping[str, Variable]) -> None:
        """After ``run_started``: hold on to the values its record had to mask."""
        for var in variables.values():
            self._keep_if_masked(var.name, var.value)

    def set_var(self, name: str, value: Any, source: str, secret: bool = False) -> None:
        if secret:
            for item in value.values() if isinstance(value, dict) else [value]:
                self.emit.secret(item)
        self.emit(VarSet(name=name, source=source, secret=secret,
                         value=MASK if secret else value))
        self._keep_if_masked(name, value)

    def _keep_if_masked(self, name: str, value: Any) -> None:
        var = self.state.variables.get(name)
        if var is not None and var.lost:
            self.secrets[name] = value
        else:
            self.secrets.pop(name, None)

    # -- asking ---------------------------------------------------------------------------------

    def ask_missing(self, step: Step) -> None:
        texts = [t for t in (step.code, step.cwd, *(v for _, v in step.env)) if has_template(t)]
        if step.when:
            texts.append("{{ " + step.when + " }}")  # an expression, not a template
        for text in texts:
            for name in template.variables_used(text or ""):
                if name not in RESERVED and not self.known(name):
                    self.ask_var(name, step=step)

    def ask_var(self, name: str, placeholder: bool = False, step: Step | None = None) -> Any:
        if self.known(name):
            return self.value(name)
        declared = self.runbook.var(name)
        spec = declared or VarSpec(name, placeholder=placeholder, secret=looks_secret(name))
        if placeholder and declared is not None:
            spec = replace(declared, placeholder=True)
        earlier = self.state.variables.get(name)
        if earlier is not None and earlier.secret:
            spec = replace(spec, secret=True)  # a secret (a capture) whose value is lost
        if spec.prompt is None and step is not None:
            # the step is shown after its values are known: say which step asks, and where
            shown = f"<{name}>" if placeholder else name
            spec = replace(spec, prompt=f"Value for {shown} (needed by step {step.id}, "
                                        f"line {step.line})")
        for _ in range(10):
            try:
                value = self.controller.ask_var(spec)
            except RunbookError as exc:
                if exc.path:
                    raise
                line = spec.line if declared is not None else (step.line if step else None)
                raise RunbookError(exc.message, self.runbook.path, line) from None
            problem = answers.empty_problem(spec, value) or validate(spec, value)
            if problem is not None:
                self.emit(Invalid(text=problem))
                continue  # ask again
            self.set_var(name, value, "placeholder" if placeholder else "prompt", spec.secret)
            return value
        raise RunbookError(f"variable '{name}': no valid value given", self.runbook.path,
                           spec.line)

    def env_check(self, step: Step, code: str, targets: list[HostTarget]) -> list[str]:
        """Ask for unset env vars a local step reads; mask the secret-looking ones that are set."""
        if "$" not in code or not all(t.is_local for t in targets):
            return []  # a remote step reads the remote environment: nothing to know here
        reads = safety.env_reads(code)
        known: dict[str, str] = {**self.environ, **self.extra_env, **dict(step.env)}
        for target in targets:
            for name, value in self.runner(target).session.env.items():
                if value is None:
                    known.pop(name, None)  # unset by an earlier step
                else:
                    known[name] = value  # exported by an earlier step
        missing = [n for n in reads if n not in known]
        specs = {name: self.env_spec(name) for name in reads}
        if missing:
            given = self.controller.ask_env([specs[n] for n in missing])
            for name, value in given.items():
                if specs[name].secret:
                    self.emit.secret(value)  # before anything (the variable's record) shows it
                self.extra_env[name] = value
                known[name] = value
                declared = self.declared_for_env(name)
                if declared is not None and not self.known(declared.name):
                    self.set_var(declared.name, value, "prompt", specs[name].secret)
        for name in reads:
            if specs[name].secret and name in known:
                self.emit.secret(known[name])
        return [n for n in missing if n not in self.extra_env]

    def declared_for_env(self, name: str) -> VarSpec | None:
        """The front matter variable read from environment variable ``name``, if any."""
        return next((v for v in self.runbook.vars if v.env == name), None)

    def env_spec(self, name: str) -> VarSpec:
        """How an environment variable is asked: the runbook's prompt and secrecy when it
        declares the variable, secret when its name looks like one."""
        declared = self.declared_for_env(name)
        secret = looks_secret(name) or (declared is not None and declared.secret)
        prompt = declared.prompt if declared is not None else None
        return VarSpec(name, prompt=prompt, secret=secret)

    # -- the command ----------------------------------------------------------------------------

    def render(self, text: str | None, ctx: dict[str, Any]) -> str | None:
        if text is None or not has_template(text):
            return text
        return template.render(text, ctx, on_env_read=self.env_read)

    def env_read(self, name: str, value: Any) -> None:
        """A template read ``env.NAME``: a secret-looking one is masked before anything shows."""
        if looks_secret(name) and value:
            self.emit.secret(str(value))

    def render_code(self, step: Step, text: str) -> str:
        """Template first, then ``<placeholders>`` (asked once per run), as the plan does."""
        # the interpreter (a SQL console, python) decides how values are quoted in its code
        code = template.render(text, self.context(), step.interpreter,
                               on_env_read=self.env_read) if has_template(text) else text
        names = safety.placeholders(text)
        if names:
            values = {n: str(self.ask_var(n, placeholder=True, step=step)) for n in names}
            code = template.substitute_placeholders(code, values, interpreter=step.interpreter)
        return code

    def editable(self, step: Step, code: str) -> str:
        """The text `e` opens: the command itself unless it holds a secret (then its template)."""
        return code if self.emit.mask(code) == code else step.code

    def apply_edit(self, step: Step, shown: str, edited: str) -> str:
        """The code to run after an edit: a template edit is rendered like the step itself."""
        return self.render_code(step, edited) if shown == step.code else edited

    def prepare(self, step: Step) -> Prepared:
        ctx = self.context()
        code = self.render_code(step, step.code)
        targets = self.targets_for(step)
        missing = self.env_check(step, code, targets)
        env = {k: self.render(v, ctx) or "" for k, v in step.env}
        shell, interpreter = step.shell or "bash", step.interpreter
        if interpreter is None and shell.rsplit("/", 1)[-1] != "bash":
            # the session wrapper is bash; another shell reads the step's code on stdin
            shell, interpreter = "bash", f"{shell} -s"
        command = Command(
            code=code, step_id=step.id, run_id=self.run_id, shell=shell, interpreter=interpreter,
            cwd=self.render(step.cwd, ctx), env={**self.extra_env, **env},
            timeout=step.timeout, interactive=step.interactive, sudo=step.sudo, user=step.user,
        )
        view = StepView(
            step=step, command=self.emit.mask(code), targets=tuple(t.name for t in targets),
            danger=tuple(danger_of(step, code)), flags=flags_of(step),
            missing_env=tuple(missing), expected_output=step.expected_output,
            editable=self.editable(step, code), confirm=self.confirm_text(step, ctx),
        )
        return Prepared(command, view, targets)

    def confirm_text(self, step: Step, ctx: dict[str, Any]) -> str:
        """The step's own question with its values filled in (``Stop process 4242?``)."""
        if not isinstance(step.confirm, str) or not step.confirm:
            return ""
        text = template.render_lenient(step.confirm, ctx) if has_template(step.confirm) \
            else step.confirm
        return self.emit.mask(text)

    def confirm_edit(self, step: Step, before: str, code: str,
                     targets: Sequence[str]) -> tuple[str, str]:
        """An edited command runs at once unless it, or what it replaces, is dangerous: then
        it is shown and runs only on the step's typed id, like the step itself (it may be
        edited again). Returns ("run" or "skip", the code); QuitRun when the operator quits."""
        while True:
            danger = tuple(danger_of(step, code) or danger_of(step, before))
            if not danger:
                return "run", code
            view = StepView(step=step, command=self.emit.mask(code), targets=tuple(targets),
                            danger=danger, flags=flags_of(step),
                            editable=self.editable(step, code),
                            confirm=self.confirm_text(step, self.context()))
            answer = self.controller.ask_step(view)
            if answer.answer == "edit" and answer.command is not None:
                self.emit(Decision(step=step.id, prompt=answer.prompt, answer="edit",
                                   original=view.editable, edited=answer.command))
                code = self.apply_edit(step, view.editable, answer.command)
                continue
            self.emit(Decision(step=step.id, prompt=answer.prompt, answer=answer.answer))
            if answer.answer == "quit":
                raise QuitRun
            return ("skip" if answer.answer == "skip" else "run"), code

    def preview(self, step: Step) -> StepView:
        """An alternative as offered for choosing (rendered leniently: nothing is asked yet)."""
        code = template.render_lenient(step.code, self.context()) if has_template(step.code) \
            else step.code
        return StepView(step=step, command=self.emit.mask(code),
                        targets=tuple(step.on) or ("local",), danger=tuple(danger_of(step, code)),
                        flags=flags_of(step))
