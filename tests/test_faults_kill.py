"""The run and its steps die together: SIGKILL, SIGTERM, SIGHUP and a closed terminal, resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
from faultkit import ENV, private_folders, run, runbook, running_with, text, wait_for


def slow_book(tmp_path: Path, token: str, shell: str = "") -> Path:
    """Step one logs; step ``slow`` logs its start, starts a background job and sleeps."""
    book = tmp_path / "book.md"
    lang = f"bash {{#slow{' shell=' + shell if shell else ''}}}"
    book.write_text(f"# K\n\n```bash {{#one}}\necho one >> log\n```\n\n```{lang}\n"
                    f"echo start >> log\nsleep {token} &\nsleep {token}\necho end >> log\n```\n")
    return book


def kill_during_slow(tmp_path: Path, book: Path) -> subprocess.Popen[str]:
    proc = runbook("run", str(book), "--yes", "--transcript", "t.jsonl", cwd=tmp_path)
    assert wait_for(lambda: "start" in text(tmp_path / "log")), proc.communicate(timeout=5)
    return proc


@pytest.mark.parametrize("shell", ["", "sh"], ids=["bash", "sh-fed-its-code"])
def test_sigkill_of_runbook_stops_the_step_and_its_background_job(tmp_path: Path,
                                                                  shell: str) -> None:
    token = f"3{random.randrange(10**6)}.5"  # a unique sleep, to find the step's processes
    proc = kill_during_slow(tmp_path, slow_book(tmp_path, token, shell))
    assert wait_for(lambda: len(running_with(f"sleep {token}")) == 2)
    proc.kill()
    proc.wait()
    assert wait_for(lambda: not running_with(f"sleep {token}"), 10), "the step outlived runbook"
    assert wait_for(lambda: not private_folders(proc.pid), 5), "its private folder was left"
    assert "end" not in text(tmp_path / "log")


def test_resume_waits_for_the_killed_runs_step_to_stop_and_warns(tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    # the step takes a second to clean up after SIGTERM: a resume must not start it meanwhile
    book.write_text("# R\n\n```bash {#slow}\ntrap 'sleep 1; echo cleaned >> log; exit 1' TERM\n"
                    "echo start >> log\nsleep 30 & wait\n```\n")
    proc = kill_during_slow(tmp_path, book)
    proc.kill()
    proc.wait()
    book.write_text(book.read_text().replace("sleep 30 & wait", "true"))
    resumed = run("run", str(book), "--yes", "--resume", "t.jsonl", "--force", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert text(tmp_path / "log").splitlines() == ["start", "cleaned", "start"]
    assert "t.jsonl: step 'slow' was running when the earlier session ended" in resumed.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_the_step_record_and_exit_with_the_signals_code(
        tmp_path: Path, sig: signal.Signals) -> None:
    token = f"3{random.randrange(10**6)}.5"
    book = slow_book(tmp_path, token)
    proc = kill_during_slow(tmp_path, book)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig
    assert f"to resume: runbook run {book} --resume t.jsonl --yes" in err
    events = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [e["status"] for e in events if e["event"] == "step_finished"] == ["ok", "interrupted"]
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "interrupted"
    assert not running_with(f"sleep {token}")
    assert not private_folders(proc.pid)


def test_a_closed_terminal_ends_an_interactive_run_and_records_it(tmp_path: Path) -> None:
    token = f"3{random.randrange(10**6)}.5"
    book = slow_book(tmp_path, token)
    child = pexpect.spawn(sys.executable, ["-m", "runbook_engine", "run", str(book),
                                           "--transcript", "t.jsonl"],
                          env=ENV, encoding="utf-8", timeout=30, cwd=str(tmp_path))
    child.expect(r"\[y/n/e/a/q/\?\]")
    child.sendline("a")
    assert wait_for(lambda: "start" in text(tmp_path / "log"))
    os.close(child.child_fd)  # the terminal window closes: the kernel hangs its session up
    child.child_fd = -1
    _, status = os.waitpid(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 128 + signal.SIGHUP
    events = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "interrupted"
    assert [e["status"] for e in events if e["event"] == "step_finished"] == ["ok", "interrupted"]
    assert wait_for(lambda: not running_with(f"sleep {token}"), 10)


def test_an_ssh_step_dies_with_its_channel_when_runbook_is_killed(tmp_path: Path,
                                                                  sshd_server) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "remote-end"
    tmp_path.chmod(0o777)  # the test user writes the marker
    book = tmp_path / "book.md"
    book.write_text(f"# S\n\n```bash {{#r on=web1}}\necho start\nsleep 3\ntouch {marker}\n```\n")
    proc = runbook("run", str(book), "--yes", "--transcript", "t.jsonl", "--ssh-config",
                   str(sshd_server.ssh_config), cwd=tmp_path)
    assert wait_for(lambda: '"text":"start' in text(tmp_path / "t.jsonl")), proc.communicate()
    proc.kill()
    proc.wait()
    time.sleep(4)
    assert not marker.exists()


def finished_steps(transcript: Path) -> set[str]:
    lines = text(transcript).splitlines()
    events = [json.loads(line) for line in lines if line.endswith("}")]
    return {e["step"] for e in events if e["event"] == "step_finished"}


def test_sigkill_at_twenty_random_points_never_runs_a_step_twice(tmp_path: Path) -> None:
    """Kill ``runbook run --yes`` at 20 random moments, resuming after each: no step process
    outlives a kill, and no step's body completes twice, wherever the kill lands (a step whose
    body completed before its result was recorded gets its result from its shell's record)."""
    rng = random.Random(20261202)
    token = f"3{rng.randrange(10**6)}"
    steps = 16
    book = tmp_path / "book.md"
    book.write_text("# Twenty\n\n" + "".join(
        f"```bash {{#s{i}}}\nsleep 0.1{token}{i}\necho s{i} >> log\n```\n\n"
        for i in range(steps)))
    transcript = tmp_path / "t.jsonl"
    args = ["run", str(book), "--yes", "--transcript", str(transcript)]
    kills = 0
    while kills < 20:
        before = finished_steps(transcript)
        proc = runbook(*args, cwd=tmp_path)
        time.sleep(rng.uniform(0.2, 1.4))  # from its start-up to the middle of a step
        proc.kill()
        proc.communicate()
        assert wait_for(lambda: not running_with(f"sleep 0.1{token}"), 10), "a step outlived it"
        log = text(tmp_path / "log").split()
        assert before <= finished_steps(transcript)
        assert len(log) == len(set(log)), f"a step's body completed twice: {log}"
        if transcript.exists() and transcript.stat().st_size:
            args = ["run", str(book), "--yes", "--resume", str(transcript)]
            kills += 1
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert text(tmp_path / "log").split() == [f"s{i}" for i in range(steps)]
    assert finished_steps(transcript) == {f"s{i}" for i in range(steps)}
