"""The web page's Controller: each question the engine asks becomes the page's pending prompt; a
reply from the operator's page is read with the same rules as the terminal's (answers.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from .. import answers
from ..answers import Reading
from ..control import Answer, DriftView, FailureView, QuitRun, StepView
from ..folding import fold_names
from ..model import Step, VarSpec
from .hub import Hub, Verdict
from .markup import highlighted

T = TypeVar("T")


class Refused(Exception):
    """A reply that is no answer: its message is shown and the question stays."""


def _text(reply: Mapping[str, Any], key: str = "text") -> str:
    value = reply.get(key)
    return value if isinstance(value, str) else ""


def step_payload(view: StepView) -> dict[str, Any]:
    step = view.step
    return {"step": step.id, "title": step.title, "index": step.index,
            "command": view.command, "pieces": highlighted(view.command, step.lang),
            "targets": list(view.targets), "danger": list(view.danger),
            "flags": list(view.flags), "missing_env": list(view.missing_env),
            "editable": view.editable or view.command}


class WebController:
    """Asks through the hub: the operator's page shows the prompt and posts replies."""

    def __init__(self, hub: Hub, note: Callable[[str, str | None], None]) -> None:
        self.hub = hub
        self.note = note

    def _ask(self, kind: str, step: str | None, view: dict[str, Any],
             decide: Callable[[Mapping[str, Any]], T], notes: bool = True) -> T:
        prompt = self.hub.ask(kind, {"step": step, **view})
        try:
            while True:
                reply = prompt.next_reply()
                note = answers.note_text(_text(reply)) if notes else None
                if note is not None:  # '#' at a prompt is a note, as on the terminal
                    self.note(note, step)
                    prompt.verdict(Verdict(False, "note recorded"))
                    continue
                try:
                    answer = decide(reply)
                except Refused as refused:
                    prompt.verdict(Verdict(False, str(refused)))
                    continue
                except QuitRun:
                    prompt.verdict(Verdict(True))
                    raise
                prompt.verdict(Verdict(True))
                return answer
        finally:
            self.hub.answered(prompt)

    @staticmethod
    def _read(reading: Reading, help_text: str) -> str:
        if reading.answer is None:
            raise Refused(help_text if reading.help else reading.problem)
        return reading.answer

    def _edited(self, reply: Mapping[str, Any], prompt: str) -> Answer:
        edited = answers.edited_command(_text(reply, "command"))
        if edited is None:
            raise Refused(answers.EMPTY_EDIT)
        return Answer("edit", command=edited, prompt=prompt)

    # -- the Controller protocol -----------------------------------------------------------

    def begin_step(self, step: Step) -> None:
        return None  # the page shows every step's cell already

    def ask_step(self, view: StepView) -> Answer:
        prompt = answers.step_prompt(view)

        def decide(reply: Mapping[str, Any]) -> Answer:
            answer = self._read(answers.read_step(view, _text(reply)), answers.step_help(view))
            return self._edited(reply, prompt) if answer == "edit" else Answer(answer,
                                                                              prompt=prompt)

        return self._ask("step", view.step.id, {**step_payload(view), "prompt": prompt}, decide)

    def ask_failure(self, view: FailureView) -> Answer:
        prompt = answers.failure_prompt(view)

        def decide(reply: Mapping[str, Any]) -> Answer:
            answer = self._read(answers.read_failure(_text(reply)), answers.FAILURE_HELP)
            return self._edited(reply, prompt) if answer == "edit" else Answer(answer,
                                                                              prompt=prompt)

        return self._ask("failure", view.step.id, {
            "title": view.step.title, "status": view.status, "exit_code": view.exit_code,
            "reason": view.reason, "attempts": view.attempts,
            # some hosts of a fleet failed: retry there only, or on every host
            "failed_hosts": fold_names(view.failed_hosts) if view.partial else "",
            "editable": view.editable or view.step.code, "prompt": prompt}, decide)

    def ask_drift(self, view: DriftView) -> Answer:
        """The step ran well but printed something else than its runbook shows: go on, go on
        with a note (its text comes with the answer), retry, edit or quit."""
        prompt = answers.DRIFT_PROMPT

        def decide(reply: Mapping[str, Any]) -> Answer:
            answer = self._read(answers.read_drift(_text(reply)), answers.DRIFT_HELP)
            if answer == "note":
                note = _text(reply, "note").strip()
                if note:
                    self.note(note, view.step.id)
            if answer == "edit":  # an empty edit asks again: nothing unedited runs
                return self._edited(reply, prompt)
            return Answer(answer, prompt=prompt)

        return self._ask("drift", view.step.id, {
            "title": view.step.title, "attempts": view.attempts,
            "checks": [{"source": c.source, "verdict": c.verdict, "mode": c.mode,
                        "diff": c.diff, "expected": c.expected, "host": c.host}
                       for c in view.checks],
            "editable": view.editable or view.step.code, "prompt": prompt}, decide)

    def ask_manual(self, step: Step) -> Answer:
        prompt = "Manual step. Done? [d/n/s/q/?]"

        def decide(reply: Mapping[str, Any]) -> Answer:
            return Answer(self._read(answers.read_manual(_text(reply)), answers.MANUAL_HELP),
                          prompt=prompt)

        return self._ask("manual", step.id, {"title": step.title, "code": step.code,
                                             "interpreter": step.interpreter,
                                             "prompt": prompt}, decide)

    def ask_choice(self, options: Sequence[StepView]) -> int | None:
        def decide(reply: Mapping[str, Any]) -> int | None:
            try:
                return answers.read_choice(_text(reply), len(options))
            except ValueError as problem:
                raise Refused(str(problem)) from None

        return self._ask("choice", options[0].step.id if options else None, {
            "options": [step_payload(view) for view in options],
            "prompt": answers.choice_prompt(len(options))}, decide)

    def ask_var(self, spec: VarSpec) -> str:
        return self._ask("var", None, {
            "name": spec.name, "label": answers.var_label(spec), "secret": spec.secret,
            "choices": [str(c) for c in spec.choices or ()]},
            lambda reply: answers.var_value(spec, _text(reply)),
            notes=not spec.secret)  # a secret is never read as a note (nor shown)

    def ask_env(self, specs: Sequence[VarSpec]) -> Mapping[str, str]:
        names = [spec.name for spec in specs]

        def decide(reply: Mapping[str, Any]) -> Mapping[str, str]:
            values = reply.get("values")
            typed = values if isinstance(values, dict) else {}
            return answers.env_values({name: str(typed.get(name) or "") for name in names})

        return self._ask("env", None, {
            "names": [{"name": s.name, "label": answers.env_label(s),
                       "secret": answers.env_is_secret(s)} for s in specs],
            "prompt": f"This step reads unset environment variables: {', '.join(names)}"},
            decide)
