"""The engine driving real LocalRunners, with the --yes controller and a scripted operator."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.control import Answer, AutoController, StepView
from runbook_engine.engine import Engine, RunOptions, RunOutcome, RunPlan
from runbook_engine.events import StepFinished, event_from_json
from runbook_engine.inputs import dangerous_steps
from runbook_engine.model import LOCAL, HostTarget, Runbook, Step, VarSpec
from runbook_engine.recording import MemoryJournal, Recorder
from runbook_engine.redact import Redactor
from runbook_engine.runners.base import Runner
from runbook_engine.runners.local import LocalRunner
from runbook_engine.state import RunState
from runbook_engine.variables import Variable


def S(step_id: str, code: str = "", **kw: Any) -> Step:  # noqa: N802 - reads like a literal
    kw.setdefault("kind", "shell")
    return Step(id=step_id, title=step_id.title(), path="book.md", line=1, lang="bash",
                code=code, **kw)


class Scripted:
    """An operator answering from queues; records what it was shown."""

    def __init__(self, steps: Sequence[Any] = (), failures: Sequence[Any] = (),
                 manual: Sequence[str] = (), choices: Sequence[int | None] = (),
                 vars: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
        self.steps, self.failures = list(steps), list(failures)
        self.manual, self.choices, self.vars = list(manual), list(choices), list(vars)
        self.env = dict(env or {})
        self.asked: list[Any] = []

    @staticmethod
    def _answer(answer: Any) -> Answer:
        if isinstance(answer, BaseException):
            raise answer
        return answer if isinstance(answer, Answer) else Answer(answer, prompt="scripted")

    def ask_step(self, view: StepView) -> Answer:
        self.asked.append(("step", view))
        return self._answer(self.steps.pop(0) if self.steps else "run")

    def ask_failure(self, view: Any) -> Answer:
        self.asked.append(("failure", view))
        return self._answer(self.failures.pop(0) if self.failures else "skip")

    def ask_manual(self, step: Step) -> Answer:
        return Answer(self.manual.pop(0), prompt="scripted")

    def ask_choice(self, options: Sequence[StepView]) -> int | None:
        self.asked.append(("choice", [o.step.id for o in options]))
        return self.choices.pop(0)

    def ask_var(self, spec: VarSpec) -> str:
        self.asked.append(("var", spec))
        return self.vars.pop(0)

    def begin_step(self, step: Step) -> None:
        return None

    def ask_env(self, specs: Sequence[VarSpec]) -> Mapping[str, str]:
        names = [spec.name for spec in specs]
        self.asked.append(("env", names))
        return {n: self.env[n] for n in names if n in self.env}


class Harness:
    def __init__(self, steps: list[Step], controller: Any = None, *, yes: bool | None = None,
                 variables: dict[str, Variable] | None = None, vars: tuple[VarSpec, ...] = (),
                 targets: dict[str, list[str]] | None = None, secrets: tuple[str, ...] = (),
                 environ: dict[str, str] | None = None, state: RunState | None = None,
                 journal: MemoryJournal | None = None, **opts: Any) -> None:
        self.events: list[dict[str, Any]] = []  # as the transcript has them
        self.runners: dict[str, LocalRunner] = {}
        self.steps = steps
        self.variables = dict(variables or {})
        runbook = Runbook(path="book.md", title="Book", steps=tuple(steps), vars=vars,
                          sha256="abc")
        controller = controller or AutoController()
        yes = isinstance(controller, AutoController) if yes is None else yes
        self.targets = targets or {}
        self.environ = environ or dict(os.environ)
        self.state = state or RunState()
        emit = Recorder(self.state, journal or MemoryJournal(), Redactor(secrets),
                        kept=[lambda event: self.events.append(event.to_json())])
        self.engine = Engine(
            RunPlan(runbook, tuple(steps), self._targets, self.variables),
            RunOptions(run_id="r1", yes=yes, **opts), state=self.state, emit=emit,
            controller=controller, runners=self._runner, environ=self.environ,
        )

    def _targets(self, step: Step) -> list[HostTarget]:
        names = self.targets.get(step.id)
        return [HostTarget(name=n) for n in names] if names else [LOCAL]

    def _runner(self, target: HostTarget) -> Runner:
        if target.name not in self.runners:  # a fake "host": its own runner and base env
            self.runners[target.name] = LocalRunner({**self.environ, "FAKE_HOST": target.name})
        return self.runners[target.name]

    def run(self) -> RunOutcome:
        try:
            return self.engine.run()
        finally:
            for runner in self.runners.values():
                runner.close()

    def of(self, name: str, step: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name and (step is None or
                                                                   e.get("step") == step)]

    def finished(self, step: str) -> dict[str, Any]:
        (event,) = self.of("step_finished", step)
        return event

    def stdout(self, step: str) -> str:
        return "".join(e["text"] for e in self.of("output", step) if e["stream"] == "stdout")


def test_capture_extract_and_step_results_feed_templates() -> None:
    h = Harness([
        S("a", 'echo "version: 1.2.3"', capture="ver", extract=r"version: (\S+)"),
        S("b", 'echo "v={{ ver }} rc={{ steps.a.exit_code }} {{ steps.a.stdout | trim }}"'),
        S("c", 'echo "tag=x-1" >> "$RUNBOOK_OUTPUT"'),
        S("d", "echo {{ tag }}"),
    ])
    outcome = h.run()
    assert outcome.status == "ok" and outcome.exit_code == 0
    assert h.stdout("b") == "v=1.2.3 rc=0 version: 1.2.3\n"
    assert h.finished("a")["captured"] == {"ver": "1.2.3"}
    assert h.stdout("d") == "x-1\n"
    assert [(e["name"], e["source"]) for e in h.of("var_set")] == [("ver", "capture"),
                                                                     ("tag", "output")]


def test_event_sequence_and_fields() -> None:
    h = Harness([S("one", "echo hi", index=1), S("two", "cd /tmp && echo there", index=2)])
    h.run()
    names = [e["event"] for e in h.events]
    assert names == ["run_started", "step_started", "output", "step_finished", "step_started",
                     "output", "step_finished", "run_finished"]
    assert all(e["ts"].endswith("Z") and "T" in e["ts"] for e in h.events)
    started = h.of("step_started", "two")[0]
    assert started["index"] == 2 and started["targets"] == ["local"] and started["attempt"] == 1
    assert started["command"] == "cd /tmp && echo there" and len(started["code_sha256"]) == 64
    done = h.finished("two")
    assert done["status"] == "ok" and done["exit_code"] == 0 and done["attempts"] == 1
    assert done["session"]["local"]["cwd"] == "/tmp"
    assert h.events[0]["run_id"] == "r1" and h.events[0]["resumed"] is False
    assert h.events[-1]["counts"]["ok"] == 2 and h.events[-1]["status"] == "ok"


def test_when_false_skips() -> None:
    h = Harness([S("a", "echo a", when="mode == 'fast'")],
                variables={"mode": Variable("mode", "slow", "cli")})
    h.run()
    done = h.finished("a")
    assert done["status"] == "skipped" and "when" in done["reason"]
    assert not h.of("step_started")


def test_retries_are_counted(tmp_path) -> None:
    flag = tmp_path / "flag"
    h = Harness([S("a", f"test -f {flag} || {{ touch {flag}; exit 3; }}", retries=2, delay=0.01)])
    assert h.run().exit_code == 0
    assert h.finished("a")["attempts"] == 2
    assert [e["attempt"] for e in h.of("step_started")] == [1, 2]


def test_until_polls_until_expect_matches(tmp_path) -> None:
    counter = tmp_path / "n"
    code = f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; echo $n"
    h = Harness([S("a", code, until=True, expect="^3$", delay=0.05, timeout=20)])
    assert h.run().status == "ok"
    assert h.finished("a")["attempts"] == 3


def test_expect_failure_stops_yes_run() -> None:
    h = Harness([S("a", "echo nope", expect="ready"), S("b", "echo b")])
    outcome = h.run()
    assert outcome.status == "failed" and outcome.exit_code == 1
    assert "expect" in h.finished("a")["reason"]
    assert not h.of("step_started", "b")


def test_continue_on_error_goes_on() -> None:
    h = Harness([S("a", "exit 4", continue_on_error=True), S("b", "echo b")])
    outcome = h.run()
    assert outcome.exit_code == 1 and outcome.counts["failed"] == 1 and outcome.counts["ok"] == 1
    assert h.finished("a")["exit_code"] == 4


def test_timeout_status() -> None:
    h = Harness([S("a", "sleep 5", timeout=0.3)])
    start = time.monotonic()
    assert h.run().exit_code == 1
    assert h.finished("a")["status"] == "timeout"
    assert time.monotonic() - start < 4


def test_quit_edit_and_all() -> None:
    ctl = Scripted(steps=[Answer("edit", command="echo edited"), "all", "quit"])
    h = Harness([S("a", "echo original"), S("b", "echo b"), S("c", "echo c"),
                 S("d", "rm -rf /tmp/nothing-here-$RANDOM")], ctl)
    outcome = h.run()
    assert h.stdout("a") == "edited\n"
    edit = h.of("decision", "a")[0]
    assert edit["answer"] == "edit" and edit["original"] == "echo original"
    assert edit["edited"] == "echo edited"
    assert h.stdout("c") == "c\n"  # "all" stopped the asking...
    assert [a[1].step.id for a in ctl.asked] == ["a", "b", "d"]  # ...except for the dangerous one
    assert outcome.status == "aborted" and not h.of("step_started", "d")


def test_failure_menu_retry_then_skip(tmp_path) -> None:
    flag = tmp_path / "f"
    ctl = Scripted(failures=["retry"])
    h = Harness([S("a", f"test -f {flag} || {{ touch {flag}; exit 1; }}")], ctl)
    assert h.run().status == "ok"
    assert h.finished("a")["attempts"] == 2
    assert [e["answer"] for e in h.of("decision", "a")] == ["run", "retry"]


def test_alternatives_and_manual_steps() -> None:
    ctl = Scripted(choices=[1], manual=["done", "not_done"])
    h = Harness([S("apt", "echo apt", choice="install"), S("yum", "echo yum", choice="install"),
                 S("check", "Look at the graph", kind="manual"),
                 S("page", "Page the owner", kind="manual")], ctl)
    outcome = h.run()
    assert h.finished("apt")["reason"] == "alternative not chosen"
    assert h.stdout("yum") == "yum\n"
    assert ctl.asked[0] == ("choice", ["apt", "yum"])
    assert h.finished("check")["status"] == "ok"
    assert outcome.open_items == ["page: Page"]


def test_manual_steps_in_yes_mode_are_open_items() -> None:
    h = Harness([S("m", "Do it", kind="manual")])
    outcome = h.run()
    assert outcome.open_items == ["m: M"] and outcome.exit_code == 0


def test_secrets_masked_everywhere() -> None:
    h = Harness([
        S("tok", "echo s3cr3t-value-$((40 + 2))", capture="token", secret=True),
        S("use", 'echo "got {{ token }}"; printf "abc"; sleep 0.2; printf "defgh\\n"'),
        S("env", 'echo "$API_TOKEN"'),
    ], secrets=("abcdefgh",), environ={**os.environ, "API_TOKEN": "tk-998877"})
    h.run()
    blob = json.dumps(h.events)
    assert "s3cr3t-value-42" not in blob and "abcdefgh" not in blob and "tk-998877" not in blob
    assert h.stdout("use") == "got ****\n****\n"
    assert h.stdout("env") == "****\n"
    assert h.engine.inputs.value("token") == "s3cr3t-value-42"  # known to this session only
    assert h.state.variables["token"].value == "****" and h.state.lost == ["token"]


def test_prompts_for_vars_placeholders_and_env() -> None:
    spec = VarSpec("region", choices=("eu", "us"))
    ctl = Scripted(vars=["mars", "eu", "db-1"], env={"RB_TEST_UNSET": "from-prompt"})
    h = Harness([S("a", "echo {{ region }}"), S("b", "echo {{ region }} <host>"),
                 S("c", 'echo "$RB_TEST_UNSET"')], ctl, yes=False, vars=(spec,))
    ctl.steps = ["all"]
    h.run()
    asked = [a for a in ctl.asked if a[0] in ("var", "env")]
    assert [a[1].name if a[0] == "var" else a[1] for a in asked] == [
        "region", "region", "host", ["RB_TEST_UNSET"]]
    assert asked[2][1].placeholder is True
    assert h.stdout("b") == "eu db-1\n" and h.stdout("c") == "from-prompt\n"


def test_fan_out_parallel_capture_and_hosts() -> None:
    h = Harness([S("who", 'sleep 0.5; echo "$FAKE_HOST"', capture="who"),
                 S("show", "echo {{ who['h2'] }} {{ steps.who.hosts.h3.status }}")],
                targets={"who": ["h1", "h2", "h3"]})
    start = time.monotonic()
    assert h.run().status == "ok"
    assert time.monotonic() - start < 1.4  # in parallel, not 3 x 0.5 s
    assert h.engine.inputs.value("who") == {"h1": "h1", "h2": "h2", "h3": "h3"}
    assert sorted(e["host"] for e in h.of("output", "who")) == ["h1", "h2", "h3"]
    assert set(h.finished("who")["hosts"]) == {"h1", "h2", "h3"}
    assert h.stdout("show") == "h2 ok\n"
    assert len(h.of("step_started", "who")) == 1


def test_serial_and_max_fail() -> None:
    hosts = ["h1", "h2", "h3", "h4"]
    h = Harness([S("roll", '[ "$FAKE_HOST" != h2 ]', serial=1, continue_on_error=True),
                 S("pct", '[ "$FAKE_HOST" != h1 ]', serial=1, max_fail="50%")],
                targets={"roll": hosts, "pct": hosts})
    h.run()
    roll = h.finished("roll")["hosts"]
    assert [roll[n]["status"] for n in hosts] == ["ok", "failed", "skipped", "skipped"]
    pct = h.finished("pct")["hosts"]
    assert [pct[n]["status"] for n in hosts] == ["failed", "ok", "ok", "ok"]


def test_ctrl_c_during_step_shows_failure_menu_and_run_goes_on() -> None:
    ctl = Scripted(failures=["skip"])
    h = Harness([S("slow", "sleep 30"), S("next", "echo next")], ctl)
    ctl.steps = ["run", "run"]
    timer = threading.Timer(0.4, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    start = time.monotonic()
    outcome = h.run()
    assert time.monotonic() - start < 5
    assert h.finished("slow")["status"] == "interrupted"
    assert ctl.asked[1][0] == "failure" and ctl.asked[1][1].status == "interrupted"
    assert h.stdout("next") == "next\n"
    assert outcome.exit_code == 1


def test_ctrl_c_at_a_prompt_exits_130() -> None:
    h = Harness([S("a", "echo a")], Scripted(steps=[KeyboardInterrupt()]))
    outcome = h.run()
    assert outcome.exit_code == 130 and outcome.status == "interrupted"
    assert h.events[-1]["event"] == "run_finished" and h.events[-1]["status"] == "interrupted"


def test_resume_skips_finished_and_restores_state() -> None:
    first = Harness([S("a", 'cd /tmp; export RESUMED=yes; echo "out-a"', capture="x"),
                     S("b", "exit 3")])
    assert first.run().exit_code == 1
    again = Harness([S("a", "echo a"),
                     S("b", 'pwd; echo "$RESUMED {{ x }} {{ steps.a.stdout }}"')],
                    state=RunState.fold(_events(first.events)))
    outcome = again.run()
    assert not again.of("step_started", "a") and not again.of("step_finished", "a")
    assert again.stdout("b") == "/tmp\nyes out-a out-a\n\n"
    assert again.events[0]["resumed"] is True
    assert outcome.counts == {"ok": 2} and outcome.exit_code == 0  # the whole run, both sessions


def _events(dicts: list[dict[str, Any]]) -> list[Any]:
    return [event_from_json(d) for d in dicts]


def test_dangerous_steps_listed() -> None:
    h = Harness([S("wipe", "rm -rf /var/lib/thing"), S("safe", "rm -rf /x", danger=False),
                 S("forced", "echo hi", danger=True)])
    found = {step.id: reasons for step, reasons in dangerous_steps(h.steps, h.state, {})}
    assert set(found) == {"wipe", "forced"} and found["forced"] == ["marked dangerous"]
    assert found["wipe"]


@pytest.mark.parametrize("blocked_by", ["exit 1"])
def test_needs_a_failed_step_blocks(blocked_by: str) -> None:
    h = Harness([S("a", blocked_by, continue_on_error=True), S("b", "echo b", needs=("a",))])
    h.run()
    assert h.finished("b")["status"] == "blocked"


def test_dangerous_step_is_never_run_unasked_in_yes_mode(tmp_path) -> None:
    target = tmp_path / "keep"
    target.mkdir()
    h = Harness([S("wipe", f"rm -rf {target}")])
    assert h.run().exit_code == 1
    assert h.finished("wipe")["status"] == "blocked" and target.exists()
    h = Harness([S("wipe", f"rm -rf {target}")], allow_danger=True)
    assert h.run().exit_code == 0 and not target.exists()
    assert h.of("decision", "wipe")[0]["prompt"] == "--allow-danger"


def test_step_cwd_env_templates_and_template_errors(tmp_path) -> None:
    h = Harness([S("a", 'pwd; echo "$GREETING"', cwd="{{ where }}",
                   env=(("GREETING", "hi {{ who }}"),)),
                 S("b", "echo {{ steps.nope.stdout }}"), S("c", "echo c")],
                variables={"where": Variable("where", str(tmp_path), "cli"),
                           "who": Variable("who", "bob", "cli")})
    outcome = h.run()
    assert h.stdout("a") == f"{tmp_path}\nhi bob\n"
    assert h.finished("b")["status"] == "failed" and "template" in h.finished("b")["reason"]
    assert outcome.exit_code == 1 and not h.of("step_started", "c")


def test_exec_and_own_exit_trap_leave_the_session_alone(tmp_path) -> None:
    h = Harness([S("a", f"cd {tmp_path}"), S("b", "cd /; exec true"),
                 S("c", "trap 'echo mine' EXIT; cd /"), S("d", "pwd")])
    h.run()
    assert h.stdout("c") == "mine\n" and h.stdout("d") == f"{tmp_path}\n"


class SettleLog(MemoryJournal):
    """A journal that notes, each time the engine settles it, what was recorded by then and
    which steps' marker files exist."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.settled: list[tuple[list[str], list[str]]] = []

    def settle(self) -> None:
        finished = [e.step for e in self.events if isinstance(e, StepFinished)]
        self.settled.append((finished, sorted(p.name for p in self.folder.iterdir())))


def test_each_step_runs_only_after_the_results_before_it_are_settled(tmp_path: Path) -> None:
    """The transcript fsyncs on a thread of its own; the engine settles the journal before each
    step runs, so a power cut never leaves a step's effects without the results before it."""
    journal = SettleLog(tmp_path)
    h = Harness([S("a", f"touch {tmp_path}/a"), S("b", f"touch {tmp_path}/b"),
                 S("c", f"touch {tmp_path}/c")], journal=journal)
    assert h.run().status == "ok"
    assert journal.settled == [([], []), (["a"], ["a"]), (["a", "b"], ["a", "b"])]


class HintedHarness(Harness):
    """A harness whose runners note, per step and host, the ``more_follow`` hint they got."""

    hints: dict[tuple[str, str], bool]

    def _runner(self, target: HostTarget) -> Runner:
        if target.name not in self.runners:
            hints = self.hints = getattr(self, "hints", {})

            class Noting(LocalRunner):
                def run(self, command: Any, on_output: Any, cancel: threading.Event) -> Any:
                    hints[(command.step_id, target.name)] = command.more_follow
                    return super().run(command, on_output, cancel)

            self.runners[target.name] = Noting({**self.environ, "FAKE_HOST": target.name})
        return self.runners[target.name]


def test_runners_hear_whether_a_later_step_runs_on_their_host() -> None:
    # the persistent remote shell forks the next step's processes ahead only when one is
    # planned on its host: after a host's last step they would be forked for nothing
    h = HintedHarness([S("a", "true"), S("b", "true"), S("read", "just read", kind="doc"),
                       S("c", "true"), S("d", "true")],
                      targets={"a": ["h1", "h2"], "b": ["h1"], "c": ["h2"]})
    assert h.run().status == "ok"
    assert h.hints == {("a", "h1"): True, ("a", "h2"): True, ("b", "h1"): False,
                       ("c", "h2"): False, ("d", "local"): False}
