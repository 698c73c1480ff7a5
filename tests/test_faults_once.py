"""A step whose body ended when runbook was killed, before its result: not run again (issue 15)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import stat
import subprocess
import time
from pathlib import Path

from faultkit import run, runbook, text, wait_for

from runbook_engine.runners.ended import read_ended, record_command

WAIT_FOR_GO = "while [ ! -e go ]; do sleep 0.05; done"


def events(transcript: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in text(transcript).splitlines() if line.endswith("}")]


def results(transcript: Path, step: str) -> list[dict[str, object]]:
    return [e for e in events(transcript) if e["event"] == "step_finished" and e["step"] == step]


def gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}")


def kill_after_the_body(tmp_path: Path, book: Path) -> None:
    """Run ``book`` until step ``cut``'s body has ended, with runbook stopped (SIGSTOP) so it
    cannot record the result meanwhile, then SIGKILL it: the kill lands in the window."""
    proc = runbook("run", str(book), "--yes", "--transcript", "t.jsonl", cwd=tmp_path)
    pid_file = tmp_path / "pid"
    assert wait_for(lambda: text(pid_file).strip().isdigit(), 60), proc.communicate(timeout=5)
    proc.send_signal(signal.SIGSTOP)
    try:
        (tmp_path / "go").touch()
        body = int(text(pid_file))
        assert wait_for(lambda: "body" in text(tmp_path / "log") and gone(body), 60)
    finally:
        proc.kill()
        proc.wait()
    assert not results(tmp_path / "t.jsonl", "cut"), "the kill came after the result"


def test_a_body_that_ended_before_the_kill_is_not_run_again_on_resume(tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    book.write_text(
        "# Once\n\n```bash {#first}\necho first >> log\n```\n\n"
        f"```bash {{#cut}}\necho $BASHPID > pid\n{WAIT_FOR_GO}\nmkdir -p sub\ncd sub\n"
        "export API_TOKEN=hunter2-secret\necho body >> ../log\necho cut-output\n```\n\n"
        "```bash {#after}\necho \"after $(basename \"$PWD\")\" >> ../log\n```\n")
    kill_after_the_body(tmp_path, book)
    record = tmp_path / "t.ended"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert b"hunter2" not in record.read_bytes()  # no exported value (a secret) on the disk
    resumed = run("run", str(book), "--yes", "--resume", "t.jsonl", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert text(tmp_path / "log").split("\n") == ["first", "body", "after sub", ""]
    assert ("t.jsonl: step 'cut' finished as the earlier session ended, before its result was "
            "recorded (exit code 0): it is not run again") in resumed.stderr
    [result] = results(tmp_path / "t.jsonl", "cut")
    assert result["status"] == "ok" and result["exit_code"] == 0
    assert result["session"]["local"]["cwd"] == str(tmp_path / "sub")  # type: ignore[index]
    assert not record.exists(), "the record outlived the run that ended well"


def test_a_record_of_an_earlier_attempt_never_counts_for_a_later_one(tmp_path: Path) -> None:
    """The body ended (failed) in the kill's window; the resume records that failure and runs the
    step again, and that attempt is killed mid-body: the record left is the first attempt's, so
    the next resume runs the step again."""
    book = tmp_path / "book.md"
    book.write_text(
        "# Keyed\n\n```bash {#cut}\necho $BASHPID > pid\n"
        "if [ -e failed-once ]; then while [ ! -e again ]; do sleep 0.05; done; fi\n"
        f"{WAIT_FOR_GO}\necho body >> log\n"
        "if [ ! -e failed-once ]; then touch failed-once; exit 3; fi\n```\n")
    kill_after_the_body(tmp_path, book)
    first = text(tmp_path / "pid")
    proc = runbook("run", str(book), "--yes", "--resume", "t.jsonl", cwd=tmp_path)
    assert wait_for(lambda: text(tmp_path / "pid") not in ("", first), 60), \
        proc.communicate(timeout=5)
    proc.kill()
    _, err = proc.communicate()
    assert "step 'cut' finished as the earlier session ended" in err
    (tmp_path / "again").touch()
    resumed = run("run", str(book), "--yes", "--resume", "t.jsonl", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "step 'cut' was running when the earlier session ended" in resumed.stderr
    assert text(tmp_path / "log").split() == ["body", "body"]
    assert [r["status"] for r in results(tmp_path / "t.jsonl", "cut")] == ["failed", "ok"]


def test_a_failed_body_that_ended_before_the_kill_is_recorded_then_run_as_failed_ones_are(
        tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    book.write_text(
        "# Failed\n\n```bash {#cut}\nif [ -e fixed ]; then echo fixed >> log; exit 0; fi\n"
        f"echo $BASHPID > pid\n{WAIT_FOR_GO}\necho body >> log\nexit 4\n```\n")
    kill_after_the_body(tmp_path, book)
    (tmp_path / "fixed").touch()
    resumed = run("run", str(book), "--yes", "--resume", "t.jsonl", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "(exit code 4)" in resumed.stderr
    assert text(tmp_path / "log").split() == ["body", "fixed"]
    assert [(r["status"], r["exit_code"]) for r in results(tmp_path / "t.jsonl", "cut")] == \
        [("failed", 4), ("ok", 0)]


def write_record(tmp_path: Path, attempt_id: str, rc: int, cwd: str) -> None:
    """The trap's line, run by bash as a step's EXIT trap runs it."""
    line = record_command(str(tmp_path / "t.ended"), str(tmp_path / "alive"), attempt_id)
    subprocess.run(["bash", "-c", f"__rb_rc={rc} __rb_wd={shlex.quote(cwd)}; {line}"])


def test_a_record_is_read_only_for_its_own_attempt_whole_and_over_a_longer_one(
        tmp_path: Path) -> None:
    (tmp_path / "alive").write_text("1\n")
    write_record(tmp_path, "aaaaaaaaaaaa", 0, "/a/long/working/directory with spaces")
    write_record(tmp_path, "bbbbbbbbbbbb", 17, "/b")  # in place, over the longer one
    path = str(tmp_path / "t.ended")
    assert read_ended(path, "aaaaaaaaaaaa") is None
    ended = read_ended(path, "bbbbbbbbbbbb")
    assert ended is not None and (ended.exit_code, ended.cwd) == (17, "/b")
    assert ended.ended is not None and abs(ended.ended - time.time()) < 600
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # made by the trap: umask 077
    data = (tmp_path / "t.ended").read_bytes()
    (tmp_path / "t.ended").write_bytes(data[:data.index(b"\0") + 3])  # torn by a kill
    assert read_ended(path, "bbbbbbbbbbbb") is None
    (tmp_path / "alive").write_text("")  # the reaper stops the steps: a stopped body writes none
    (tmp_path / "t.ended").unlink()
    write_record(tmp_path, "cccccccccccc", 0, "/c")
    assert not (tmp_path / "t.ended").exists()


def test_a_secret_capture_of_a_body_ended_before_the_kill_is_asked_for_not_made_up(
        tmp_path: Path) -> None:
    """The output of a step making a secret is held until it ends, so the transcript has none:
    the value is not known, and is not taken as empty (a later step needing it is refused)."""
    book = tmp_path / "book.md"
    book.write_text(
        "# Secret\n\n```bash {#cut capture=token secret=true}\necho $BASHPID > pid\n"
        f"{WAIT_FOR_GO}\necho body >> log\necho s3cr3t-value\n```\n\n"
        "```bash {#use}\necho \"got {{ token }}\" >> log\n```\n")
    kill_after_the_body(tmp_path, book)
    resumed = run("run", str(book), "--yes", "--resume", "t.jsonl", cwd=tmp_path)
    assert "it is not run again" in resumed.stderr
    [result] = results(tmp_path / "t.jsonl", "cut")
    assert result["status"] == "ok" and "token is not known" in str(result["reason"])
    assert text(tmp_path / "log").split("\n") == ["body", ""], resumed.stderr
    assert resumed.returncode == 2  # a value missing: a user error
    assert "variable 'token' has no value: pass --var token=VALUE" in resumed.stderr
