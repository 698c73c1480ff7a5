"""The run engine: a small loop over the selected steps that asks the Controller, hands steps to
the Executor and emits events. It knows nothing of the terminal or the transcript file: what it
emits goes through the Recorder, into the RunState and out to the views."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import liveness, template
from .checking import OutputChecker, Reference
from .control import Controller, FailureView, QuitRun
from .events import (
    SCHEMA,
    Decision,
    DocShown,
    Operator,
    PlannedStep,
    RunFinished,
    RunStarted,
    StepFinished,
)
from .execution import Executor, HostRun, StopRun, TargetRunners, kept_run
from .folding import fold_names
from .inputs import Inputs, Prepared, flags_of, recorded
from .model import HostTarget, Runbook, Step
from .recording import Recorder
from .runners.base import Runner
from .runners.ended import BodyEnded
from .stamps import code_sha256
from .state import FAILED, RunState
from .variables import Variable, keep_secret


@dataclass(frozen=True)
class RunPlan:
    """What to run: the runbook, its selected steps in plan order, where each step runs, and the
    values known before the run (secrets in full: they never reach an event)."""

    runbook: Runbook
    steps: tuple[Step, ...]
    targets_for: Callable[[Step], list[HostTarget]]
    variables: Mapping[str, Variable] = field(default_factory=dict)
    #: an earlier run's outputs each step's output is also compared with (``--against``)
    against: Reference | None = None
    #: a reason not to run a step now, asked just before it would run (it is then recorded as
    #: skipped with that reason): ``runbook test`` leaves what it cannot verify here
    skip_if: Callable[[Step], str | None] | None = None


@dataclass(frozen=True)
class RunOptions:
    """How to run it, and what ``run_started`` records about who ran it and how."""

    run_id: str
    yes: bool = False
    allow_danger: bool = False
    continue_on_error: bool = False
    forks: int = 10
    selection: Mapping[str, Any] = field(default_factory=dict)
    only: tuple[str, ...] = ()  # ids named by --only (exclude_from_run_all steps run only then)
    operator: Operator | None = None
    hostname: str = ""
    version: str = ""
    transcript: str | None = None
    overrides: tuple[str, ...] = ()  # what --force overrode, each one line
    terminal: bool = True  # False (a web page): a step that needs a terminal is left to do by hand
    #: --resume: the body-ended record of the step running when the earlier session ended
    ended: BodyEnded | None = None


@dataclass
class RunOutcome:
    status: str  # ok / failed / aborted / interrupted
    # 0 ok; 1 a step failed or was refused, or the operator quit; 130 Ctrl-C at a prompt
    exit_code: int
    counts: dict[str, int]
    open_items: list[str]


class Engine:
    """One session of a run (the first, or a resumed one): walks the plan, composing Inputs
    (values, asking, rendering) and the Executor (attempts, fan-out, results)."""

    def __init__(self, plan: RunPlan, options: RunOptions, *, state: RunState, emit: Recorder,
                 controller: Controller, runners: Callable[[HostTarget], Runner],
                 environ: Mapping[str, str] | None = None) -> None:
        self.plan = plan
        self.options = options
        self.state = state
        self.emit = emit
        self.controller = controller
        runner = TargetRunners(runners, state)
        self.inputs = Inputs(plan.runbook, state, emit, controller, runner, plan.targets_for,
                             options.run_id, environ or {})
        self.executor = Executor(emit, controller, runner, self.inputs, yes=options.yes,
                                 continue_on_error=options.continue_on_error,
                                 forks=options.forks, checker=OutputChecker(plan.against))
        self._all = False  # the operator answered "all": stop asking (dangerous steps still ask)
        self._cut = state.running  # the step the earlier session ended in (before run_started)
        self._order = {s.id: i for i, s in enumerate(plan.steps)}  # each step's plan index
        self._last_on = last_steps(plan)  # each target's last step's plan index

    def interrupt(self) -> bool:
        """Stop the step running now, as Ctrl-C does (from another thread: a page's Stop)."""
        return self.executor.interrupt()

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        self._run_started()
        status, at_prompt = "ok", False
        try:
            self._record_ended()
            self._walk()
        except QuitRun:
            status = "aborted"
        except StopRun as stop:
            # Ctrl-C stopped a step under --yes: the run ends, as a failed step (exit 1)
            interrupted = stop.status == "interrupted" and self.executor.ctrl_c
            status = "interrupted" if interrupted else "failed"
        except KeyboardInterrupt:
            status, at_prompt = "interrupted", True
        except Exception:  # a user error or an unreachable host: the transcript says it ended
            self._run_finished("failed")
            raise
        finally:
            self.executor.close()
        if status == "interrupted" and at_prompt:
            code = 130  # Ctrl-C at a prompt; Ctrl-C during a step is a failed step (1)
        elif status != "ok" or self.state.failed:
            code = 1  # quitting leaves the run unfinished: not a success either
            status = "failed" if status == "ok" else status
        else:
            code = 0
        self._run_finished(status)
        return RunOutcome(status, code, self.state.counts, self.state.open_items)

    def _run_started(self) -> None:
        runbook, options = self.plan.runbook, self.options
        keep_secret(self.plan.variables, (n for n, v in self.state.variables.items() if v.secret))
        self.inputs.mask_secrets(self.plan.variables)
        self.emit(RunStarted(
            schema=SCHEMA, run_id=options.run_id, title=runbook.title,
            description=runbook.description, path=runbook.path, sha256=runbook.sha256,
            operator=options.operator, hostname=options.hostname, version=options.version,
            variables=tuple(recorded(v) for v in self.plan.variables.values()),
            selection=dict(options.selection), resumed=bool(self.state.segments),
            forced=bool(options.overrides), overrides=options.overrides,
            # the selected steps, so the report can list the ones that never ran
            plan=tuple(PlannedStep(id=s.id, title=s.title, section=s.section, line=s.line,
                                   kind=s.kind) for s in self.plan.steps),
            transcript=options.transcript))
        self.inputs.keep(self.plan.variables)

    def _record_ended(self) -> None:
        """--resume: the step whose body ended as the earlier session ended gets its result
        from its shell's record first, as if that session had written it."""
        cut, ended = self._cut, self.options.ended
        step = next((s for s in self.plan.runbook.steps if cut and s.id == cut.step), None)
        if cut is not None and ended is not None and step is not None:
            self.executor.record_ended(step, self.state.steps.get(step.id), cut, ended)

    def _run_finished(self, status: str) -> None:
        self.emit(RunFinished(status=status, counts=self.state.counts,
                              open_items=tuple(self.state.open_items),
                              transcript=self.options.transcript))

    def _walk(self) -> None:
        steps, i = self.plan.steps, 0
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

    # -- one step -------------------------------------------------------------------------------

    def _one(self, step: Step, chosen: bool = False) -> None:
        kept = self._kept(step)
        if self.state.done(step.id) and (not kept or len(kept) == len(self.plan.targets_for(step))):
            return  # finished in an earlier session of this run (on every host it runs on now)
        if step.kind == "doc":
            # Not run and not logged: shown to the operator only.
            self.emit(DocShown(step=step.id, title=step.title, lang=step.lang, code=step.code))
            return
        if step.exclude_from_run_all and step.id not in self.options.only:
            return self._finish(step, "skipped", "excluded from run-all (use --only)")
        unverifiable = self.plan.skip_if(step) if self.plan.skip_if is not None else None
        if unverifiable:
            return self._finish(step, "skipped", unverifiable)
        blocked = [n for n in step.needs if self.state.status_of(n) in FAILED]
        if blocked:
            return self._finish(step, "blocked", f"needs {', '.join(blocked)}")
        if step.kind == "manual":
            return self._manual(step)
        self.controller.begin_step(step)
        prepared = self._prepared(step)
        if prepared is None:
            return
        step = prepared.view.step
        if step.interactive and not self.options.terminal:
            # interactive=true hands the terminal over: without one (--yes with a pipe, a page),
            # a step reading an idle standard input would wait for ever: left to do by hand
            return self._finish(step, "skipped", "interactive=true needs the operator's "
                                "terminal: not run unattended",
                                open_item=f"{step.id}: {step.title} (run it by hand)")
        terminal = None if step.interactive else liveness.needs_terminal(prepared.command.code,
                                                                         step.lang)
        follows = liveness.runs_until_stopped(prepared.command.code, step.lang)
        if self.options.yes and (terminal or follows):
            return self._finish(step, "skipped", f"{terminal or follows}: not run unattended",
                                open_item=f"{step.id}: {step.title} (run it by hand)")
        if terminal and not self.options.terminal:
            return self._finish(step, "skipped", f"{terminal}: needs a terminal",
                                open_item=f"{step.id}: {step.title} (run it by hand)")
        if terminal:
            prepared = replace(prepared, command=replace(prepared.command, interactive=True))
        if (terminal or follows or step.interactive) and step.timeout_default:
            # the terminal is the operator's, and `tail -f` never ends: a runbook-wide
            # timeout does not apply (only one the step sets itself)
            step = replace(step, timeout=None, timeout_default=False)
            prepared = replace(prepared, command=replace(prepared.command, timeout=None),
                               view=replace(prepared.view, step=step, flags=flags_of(step)))
        if kept:
            done = f"done earlier on {fold_names(kept)}: runs on the other hosts only"
            prepared = replace(prepared, view=replace(prepared.view,
                                                      flags=(*prepared.view.flags, done)))
        if terminal or follows:
            hint = f"{terminal}: the terminal is yours" if terminal else \
                f"{follows}: Ctrl-C ends it"
            prepared = replace(prepared, view=replace(prepared.view,
                                                      flags=(*prepared.view.flags, hint)))
        answer, code = self._decide(step, prepared, chosen)
        if answer == "refuse":
            return self._finish(step, "blocked", "dangerous: " + "; ".join(
                prepared.view.danger) + " (--yes without --allow-danger)")
        if answer == "skip":
            return self._finish(step, "skipped", "skipped by operator")
        command = replace(prepared.command, code=code,
                          more_follow=self._more_follow(step, prepared.targets))
        self.executor.execute(step, command, prepared.targets, follows=bool(follows), kept=kept)

    def _more_follow(self, step: Step, targets: Sequence[HostTarget]) -> bool:
        """Whether a later step of the plan runs on one of ``targets``: a hint for the runners
        (a remote shell forks the next step's processes ahead of it only then)."""
        here = self._order.get(step.id)
        return here is None or any(self._last_on.get(t.name, -1) > here for t in targets)

    def _kept(self, step: Step) -> dict[str, HostRun]:
        """--resume: the hosts a fanned-out step finished well on in an earlier session (the
        same code); it runs on the others only: those it failed on or never ran on."""
        targets = self.plan.targets_for(step)
        ok = set(self.state.ok_hosts(step.id, code_sha256(step.code)))
        if len(targets) < 2 or not ok or (step.capture and step.secret):
            return {}  # a secret capture is not in the transcript: run everywhere again
        record = self.state.steps[step.id]
        return {t.name: kept_run(step, t, record) for t in targets if t.name in ok}

    def _prepared(self, step: Step) -> Prepared | None:
        """Values asked, ``when`` checked, the command rendered; None when the step ends here
        (``when`` is false, or a template error the operator does not fix)."""
        while True:
            try:
                self.inputs.ask_missing(step)
                if step.when and not template.evaluate(step.when, self.inputs.context()):
                    self._finish(step, "skipped", f"when: {step.when} is false")
                    return None
                return self.inputs.prepare(step)
            except template.TemplateError as exc:
                retry = self._failed_before_run(step, f"template error: {exc}")
                if retry is None:
                    return None
                step = retry

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
        answer = self.controller.ask_step(view)
        if answer.answer == "quit":
            self._decision(step, answer.prompt, "quit")
            raise QuitRun
        if answer.answer == "all":
            self._all = True
        if answer.answer == "edit" and answer.command is not None:
            self._decision(step, answer.prompt, "edit", original=view.editable,
                           edited=answer.command)
            edited = self.inputs.apply_edit(step, view.editable, answer.command)
            return self.inputs.confirm_edit(step, code, edited, view.targets)
        self._decision(step, answer.prompt, answer.answer)
        return ("skip" if answer.answer == "skip" else "run"), code

    def _decision(self, step: Step, prompt: str, answer: str, *, original: str | None = None,
                  edited: str | None = None, choice: str | None = None) -> None:
        self.emit(Decision(step=step.id, prompt=prompt, answer=answer, original=original,
                           edited=edited, choice=choice))

    # -- manual steps and alternatives ----------------------------------------------------------

    def _manual(self, step: Step) -> None:
        answer = self.controller.ask_manual(step)
        self._decision(step, answer.prompt, answer.answer)
        if answer.answer == "quit":
            raise QuitRun
        if answer.answer == "done":
            return self._finish(step, "ok", "done")
        reason = {"not_done": "not done", "skip": "skipped by operator"}.get(answer.answer, "")
        if self.options.yes:
            reason = "manual step: left for the operator (--yes)"
        self._finish(step, "skipped", reason, open_item=f"{step.id}: {step.title}")

    def _alternatives(self, group: Sequence[Step]) -> None:
        if any(self.state.status_of(s.id) == "ok" or self.state.done(s.id) for s in group):
            return
        index = self.controller.ask_choice([self.inputs.preview(step) for step in group])
        picked = group[index] if index is not None and 0 <= index < len(group) else None
        self._decision(group[0], "choose one", "choice", choice=picked.id if picked else None)
        for step in group:
            if step is not picked:
                self._finish(step, "skipped", "alternative not chosen")
        if picked is not None:
            self._one(picked, chosen=True)

    # -- results --------------------------------------------------------------------------------

    def _finish(self, step: Step, status: str, reason: str, open_item: str = "") -> None:
        """A result decided without running the step (skipped, blocked, a manual step)."""
        self.emit(StepFinished(step=step.id, status=status, reason=reason, open_item=open_item))

    def _failed_before_run(self, step: Step, reason: str) -> Step | None:
        """A step that could not even be prepared: the step to prepare again, or None."""
        self._finish(step, "failed", reason)
        if self.options.yes:
            if self.options.continue_on_error or step.continue_on_error:
                return None
            raise StopRun("failed")
        view = FailureView(step, "failed", None, reason, 0, editable=step.code)
        answer = self.controller.ask_failure(view)
        if answer.answer == "edit" and answer.command is not None:
            self._decision(step, answer.prompt, "edit", original=step.code, edited=answer.command)
        else:
            self._decision(step, answer.prompt, answer.answer)
        if answer.answer == "quit":
            raise QuitRun
        if answer.answer not in ("retry", "edit"):
            return None
        if answer.answer == "edit" and answer.command is not None:
            return replace(step, code=answer.command)  # the edited template, prepared anew
        return step


def last_steps(plan: RunPlan) -> dict[str, int]:
    """Each target's last step: its index in the plan's steps (one walk over the plan)."""
    last: dict[str, int] = {}
    for i, step in enumerate(plan.steps):
        if step.executable:
            last.update((t.name, i) for t in plan.targets_for(step))
    return last
