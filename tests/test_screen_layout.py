"""What the operator's screen shows, in a real pty: a step's header before anything is asked
about it, headers after `a`, output colours, one spelling of durations, and steps that get the
terminal (consoles, `top`, `tail -f`) with no spinner over them and no default timeout."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pexpect
from ptyrun import FAIL_PROMPT, STEP_PROMPT, book, dialog, events, finished, screen, shown, spawn

COLOUR = {"NO_COLOR": None, "TERM": "xterm-256color"}


def test_the_step_header_comes_before_its_placeholder_and_empty_is_refused(
        tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n## Stop it\n\n```bash {#show}\necho \"pid=<PID>\"\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(r"Value for <PID>[^\n]*:")
    text = screen(child.before)
    assert text.index("T › Stop it") < text.index("1. Stop it  #show")
    child.sendline("")
    child.expect(r"<PID> needs a value: the command would run with an empty one")
    child.expect(r"Value for <PID>")  # asked again
    child.sendline("4242")
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("pid=4242")
    child.expect(pexpect.EOF)
    assert "pid=''" not in child.before


def test_after_all_every_step_gets_a_one_line_header(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#one}\necho ONE-RAN\n```\n\n"
                          "```bash {#two title=\"Second\"}\necho TWO-RAN\n```\n\n"
                          "```bash {#three title=\"Third\"}\necho THREE-RAN\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("a")
    child.expect(pexpect.EOF)
    text = shown(child)
    assert re.search(r"\n2\. Second  #two [^\n]*\nTWO-RAN\n✓ two ok", text), text
    assert re.search(r"\n3\. Third  #three [^\n]*\nTHREE-RAN\n✓ three ok", text), text


def test_output_keeps_the_terminal_colour_and_stderr_is_not_red(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#both}\necho OUT-LINE; echo ERR-LINE >&2\n```\n\n"
                          "```bash {#fails}\nexit 3\n```\n")
    child = spawn(path, tmp_path=tmp_path, env=COLOUR)
    child.expect(STEP_PROMPT)
    child.sendline("a")
    child.expect(FAIL_PROMPT)
    child.sendline("s")
    child.expect(pexpect.EOF)
    raw = child.logfile_read.getvalue()
    out = re.search(r"(?:\n|\x1b\[2K)((?:\x1b\[[0-9;]*m)*)OUT-LINE\r", raw)
    assert out and not re.search(r"\x1b\[(3[0-7]|9[0-7])m", out.group(1))  # no colour set
    err = re.search(r"\x1b\[([0-9;]*)mERR-LINE", raw)
    assert err and err.group(1) == "33"  # yellow: told apart, and not red
    assert "\x1b[31m" not in raw.split("✗")[0]  # red first shows with the failure
    assert re.search(r"\x1b\[[0-9;]*31m✗ fails failed", raw)


def test_durations_have_one_spelling(tmp_path: Path) -> None:
    path = book(tmp_path, "---\ndefaults:\n  timeout: 30s\n---\n# T\n\n"
                          "```bash {#short}\necho hi\n```\n\n```bash {#long timeout=300}\necho hi\n"
                          "```\n")
    plan = spawn(path, tmp_path=tmp_path, command="plan")
    plan.expect(pexpect.EOF)
    run = spawn(path, tmp_path=tmp_path)
    run.expect(STEP_PROMPT)
    run.sendline("y")
    run.expect(STEP_PROMPT)
    run.sendline("y")
    run.expect(pexpect.EOF)
    for text in (shown(plan), shown(run)):
        assert "30s" in text and "5m" in text, text
        assert "30.0" not in text and "300" not in text


def test_an_interrupted_step_says_it_once(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#slow}\necho STARTED; sleep 30\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("STARTED")
    child.sendintr()
    child.expect(FAIL_PROMPT)
    assert "interrupted: interrupted" not in child.before
    assert "✗ slow interrupted\r\n" in child.before
    child.sendline("q")
    child.expect(pexpect.EOF)


# -- steps that get the terminal --------------------------------------------------------------

TIMEOUT_1S = "---\ndefaults:\n  timeout: 1s\n---\n# T\n\n"


def test_a_console_gets_the_terminal_no_spinner_and_no_default_timeout(tmp_path: Path) -> None:
    path = book(tmp_path, TIMEOUT_1S + f"```bash {{#console}}\nsqlite3 {tmp_path}/x.db\n```\n")
    child = spawn(path, tmp_path=tmp_path, env={"TERM": "xterm"})
    child.expect(STEP_PROMPT)
    assert "timeout" not in screen(child.before).split("1. ")[-1]  # not offered: not applied
    child.sendline("y")
    child.expect("sqlite> ")
    time.sleep(2)  # past the runbook's default timeout
    child.sendline("select 40 + 2;")
    child.expect("42")
    child.sendline(".quit")
    child.expect(pexpect.EOF)
    assert "running console" not in child.before  # the spinner's text
    assert finished(tmp_path) == {"console": "ok"}


def test_top_is_not_timed_out_by_the_default(tmp_path: Path) -> None:
    path = book(tmp_path, TIMEOUT_1S + "```bash {#top}\ntop -d 0.5\n```\n")
    child = spawn(path, tmp_path=tmp_path, env={"TERM": "xterm"})
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("load average")
    time.sleep(2)
    child.send("q")
    child.expect(pexpect.EOF)
    assert "running top" not in child.before
    assert finished(tmp_path) == {"top": "ok"}


def test_tail_f_runs_past_the_default_timeout_and_ctrl_c_ends_it_well(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("FIRST-LINE\n")
    path = book(tmp_path, TIMEOUT_1S + f"```bash {{#follow}}\ntail -f {log}\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("FIRST-LINE")
    time.sleep(2)
    with log.open("a") as handle:
        handle.write("LATER-LINE\n")
    child.expect("LATER-LINE")  # still following, past the 1s default
    child.sendintr()
    child.expect(pexpect.EOF)
    done = [e for e in events(tmp_path) if e["event"] == "step_finished"]
    assert done[-1]["status"] == "ok" and "stopped by the operator" in done[-1]["reason"]


def test_an_explicit_timeout_still_applies_to_a_console(tmp_path: Path) -> None:
    path = book(tmp_path, f"# T\n\n```bash {{#console timeout=1s}}\nsqlite3 {tmp_path}/x.db\n"
                          "```\n")
    child = spawn(path, tmp_path=tmp_path, env={"TERM": "xterm"})
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("sqlite> ")
    child.expect(FAIL_PROMPT, timeout=10)
    child.sendline("s")
    child.expect(pexpect.EOF)
    assert finished(tmp_path) == {"console": "timeout"}


def test_ctrl_c_ends_a_server_on_the_terminal_as_a_success(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("SERVING\n")
    path = book(tmp_path, f"# T\n\n```bash {{#serve interactive}}\ntail -f {log}\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    child.expect("Ctrl-C ends it")  # what the screen promised ...
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("SERVING")
    child.sendintr()  # the terminal's Ctrl-C reaches the step, not the runbook
    child.expect(pexpect.EOF)
    assert "Step failed" not in child.before  # ... is what it did
    assert finished(tmp_path) == {"serve": "ok"}


def test_a_step_allowed_to_fail_goes_on_without_the_failure_menu(tmp_path: Path) -> None:
    path = book(tmp_path, "# T\n\n```bash {#probe continue_on_error}\nexit 1\n```\n\n"
                          "```bash {#next}\necho NEXT-RAN\n```\n")
    child = spawn(path, tmp_path=tmp_path)
    dialog(child, (STEP_PROMPT, "y"))
    child.expect(r"✗ probe failed  exit 1 [^\n]*\(going on \(continue_on_error\)\)")
    child.expect(STEP_PROMPT)
    assert "Step failed" not in child.before
    child.sendline("y")
    child.expect(pexpect.EOF)
    assert finished(tmp_path) == {"probe": "failed", "next": "ok"}


def test_a_step_that_does_not_take_the_terminal_shows_a_spinner(tmp_path: Path) -> None:
    # (rich.progress is imported only here, not at start)
    path = book(tmp_path, "# T\n\n```bash {#wait}\nsleep 1.5; echo WAITED\n```\n")
    child = spawn(path, tmp_path=tmp_path, env={"TERM": "xterm"})
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("running wait")
    child.expect("WAITED")
    child.expect(pexpect.EOF)
    assert finished(tmp_path) == {"wait": "ok"}
