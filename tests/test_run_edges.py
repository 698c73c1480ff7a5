"""Edges of `runbook run`: exported secrets, editing secret commands, other shells, --yes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect

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


def test_ctrl_c_during_a_step_with_yes_exits_1(tmp_path: Path) -> None:
    book = write(tmp_path, "# C\n\n```bash {#slow}\necho STARTED; sleep 30\n```\n")
    transcript = tmp_path / "t.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                             "--transcript", str(transcript)], env=ENV, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "STARTED" not in (
            transcript.read_text() if transcript.exists() else ""):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    assert proc.returncode == 1
    last = json.loads(transcript.read_text().splitlines()[-1])
    assert last["event"] == "run_finished" and last["status"] == "interrupted"
