"""The run engine: walks the selected steps, asks the Controller, runs Runners, emits events."""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from . import liveness, safety, template
from .control import Controller, FailureView, QuitRun, StepView
from .execution import ExecutionMixin, StopRun
from .inputs import InputsMixin, has_template
from .model import HostTarget, RunbookError, Step
from .redact import MASK, Redactor
from .runners.base import Command, Runner
from .stamps import now_ts
from .variables import Variable
from .variables import context as template_context

if TYPE_CHECKING:
    from .graph import Graph

Sink = Callable[[dict[str, Any]], None]
FAILED = frozenset({"failed", "timeout", "interrupted", "error", "blocked"})
STATUSES = ("ok", "failed", "skipped", "timeout", "interrupted", "blocked")


@dataclass
class RunOptions:
    run_id: str
    yes: bool = False
    allow_danger: bool = False
    continue_on_error: bool = False
    forks: int = 10
    selection: dict[str, Any] = field(default_factory=dict)
    only: tuple[str, ...] = ()  # ids named by --only (exclude_from_run_all steps run only then)


@dataclass
class RunOutcome:
    status: str  # ok / failed / aborted / interrupted
    exit_code: int  # 0 ok, 1 a step failed or was refused, 130 Ctrl-C at a prompt
    counts: dict[str, int]
    open_items: list[str]


@dataclass
class Prepared:
    """A step rendered and ready: what runs and what the operator sees."""

    command: Command
    view: StepView
    targets: list[HostTarget]


class Engine(InputsMixin, ExecutionMixin):
    """One run of the selected steps."""

    def __init__(
        self,
        graph: Graph,
        steps: Sequence[Step],
        *,
        controller: Controller,
        sinks: Sequence[Sink],
        targets_for: Callable[[Step], list[HostTarget]],
        runner_for: Callable[[HostTarget], Runner],
        variables: dict[str, Variable],
        options: RunOptions,
        redactor: Redactor,
        environ: Mapping[str, str] | None = None,
        resume: Any | None = None,
    ) -> None:
        self.graph = graph
        self.steps = list(steps)
        self.controller = controller
        self.sinks: list[Sink] = list(sinks)
        self.targets_for = targets_for
        self.runner_for = runner_for
        self.variables = dict(variables)
        self.options = options
        self.redactor = redactor
        self.environ: dict[str, str] = dict(environ or {})
        self.resume = resume
        self.run_info: dict[str, Any] = {}
        self.extra_env: dict[str, str] = {}  # answers to ask_env, given to every later step
        self.step_results: dict[str, dict[str, Any]] = {}
        self.status_of: dict[str, str] = {}
        self.counts = dict.fromkeys(STATUSES, 0)
        self.open_items: list[str] = []
        self._follows = False  # the running step ends with Ctrl-C (tail -f): not a failure
        self._all = False
        self._lock = threading.Lock()
        self._restored: set[str] = set()
        self._ctrl_c = False
        self._pool: cf.ThreadPoolExecutor | None = None
        for var in self.variables.values():
            if var.secret:
                self.redactor.add(var.value)
        if resume is not None:
            for name, var in (getattr(resume, "variables", None) or {}).items():
                self.variables.setdefault(name, var)
            self.step_results.update(getattr(resume, "step_results", None) or {})
        if hasattr(controller, "note"):
            controller.note = self.note

    # -- events -----------------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        event.setdefault("ts", now_ts())
        clean = self.redactor.redact_event(event)
        with self._lock:
            for sink in self.sinks:
                sink(clean)
            self.controller.on_event(clean)

    def note(self, text: str, step: str | None = None) -> None:
        self.emit({"event": "note", "step": step, "text": text})

    def _var_event(self, var: Variable) -> None:
        value = MASK if var.secret else var.value
        self.emit({"event": "var_set", "name": var.name, "source": var.source,
                   "secret": var.secret, "value": value})

    def _set_var(self, name: str, value: Any, source: str, secret: bool = False) -> None:
        if secret:
            for item in value.values() if isinstance(value, dict) else [value]:
                self.redactor.add(item)
        var = Variable(name, value, source, secret)
        self.variables[name] = var
        self._var_event(var)

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        self._run_started()
        status, code, at_prompt = "ok", 0, False
        self._pool = cf.ThreadPoolExecutor(max_workers=max(1, self.options.forks))
        try:
            self._walk()
        except QuitRun:
            status = "aborted"
        except StopRun as stop:
            # Ctrl-C stopped a step under --yes: the run ends, as a failed step (exit 1)
            status = "interrupted" if stop.status == "interrupted" and self._ctrl_c else "failed"
        except KeyboardInterrupt:
            status, at_prompt = "interrupted", True
        except RunbookError:
            self._run_finished("failed")
            raise
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)
        failed = any(self.counts.get(s) for s in FAILED)
        if status == "interrupted" and at_prompt:
            code = 130  # Ctrl-C at a prompt; Ctrl-C during a step is a failed step (1)
        elif failed:
            code = 1
            status = "failed" if status == "ok" else status
        self._run_finished(status)
        return RunOutcome(status, code, dict(self.counts), list(self.open_items))

    def _run_started(self) -> None:
        runbook = self.graph.runbook
        event: dict[str, Any] = {
            "event": "run_started", "run_id": self.options.run_id, "title": runbook.title,
            "description": runbook.description, "path": runbook.path, "sha256": runbook.sha256,
            "variables": [
                {"name": v.name, "source": v.source, "secret": v.secret,
                 "value": MASK if v.secret else v.value}
                for v in self.variables.values()
            ],
            "selection": self.options.selection, "resumed": self.resume is not None,
            "forced": bool(getattr(self.resume, "forced", False)),
            # the selected steps, so the report can list the ones that never ran
            "plan": [{"id": s.id, "title": s.title, "section": list(s.section), "line": s.line,
                      "kind": s.kind} for s in self.steps],
        }
        event.update(self.run_info)
        self.emit(event)

    def _run_finished(self, status: str) -> None:
        event = {"event": "run_finished", "status": status, "counts": dict(self.counts),
                 "open_items": list(self.open_items)}
        if "transcript" in self.run_info:
            event["transcript"] = self.run_info["transcript"]
        self.emit(event)

    def _finished(self, step_id: str) -> bool:
        finished = getattr(self.resume, "finished", None) or {}
        return finished.get(step_id) in ("ok", "skipped")

    def _excluded(self, step: Step) -> bool:
        return step.exclude_from_run_all and step.id not in self.options.only

    def _walk(self) -> None:
        steps, i = self.steps, 0
        while i < len(steps):
            step = steps[i]
            if step.choice is not None:
                group = [step]
                while i + len(group) < len(steps) and steps[i + len(group)].choice == step.choice:
                    group.append(steps[i + len(group)])
                self._alternatives(group)
                i += len(group)
                continue
            self._one(step)
            i += 1

    # -- one step ---------------------------------------------------------------------------------

    def _one(self, step: Step, chosen: bool = False) -> None:
        if self._finished(step.id):
            return
        if step.kind == "doc":
            # Not run and not logged: shown to the operator only.
            self.controller.on_event({"event": "doc", "ts": now_ts(), "step": step.id,
                                      "title": step.title, "lang": step.lang,
                                      "code": self.redactor.redact(step.code)})
            return
        if self._excluded(step):
            return self._skip(step, "excluded from run-all (use --only)")
        blocked = [n for n in step.needs if self.status_of.get(n) in FAILED]
        if blocked:
            return self._finish(step, "blocked", reason=f"needs {', '.join(blocked)}")
        if step.kind == "manual":
            return self._manual(step)
        while True:
            try:
                self._ask_missing_vars(step)
                if step.when and not template.evaluate(step.when, self._ctx()):
                    return self._skip(step, f"when: {step.when} is false")
                prepared = self._prepare(step)
            except template.TemplateError as exc:
                retry = self._failed_before_run(step, f"template error: {exc}")
                if retry is None:
                    return
                step = retry
                continue
            break
        terminal = None if step.interactive else liveness.needs_terminal(prepared.command.code,
                                                                         step.lang)
        follows = liveness.runs_until_stopped(prepared.command.code, step.lang)
        if self.options.yes and (terminal or follows):
            self.open_items.append(f"{step.id}: {step.title} (run it by hand)")
            return self._skip(step, f"{terminal or follows}: not run unattended")
        if terminal:
            prepared = replace(prepared, command=replace(prepared.command, interactive=True))
        if terminal or follows:
            hint = f"{terminal}: the terminal is yours" if terminal else \
                f"{follows}: Ctrl-C ends it"
            prepared = replace(prepared, view=replace(prepared.view,
                                                      flags=(*prepared.view.flags, hint)))
        answer, code = self._decide(step, prepared, chosen)
        if answer == "refuse":
            return self._finish(step, "blocked", reason="dangerous: " + "; ".join(
                prepared.view.danger) + " (--yes without --allow-danger)")
        if answer == "skip":
            return self._skip(step, "skipped by operator")
        command = replace(prepared.command, code=code)
        self._follows = bool(follows)
        self._execute(step, command, prepared.targets)

    def _ctx(self) -> dict[str, Any]:
        ctx = template_context(self.variables)  # the same names as in the plan, and `vars`
        ctx["steps"] = self.step_results
        ctx["env"] = {**self.environ, **self.extra_env}
        return ctx

    def _render(self, text: str | None, ctx: dict[str, Any]) -> str | None:
        if text is None or not has_template(text):
            return text
        return template.render(text, ctx)

    def render_code(self, step: Step, text: str) -> str:
        """Template first, then ``<placeholders>`` (asked once per run), as the plan does."""
        code = self._render(text, self._ctx()) or ""
        names = safety.placeholders(text) if "<" in text else []
        if names:
            values = {n: str(self._ask_var(n, placeholder=True, step=step)) for n in names}
            code = template.substitute_placeholders(code, values)
        return code

    def editable(self, step: Step, code: str) -> str:
        """The text `e` opens: the command itself unless it holds a secret (then its template)."""
        return code if self.redactor.redact(code) == code else step.code

    def apply_edit(self, step: Step, shown: str, edited: str) -> str:
        """The code to run after an edit: a template edit is rendered like the step itself."""
        return self.render_code(step, edited) if shown == step.code else edited

    def _prepare(self, step: Step) -> Prepared:
        ctx = self._ctx()
        code = self.render_code(step, step.code)
        targets = self.targets_for(step)
        missing = self._env_check(step, code, targets)
        env = {k: self._render(v, ctx) or "" for k, v in step.env}
        shell, interpreter = step.shell or "bash", step.interpreter
        if interpreter is None and shell.rsplit("/", 1)[-1] != "bash":
            # the session wrapper is bash; another shell reads the step's code on stdin
            shell, interpreter = "bash", f"{shell} -s"
        command = Command(
            code=code, step_id=step.id, run_id=self.options.run_id,
            shell=shell, interpreter=interpreter,
            cwd=self._render(step.cwd, ctx), env={**self.extra_env, **env},
            timeout=step.timeout, interactive=step.interactive, sudo=step.sudo, user=step.user,
        )
        view = StepView(
            step=step, command=self.redactor.redact(code),
            targets=tuple(t.name for t in targets), danger=tuple(self._danger(step, code)),
            flags=self._flags(step), missing_env=tuple(missing),
            expected_output=step.expected_output, editable=self.editable(step, code),
        )
        return Prepared(command, view, targets)

    def _flags(self, step: Step) -> tuple[str, ...]:
        flags = [name for name in ("sudo", "interactive", "until", "continue_on_error", "secret")
                 if getattr(step, name)]
        flags += [f"{name}={getattr(step, name)}" for name in
                  ("timeout", "retries", "capture", "expect", "serial", "max_fail", "user")
                  if getattr(step, name)]
        return tuple(flags)

    def _danger(self, step: Step, code: str) -> list[str]:
        if step.danger is True:
            return ["marked dangerous"]
        if step.danger is False or not code:
            return []
        return safety.danger_reasons(code, step.lang or "bash")

    def _decide(self, step: Step, prepared: Prepared, chosen: bool) -> tuple[str, str]:
        code, view = prepared.command.code, prepared.view
        must_ask = bool(view.danger) or bool(step.confirm)
        if self.options.yes:
            if view.danger and not self.options.allow_danger:
                return "refuse", code  # the CLI refuses before running; never run it unasked
            if view.danger:
                self._decision(step, "--allow-danger", "run")
            return "run", code
        if (self._all or chosen) and not must_ask:
            return "run", code
        decision = self.controller.ask_step(view)
        answer = decision.answer
        if answer == "quit":
            self._decision(step, decision.prompt, "quit")
            raise QuitRun
        if answer == "all":
            self._all = True
        if answer == "edit" and decision.command is not None:
            self._decision(step, decision.prompt, "edit", original=view.editable,
                           edited=decision.command)
            return "run", self.apply_edit(step, view.editable, decision.command)
        self._decision(step, decision.prompt, answer)
        return ("skip" if answer == "skip" else "run"), code

    def _decision(self, step: Step, prompt: str, answer: str, **extra: Any) -> None:
        self.emit({"event": "decision", "step": step.id, "prompt": prompt, "answer": answer,
                   **extra})

    # -- manual steps and alternatives ------------------------------------------------------------

    def _manual(self, step: Step) -> None:
        decision = self.controller.ask_manual(step)
        self._decision(step, decision.prompt, decision.answer)
        if decision.answer == "quit":
            raise QuitRun
        if decision.answer == "done":
            return self._finish(step, "ok", reason="done")
        self.open_items.append(f"{step.id}: {step.title}")
        reason = {"not_done": "not done", "skip": "skipped by operator"}.get(decision.answer, "")
        if self.options.yes:
            reason = "manual step: left for the operator (--yes)"
        return self._skip(step, reason)

    def _alternatives(self, group: list[Step]) -> None:
        if any(self.status_of.get(s.id) == "ok" or self._finished(s.id) for s in group):
            return
        ctx = self._ctx()
        views = []
        for step in group:
            code = template.render_lenient(step.code, ctx) if has_template(step.code) \
                else step.code
            views.append(StepView(step=step, command=self.redactor.redact(code),
                                  targets=tuple(step.on) or ("local",),
                                  danger=tuple(self._danger(step, code)), flags=self._flags(step)))
        index = self.controller.ask_choice(views)
        picked = group[index] if index is not None and 0 <= index < len(group) else None
        self._decision(group[0], "choose one", "choice", choice=picked.id if picked else None)
        for step in group:
            if step is not picked:
                self._skip(step, "alternative not chosen")
        if picked is not None:
            self._one(picked, chosen=True)

    # -- results ----------------------------------------------------------------------------------

    def _skip(self, step: Step, reason: str) -> None:
        self._finish(step, "skipped", reason=reason)

    def _finish(self, step: Step, status: str, **fields: Any) -> None:
        self.status_of[step.id] = status
        self.counts[status] = self.counts.get(status, 0) + 1
        event = {"event": "step_finished", "step": step.id, "status": status, "exit_code": None,
                 "duration_s": 0.0, "attempts": 0}
        event.update(fields)
        self.emit(event)

    def _failed_before_run(self, step: Step, reason: str) -> Step | None:
        """A step that could not even be prepared: the step to prepare again, or None."""
        self._finish(step, "failed", reason=reason)
        if self.options.yes:
            if self.options.continue_on_error or step.continue_on_error:
                return None
            raise StopRun("failed")
        view = FailureView(step, "failed", None, reason, 0, editable=step.code)
        decision = self.controller.ask_failure(view)
        if decision.answer == "edit" and decision.command is not None:
            self._decision(step, decision.prompt, "edit", original=step.code,
                           edited=decision.command)
        else:
            self._decision(step, decision.prompt, decision.answer)
        if decision.answer == "quit":
            raise QuitRun
        if decision.answer not in ("retry", "edit"):
            return None
        self.counts["failed"] -= 1
        if decision.answer == "edit" and decision.command is not None:
            return replace(step, code=decision.command)  # the edited template, prepared anew
        return step
