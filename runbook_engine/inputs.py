"""What a run needs before a step: missing values (asked or refused), environment, danger."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from . import safety, template
from .model import HostTarget, RunbookError, Step, VarSpec
from .redact import looks_secret
from .stamps import now_ts
from .variables import validate


def has_template(text: str | None) -> bool:
    # Jinja only acts on these delimiters: skip the (costly) render of plain text.
    return bool(text) and ("{{" in text or "{%" in text or "{#" in text)


class InputsMixin:
    """The asking half of Engine: values, placeholders and environment (it uses Engine state)."""

    def missing_inputs(self) -> list[tuple[Step, str]]:
        """(step, name) for every value no source gives before the step: what --yes can't ask."""
        from .graph import outputs_of, step_templates

        known = set(self.variables) | {"steps", "env", "vars"}
        missing: list[tuple[Step, str]] = []
        for step in self.steps:
            if not step.executable or self._finished(step.id):
                continue
            names = [n for text in step_templates(step) if has_template(text)
                     for n in sorted(template.variables_used(text))]
            names += safety.placeholders(step.code) if "<" in step.code else []
            for name in dict.fromkeys(names):
                if name not in known:
                    missing.append((step, name))
                    known.add(name)  # report each once
            known |= outputs_of(step)
        return missing

    def dangerous_steps(self) -> list[tuple[Step, list[str]]]:
        """Steps this run would execute that are dangerous, with reasons (for --yes refusal)."""
        found: list[tuple[Step, list[str]]] = []
        seen_choices: set[str] = set()
        ctx = self._ctx()
        for step in self.steps:
            if not step.executable or self._finished(step.id) or self._excluded(step):
                continue
            if step.choice is not None:
                if step.choice in seen_choices:
                    continue  # --yes picks the first alternative only
                seen_choices.add(step.choice)
            code = template.render_lenient(step.code, ctx) if has_template(step.code) \
                else step.code
            reasons = self._danger(step, code)
            if reasons:
                found.append((step, reasons))
        return found

    # -- asking for values ------------------------------------------------------------------------

    def _ask_missing_vars(self, step: Step) -> None:
        texts = [t for t in (step.code, step.cwd, *(v for _, v in step.env)) if has_template(t)]
        if step.when:
            texts.append("{{ " + step.when + " }}")  # an expression, not a template
        for text in texts:
            for name in template.variables_used(text):
                if name not in self.variables and name not in ("steps", "env"):
                    self._ask_var(name, step=step)

    def _ask_var(self, name: str, placeholder: bool = False, step: Step | None = None) -> Any:
        if name in self.variables:
            return self.variables[name].value
        declared = self.graph.runbook.var(name)
        spec = declared or VarSpec(name, placeholder=placeholder, secret=looks_secret(name))
        if placeholder and declared is not None:
            spec = replace(declared, placeholder=True)
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
                raise RunbookError(exc.message, self.graph.runbook.path, line) from None
            problem = validate(spec, value)
            if problem is not None:
                self.controller.on_event({"event": "invalid", "ts": now_ts(), "text": problem})
                continue  # ask again
            self._set_var(name, value, "placeholder" if placeholder else "prompt", spec.secret)
            return value
        raise RunbookError(f"variable '{name}': no valid value given", self.graph.runbook.path,
                           spec.line)

    def _env_check(self, step: Step, code: str, targets: list[HostTarget]) -> list[str]:
        """Ask for unset env vars a local step reads; mask the secret-looking ones that are set."""
        if "$" not in code or not all(t.is_local for t in targets):
            return []  # a remote step reads the remote environment: nothing to know here
        reads = safety.env_reads(code)
        known = {**self.environ, **self.extra_env, **dict(step.env)}
        for target in targets:
            for name, value in self._runner(target).session.env.items():
                if value is None:
                    known.pop(name, None)  # unset by an earlier step
                else:
                    known[name] = value  # exported by an earlier step
        missing = [n for n in reads if n not in known]
        if missing:
            given = self.controller.ask_env(missing)
            for name, value in given.items():
                self.extra_env[name] = value
                known[name] = value
        for name in reads:
            if looks_secret(name) and name in known:
                self.redactor.add(known[name])
        return [n for n in missing if n not in self.extra_env]
