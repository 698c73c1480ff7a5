"""Edges of `runbook run`: exported secrets, editing secret commands, other shells, --yes."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "TERM": "dumb", "EDITOR": ""}


def run(book: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", "run", str(book), *args],
                          capture_output=True, text=True, env=ENV, cwd=cwd, timeout=60)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "book.md"
    path.write_text(text)
    return path


def test_a_secret_exported_by_a_step_is_masked_afterwards(tmp_path: Path) -> None:
    book = write(tmp_path, "# S\n\n```bash {#one}\nexport DB_PASSWORD=$(printf 'hun%s' ter2-x)\n"
                           "```\n\n```bash {#two}\necho \"pw is $DB_PASSWORD\"\n```\n")
    result = run(book, "--yes", "--transcript", str(tmp_path / "t.jsonl"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pw is ****" in result.stdout
    assert "hunter2-x" not in result.stdout + (tmp_path / "t.jsonl").read_text()


def test_editing_a_command_that_holds_a_secret_edits_its_template(tmp_path: Path) -> None:
    book = write(tmp_path, "---\nvars:\n  token:\n    secret: true\n    default: s3cr3t-value\n"
                           "---\n# E\n\n```bash {#use}\nprintf '%s' {{ token | q }} | wc -c\n```\n")
    child = pexpect.spawn(sys.executable, ["-m", "runbook_engine", "run", str(book),
                                           "--transcript", str(tmp_path / "t.jsonl")],
                          env=ENV, encoding="utf-8", timeout=20, cwd=str(tmp_path))
    child.expect(r"\[y/n/e/a/q/\?\]")
    child.sendline("e")
    child.expect("end with an empty line")
    child.sendline("printf '%s' {{ token | q }} | wc -c; echo EDITED")  # the template, edited
    child.sendline("")
    child.expect("EDITED")
    child.expect(pexpect.EOF)
    assert "12" in child.before  # len("s3cr3t-value"): the secret ran, not "****"
    assert "s3cr3t-value" not in (tmp_path / "t.jsonl").read_text()


def test_another_shell_runs_the_code(tmp_path: Path) -> None:
    book = write(tmp_path, "# Sh\n\n```sh {#posix shell=sh}\necho \"in $0\"\n```\n")
    result = run(book, "--yes", "--transcript", str(tmp_path / "t.jsonl"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "in sh" in result.stdout


def test_yes_refuses_before_running_when_a_value_is_missing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    book = write(tmp_path, f"# M\n\n```bash {{#first}}\ntouch {marker}\n```\n\n"
                           "```bash {#second}\nps -p <PID>\n```\n")
    result = run(book, "--yes", "--transcript", str(tmp_path / "t.jsonl"), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{book}:7: step 'second' needs PID: pass --var PID=VALUE" in result.stderr
    assert not marker.exists()
    given = run(book, "--yes", "--var", f"PID={os.getpid()}", "--transcript",
                str(tmp_path / "t2.jsonl"), cwd=tmp_path)
    assert given.returncode == 0, given.stderr


def test_ctrl_c_during_a_step_with_yes_exits_1_and_says_how_to_resume(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    book = write(tmp_path, f"# C\n\n```bash {{#slow}}\n[ -e {flag} ] || {{ touch {flag}; "
                           "echo STARTED; sleep 30; }\necho DONE\n```\n")
    transcript = tmp_path / "t.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                             "--transcript", str(transcript)], env=ENV, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "STARTED" not in (
            transcript.read_text() if transcript.exists() else ""):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    last = json.loads(transcript.read_text().splitlines()[-1])
    assert last["event"] == "run_finished" and last["status"] == "interrupted"
    command = resume_command(err)
    assert command == ["runbook", "run", str(book), "--resume", str(transcript), "--yes"]
    resumed = run(book, *command[3:], cwd=tmp_path)
    assert resumed.returncode == 0 and "DONE" in resumed.stdout, resumed.stderr


def resume_command(stderr: str) -> list[str]:
    (line,) = [line for line in stderr.splitlines() if line.startswith("to resume: ")]
    return shlex.split(line.removeprefix("to resume: "))


@pytest.mark.parametrize("quit_with", ["q", "ctrl-d"])
def test_quitting_exits_1_and_prints_the_command_that_resumes(tmp_path: Path,
                                                              quit_with: str) -> None:
    book = write(tmp_path, "# Q\n\n```bash {#one}\necho ONE-RAN\n```\n\n"
                           "```bash {#two}\necho TWO-RAN\n```\n")
    transcript = tmp_path / "t.jsonl"
    child = pexpect.spawn(sys.executable, ["-m", "runbook_engine", "run", str(book),
                                           "--transcript", str(transcript)],
                          env=ENV, encoding="utf-8", timeout=20, cwd=str(tmp_path))
    child.expect(r"\[y/n/e/a/q/\?\]")
    child.sendline("y")
    child.expect("ONE-RAN")
    child.expect(r"\[y/n/e/a/q/\?\]")
    if quit_with == "q":
        child.sendline("q")
    else:
        child.sendeof()
    child.expect(r"to resume: ([^\r\n]+)")
    command = shlex.split(child.match.group(1))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert command == ["runbook", "run", str(book), "--resume", str(transcript)]
    again = pexpect.spawn(sys.executable, ["-m", "runbook_engine", *command[1:]], env=ENV,
                          encoding="utf-8", timeout=20, cwd=str(tmp_path))
    again.expect(r"\[y/n/e/a/q/\?\]")
    again.sendline("y")
    again.expect("TWO-RAN")
    again.expect(pexpect.EOF)
    again.close()
    assert again.exitstatus == 0 and "ONE-RAN" not in again.before


def test_run_refuses_error_level_problems_and_force_records_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    book = write(tmp_path, f"# P\n\n```bash {{#slow timeout=abc}}\ntouch {marker}\n```\n")
    refused = run(book, "--yes", "--transcript", str(tmp_path / "t.jsonl"), cwd=tmp_path)
    assert refused.returncode == 2 and not marker.exists()
    assert not (tmp_path / "t.jsonl").exists()
    lines = refused.stderr.splitlines()
    assert lines[0] == f"{book}:3: bad value for timeout: 'abc': not a duration"
    assert "pass --force" in lines[-1] and len(lines) == 2
    forced = run(book, "--yes", "--force", "--transcript", str(tmp_path / "t.jsonl"),
                 cwd=tmp_path)
    assert forced.returncode == 0 and marker.exists(), forced.stderr
    started = json.loads((tmp_path / "t.jsonl").read_text().splitlines()[0])
    assert started["forced"] is True and started["overrides"] == [lines[0]]
    report = subprocess.run([sys.executable, "-m", "runbook_engine", "transcript",
                             str(tmp_path / "t.jsonl")], capture_output=True, text=True,
                            env=ENV, cwd=tmp_path, timeout=60)
    assert "Run with --force despite" in report.stdout and "timeout" in report.stdout


def test_into_a_pipe_the_running_step_shows_before_it_ends(tmp_path: Path) -> None:
    book = write(tmp_path, "# P\n\n```bash {#slow}\necho started-sleeping\nsleep 30\n```\n")
    proc = subprocess.Popen([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                             "--transcript", str(tmp_path / "t.jsonl")], env=ENV, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "started-sleeping" not in seen:
            seen.append(proc.stdout.readline().strip())
        assert seen[-2:] == ["▶ 1. P", "started-sleeping"]  # while the step still runs
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
