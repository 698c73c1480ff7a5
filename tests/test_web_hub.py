"""The parts behind the page, without a server: what an answer means (shared with the terminal),
the page's model of a run folded from events, and the numbered messages a page follows."""

from __future__ import annotations

import pytest

from runbook_engine import answers
from runbook_engine.control import QuitRun, StepView
from runbook_engine.events import Output, RunStarted, StepFinished, StepStarted
from runbook_engine.model import Step, VarSpec
from runbook_engine.web.hub import Hub
from runbook_engine.web.live import PAGE_LINES, LiveRun


def view(danger: tuple[str, ...] = (), confirm: bool | str = False) -> StepView:
    step = Step(id="wipe", title="Wipe", path="b.md", line=3, kind="shell", confirm=confirm)
    return StepView(step=step, command="rm -rf x", targets=("local",), danger=danger)


def test_a_dangerous_step_runs_only_on_its_id() -> None:
    dangerous = view(danger=("rm -rf deletes files",))
    assert answers.read_step(dangerous, "wipe").answer == "run"
    for typed in ("y", "yes", "a", "WIPE", "wipe now"):
        reading = answers.read_step(dangerous, typed)
        assert reading.answer is None
        assert reading.problem == "this step is dangerous: type its id 'wipe' to run it"
    assert [answers.read_step(dangerous, k).answer for k in ("n", "s", "e", "q")] == [
        "skip", "skip", "edit", "quit"]
    assert answers.step_prompt(dangerous).startswith("Type wipe to run this dangerous step")


def test_a_plain_step_takes_the_terminals_keys() -> None:
    plain = view(confirm="Really?")
    assert [answers.read_step(plain, k).answer for k in ("y", "N", " e ", "a", "q")] == [
        "run", "skip", "edit", "all", "quit"]
    assert answers.read_step(plain, "?").help
    assert answers.read_step(plain, "wipe").problem == "please answer one of a/e/n/no/q/y/yes"
    assert answers.step_prompt(plain) == "Really? [y/n/e/a/q/?]"


def test_choices_values_edits_and_notes() -> None:
    assert answers.read_choice("2", 3) == 1
    assert answers.read_choice("n", 3) is None
    with pytest.raises(ValueError, match="answer a number from 1 to 3, or n"):
        answers.read_choice("4", 3)
    with pytest.raises(QuitRun):
        answers.read_choice("q", 3)
    spec = VarSpec("region", default="eu", has_default=True)
    assert answers.var_value(spec, "") == "eu" and answers.var_value(spec, "us") == "us"
    assert answers.var_label(spec) == "Value for region [eu]:"
    secret = VarSpec("token", default="s3cr3t", has_default=True, secret=True)
    assert "s3cr3t" not in answers.var_label(secret)  # a secret's default is never shown
    assert answers.edited_command("  \n") is None and answers.edited_command("ls\n") == "ls\n"
    assert answers.note_text("# paged the DBA") == "paged the DBA"
    assert answers.note_text("y") is None
    assert answers.env_values({"A": "1", "B": ""}) == {"A": "1"}


def test_the_page_keeps_the_last_lines_of_a_stream_and_counts_the_rest() -> None:
    live = LiveRun()
    live.apply(RunStarted(run_id="r", title="T"))
    live.apply(StepStarted(step="s", targets=("local",), command="seq 5000"))
    live.apply(Output(step="s", text="".join(f"{n}\n" for n in range(1, 5001))))
    out = live.step_view("s")["outputs"][0]
    assert len(out["lines"]) == PAGE_LINES and out["lines"][-1] == "5000"
    assert out["dropped"] == 5000 - PAGE_LINES
    live.apply(StepStarted(step="s", targets=("local",), attempt=2, command="true"))
    assert live.step_view("s")["outputs"] == []  # a new attempt starts afresh
    live.apply(StepFinished(step="s", status="ok", exit_code=0, attempts=2))
    assert live.step_view("s")["status"] == "ok"
    assert live.run_view()["counts"] == {"ok": 1}


def test_a_page_too_far_behind_is_told_to_reload() -> None:
    hub = Hub(history=3)
    hub.observe(RunStarted(run_id="r", title="T"))
    hub.observe(StepStarted(step="s", targets=("local",)))
    for n in range(5):
        hub.observe(Output(step="s", text=f"line {n}\n"))
    latest = hub.snapshot()["seq"]
    assert hub.since(0, timeout=0) is None  # the oldest messages are gone: reload the state
    recent = hub.since(latest - 1, timeout=0)
    assert recent is not None and [m[0] for m in recent] == [latest]
    assert hub.since(latest, timeout=0.05) == []
