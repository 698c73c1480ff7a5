"""The operator's prompts in a real pty: secrets typed blind at every prompt, the runbook's own
prompt text, editing that fails safe, and a dangerous step that runs only on its typed id."""

from __future__ import annotations

from pathlib import Path

import pexpect
from ptyrun import STEP_PROMPT, book, dialog, events, finished, screen, spawn

SECRET = "hunter2-S3CRET"


def _no_secret_anywhere(child: pexpect.spawn, tmp_path: Path) -> None:
    child.expect(pexpect.EOF)
    assert SECRET not in screen(child.before) and SECRET not in (tmp_path / "t.jsonl").read_text()


def test_declared_secret_env_is_asked_blind_with_the_runbooks_prompt(tmp_path: Path) -> None:
    # books/api-not-starting.md: DATABASE_URL (env, secret, prompt), read by psql "$DATABASE_URL"
    path = book(tmp_path, "---\nvars:\n  DATABASE_URL:\n    env: DATABASE_URL\n    secret: true\n"
                          "    prompt: PostgreSQL connection string\n---\n# T\n\n"
                          "```bash {#ping}\n"
                          "echo \"url is $(expr length \"$DATABASE_URL\") long: $DATABASE_URL\"\n"
                          "```\n")
    child = spawn(path, tmp_path=tmp_path, env={"DATABASE_URL": None})
    child.expect(r"1\. T  #ping ")  # the step first: what the value is for
    child.expect(r"PostgreSQL connection string \(sets \$DATABASE_URL")
    child.sendline(SECRET)
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect(rf"url is {len(SECRET)} long: \*\*\*\*")
    _no_secret_anywhere(child, tmp_path)


def test_secret_named_env_var_is_asked_blind(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#use}\n"
                          "echo \"token $(expr length \"$RB_API_TOKEN\")\"\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect("Set RB_API_TOKEN for this run")
    child.sendline(SECRET)
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect(f"token {len(SECRET)}")
    _no_secret_anywhere(child, tmp_path)


def test_secret_capture_asked_again_on_resume_is_blind(tmp_path: Path) -> None:
    # the code does not hold the secret: only what it prints does
    path = book(tmp_path, "# T\n\n```bash {#get capture=token secret}\n"
                          "echo hunter2-S3C''RET\n```\n\n```bash {#later}\n"
                          "echo \"len $(expr length {{ token | q }})\"\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect(STEP_PROMPT)
    child.sendline("q")  # quit: the captured secret is not in the transcript, so it is lost
    child.expect(pexpect.EOF)
    resumed = spawn(path, "--resume", str(tmp_path / "t.jsonl"), tmp_path=tmp_path)
    resumed.expect(r"Value for token \(needed by step later, line \d+\):")
    resumed.sendline(SECRET)
    resumed.expect(STEP_PROMPT)
    resumed.sendline("y")
    resumed.expect(f"len {len(SECRET)}")
    _no_secret_anywhere(resumed, tmp_path)


def test_an_aborting_editor_keeps_the_step_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = book(tmp_path, f"# T\n\n```bash {{#touch}}\ntouch {marker}\n```\n")
    child = spawn(path, tmp_path=tmp_path, env={"EDITOR": "false"})  # like vim's :cq
    child.expect(STEP_PROMPT)
    child.sendline("e")
    child.expect(r"the editor 'false' exited with status 1: the step is unchanged\r\n")
    child.expect(STEP_PROMPT)  # the same prompt again
    assert not marker.exists()
    child.sendline("n")
    child.expect(pexpect.EOF)
    assert not marker.exists() and finished(tmp_path) == {"touch": "skipped"}


def test_a_missing_editor_keeps_the_step_and_the_run_goes_on(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = book(tmp_path, f"# T\n\n```bash {{#touch}}\ntouch {marker}\n```\n")
    child = spawn(path, tmp_path=tmp_path, env={"EDITOR": "/nonexistent/editor --wait"})
    child.expect(STEP_PROMPT)
    child.sendline("e")
    child.expect(r"cannot start the editor '/nonexistent/editor' \(\$EDITOR\): .*"
                 r"the step is unchanged")
    child.expect(STEP_PROMPT)
    assert not marker.exists()
    child.sendline("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and marker.exists()
    assert events(tmp_path)[-1]["event"] == "run_finished"


def test_failure_prompt_edit_with_an_aborting_editor_asks_again(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#fails}\necho ATTEMPT; exit 3\n```\n")
    child = spawn(path, tmp_path=tmp_path, env={"EDITOR": "false"})
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect(r"\[r/e/s/q/\?\]")
    child.sendline("e")
    child.expect("the step is unchanged")
    child.expect(r"\[r/e/s/q/\?\]")  # not retried behind the operator's back
    child.sendline("s")
    child.expect(pexpect.EOF)
    assert screen(child.before).count("ATTEMPT\n") == 0  # the attempt's output came earlier
    assert [e["attempt"] for e in events(tmp_path) if e["event"] == "step_started"] == [1]


def test_inline_edit_with_nothing_typed_keeps_the_step(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#greet}\necho ORIGINAL-RAN\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("e")
    child.expect("end with an empty line")
    child.sendline("")
    child.expect("nothing typed: the step is unchanged")
    child.expect(STEP_PROMPT)
    child.sendline("n")
    child.expect(pexpect.EOF)
    assert "ORIGINAL-RAN\r\n" not in child.before


DANGER = "# T\n\n```bash {#wipe}\nrm -rf /tmp/runbook-screen-test-absent\n```\n"


def test_editing_a_dangerous_step_still_ends_with_its_typed_id(tmp_path: Path) -> None:
    path = book(tmp_path, DANGER)
    child = spawn(path, tmp_path=tmp_path)
    child.expect("Type wipe to run this dangerous step")
    child.sendline("e")
    child.expect("end with an empty line")
    child.sendline("echo EDITED-RAN")
    child.sendline("")
    child.expect("edited:")
    child.expect("Type wipe to run this dangerous step")  # the edit did not run it
    child.sendline("y")
    child.expect("type its id 'wipe'")
    child.sendline("wipe")
    child.expect("EDITED-RAN")
    child.expect(pexpect.EOF)
    decisions = [e["answer"] for e in events(tmp_path) if e["event"] == "decision"]
    assert decisions == ["edit", "run"]


def test_editing_a_safe_step_into_a_dangerous_one_asks_for_the_id(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#look}\nls /tmp >/dev/null\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("e")
    child.expect("end with an empty line")
    child.sendline("rm -rf /tmp/runbook-screen-test-absent && echo REMOVED")
    child.sendline("")
    child.expect("Type look to run this dangerous step")
    child.sendline("n")
    child.expect(pexpect.EOF)
    assert "REMOVED\r\n" not in child.before and finished(tmp_path) == {"look": "skipped"}


def test_danger_help_lists_exactly_the_keys_it_takes(tmp_path: Path) -> None:
    path = book(tmp_path, DANGER)
    child = spawn(path, tmp_path=tmp_path)
    child.expect("Type wipe to run this dangerous step")
    child.sendline("?")
    child.expect("Type wipe to run this dangerous step")
    shown = screen(child.before)
    keys = [line.split()[0] for line in shown.splitlines()[1:] if line.strip()]
    assert keys == ["wipe", "e", "n", "q", "?", "#"]  # no 'y', no 'a': they are refused here
    child.sendline("s")  # 's' is named in the help line of 'n'
    child.expect(pexpect.EOF)
    assert finished(tmp_path) == {"wipe": "skipped"}


def test_confirm_text_shows_its_values(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#pid capture=pid}\necho 4242\n```\n\n"
                          "```bash {#stop confirm=\"Stop process {{ pid }}?\"}\necho stop\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    dialog(child, (STEP_PROMPT, "y"), (r"Stop process 4242\? \[y/n/e/a/q/\?\]", "n"))
    child.expect(pexpect.EOF)


def test_an_answer_typed_while_a_step_runs_does_not_answer_the_next(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#slow}\necho SLOW-STARTED; sleep 1.5\n```\n\n"
                          "```bash {#next}\necho NEXT-RAN\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    # the second "y" is typed ahead, before step 2 is even shown
    dialog(child, (STEP_PROMPT, "y"), ("SLOW-STARTED", "y"))
    child.expect(r"2\. T  #next")
    child.expect(STEP_PROMPT)
    assert child.expect([r"NEXT-RAN\r\n", pexpect.TIMEOUT], timeout=2) == 1  # still asking
    child.sendline("n")
    child.expect(pexpect.EOF)
    assert finished(tmp_path) == {"slow": "ok", "next": "skipped"}
