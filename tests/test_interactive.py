"""Interactive `runbook run` through a real pty (pexpect): answers, danger, Ctrl-C, retry, notes."""

from __future__ import annotations

import time
from pathlib import Path

import pexpect
import pytest
from ptyrun import FAIL_PROMPT, STEP_PROMPT, book, events, finished, spawn


def test_yes_no_and_quit(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#one}\necho ONE-RAN\n```\n\n"
                          "```bash {#two}\necho TWO-RAN\n```\n\n"
                          "```bash {#three}\necho THREE-RAN\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("ONE-RAN")
    child.expect(STEP_PROMPT)
    child.sendline("n")
    child.expect(STEP_PROMPT)
    child.sendline("q")
    child.expect(pexpect.EOF)
    child.close()
    assert "THREE-RAN" not in child.before
    assert finished(tmp_path) == {"one": "ok", "two": "skipped"}
    assert events(tmp_path)[-1]["status"] == "aborted"


def test_all_runs_the_rest_but_dangerous_still_asks(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#one}\necho ONE-RAN\n```\n\n"
                          "```bash {#two}\necho TWO-RAN\n```\n\n"
                          "```bash {#wipe}\nrm -rf /tmp/runbook-test-does-not-exist\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("a")
    child.expect("TWO-RAN")
    child.expect("Type wipe to run this dangerous step")
    child.sendline("y")  # not enough for a dangerous step
    child.expect("type its id")
    child.sendline("wipe")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert finished(tmp_path) == {"one": "ok", "two": "ok", "wipe": "ok"}


def test_edit_inline_runs_the_edited_command(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#greet}\necho ORIGINAL\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("e")
    child.expect("end with an empty line")
    child.sendline("echo EDITED-$((40+2))")
    child.sendline("")
    child.expect("EDITED-42")
    child.expect(pexpect.EOF)
    decisions = [e for e in events(tmp_path) if e["event"] == "decision"]
    assert decisions[0]["answer"] == "edit"
    assert "ORIGINAL" in decisions[0]["original"] and "EDITED" in decisions[0]["edited"]


def test_ctrl_c_stops_the_step_not_the_run(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#slow}\necho SLOW-STARTED; sleep 30\n```\n\n"
                          "```bash {#next}\necho NEXT-RAN\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("SLOW-STARTED")
    started = time.monotonic()
    child.sendintr()
    child.expect(FAIL_PROMPT)
    assert time.monotonic() - started < 10
    child.sendline("s")
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("NEXT-RAN")
    child.expect(pexpect.EOF)
    child.close()
    assert finished(tmp_path) == {"slow": "skipped", "next": "ok"} or \
        finished(tmp_path)["next"] == "ok"
    statuses = [e.get("status") for e in events(tmp_path) if e.get("step") == "slow"
                and e["event"] == "step_finished"]
    assert statuses  # the interrupted step was recorded
    assert child.exitstatus == 1  # a step was interrupted


def test_ctrl_c_at_a_prompt_quits_with_130(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#one}\necho one\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "Traceback" not in child.before
    assert events(tmp_path)[-1]["status"] == "interrupted"


def test_failing_step_then_retry(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    path = book(tmp_path, f"# T\n\n```bash {{#flaky}}\nif [ -e {flag} ]; then echo FIXED; "
                          f"else touch {flag}; echo BROKEN; exit 3; fi\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("BROKEN")
    child.expect(FAIL_PROMPT)
    child.sendline("r")
    child.expect("FIXED")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    done = [e for e in events(tmp_path) if e["event"] == "step_finished"][-1]
    assert done["status"] == "ok" and done["attempts"] == 2


def test_timeout_shows_failure_menu(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#slow timeout=1s}\nsleep 20\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    started = time.monotonic()
    child.sendline("y")
    child.expect("timeout")
    child.expect(FAIL_PROMPT)
    assert time.monotonic() - started < 8
    child.sendline("s")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1


def test_notes_are_recorded_and_the_prompt_asked_again(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#one}\necho one\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("# customer reported 502s at 21:00")
    child.expect("note recorded")
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect(pexpect.EOF)
    notes = [e for e in events(tmp_path) if e["event"] == "note"]
    assert notes and "502s" in notes[0]["text"]


def test_placeholder_and_secret_prompt(tmp_path: Path) -> None:
    path = book(tmp_path, "---\nvars:\n  token:\n    secret: true\n---\n# T\n\n"
                          "```bash {#use}\necho \"pid=<PID> token={{ token }}\"\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect("token")
    child.sendline("hunter2-secret")
    child.expect("PID")
    child.sendline("4242")
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("pid=4242")
    child.expect(pexpect.EOF)
    raw = (tmp_path / "t.jsonl").read_text()
    assert "hunter2-secret" not in raw and "****" in raw


@pytest.mark.parametrize("answer,status", [("d", "ok"), ("n", "skipped")])
def test_manual_step_answers(tmp_path: Path, answer: str, status: str) -> None:
    path = book(tmp_path, "# T\n\n- [ ] Update the status page\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(r"\[d/n/s/q/\?\]")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    assert list(finished(tmp_path).values()) == [status]


def test_alternatives_pick_one(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash\necho FIRST-WAY\n# Or\necho SECOND-WAY\n```\n")
    child = spawn(path, "--granularity", "command", tmp_path=tmp_path)
    child.expect(r"Which one\? \[1-2/n/q\]")
    child.sendline("2")  # picking one is the decision: no second prompt
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    out = child.before
    assert "SECOND-WAY" in out and "\nFIRST-WAY" not in out.replace("echo FIRST-WAY", "")
    statuses = sorted(finished(tmp_path).values())
    assert statuses == ["ok", "skipped"]


def test_unset_environment_is_offered(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#use}\necho \"url=$RB_TEST_UNSET_URL\"\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect("RB_TEST_UNSET_URL")
    child.expect(r"Set RB_TEST_UNSET_URL for this run")
    child.sendline("postgres://example")
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("url=postgres://example")
    child.expect(pexpect.EOF)
