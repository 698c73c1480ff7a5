"""`runbook follow TRANSCRIPT` in a real pty, against a live run in another process: each step is
shown as it happens, and follow ends when the run does, with the run's outcome."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"}

LIVE = """# Live

```bash {#first}
echo first-output
```

```bash {#waits}
echo waiting-for-go
while [ ! -e go ]; do sleep 0.05; done
echo second-output
```

```bash {#last}
echo last-output
```
"""


def runbook(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "runbook_engine", *args], cwd=cwd, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def follower(transcript: Path, cwd: Path) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "runbook_engine", "follow", str(transcript)],
                         cwd=str(cwd), env=ENV, encoding="utf-8", timeout=20,
                         dimensions=(40, 120))


def wait_for(path: Path, text: str = "", timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never held {text!r}")


def test_follow_shows_each_step_as_it_happens_and_ends_with_the_run(tmp_path: Path) -> None:
    (tmp_path / "book.md").write_text(LIVE)
    transcript = tmp_path / "t.jsonl"
    run = runbook("run", "book.md", "--yes", "--transcript", str(transcript), cwd=tmp_path)
    try:
        wait_for(transcript, "waiting-for-go")  # the run is inside its second step
        child = follower(transcript, tmp_path)
        child.expect("first-output")
        child.expect(r"first ok")
        child.expect(r"▶ 2\. ")
        child.expect("waiting-for-go")
        # the run is blocked: follow is still there, and has shown nothing of what comes next
        assert child.expect([pexpect.TIMEOUT, "second-output"], timeout=1) == 0
        assert child.isalive()
        (tmp_path / "go").touch()
        child.expect("second-output")  # shown as it happens
        child.expect("last-output")
        child.expect("Run ok: 3 ok")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
    finally:
        (tmp_path / "go").touch()
        assert run.wait(timeout=30) == 0, run.stderr.read() if run.stderr else ""


def test_follow_of_a_finished_failed_run_replays_it_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "book.md").write_text("# Fails\n\n```bash {#boom}\necho before; exit 3\n```\n")
    transcript = tmp_path / "t.jsonl"
    run = runbook("run", "book.md", "--yes", "--transcript", str(transcript), cwd=tmp_path)
    assert run.wait(timeout=30) == 1
    child = follower(transcript, tmp_path)
    child.expect("before")
    child.expect("boom failed")
    child.expect("Run failed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1


def test_follow_refuses_a_file_that_is_not_a_transcript(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("just some notes\n")
    result = subprocess.run([sys.executable, "-m", "runbook_engine", "follow", "notes.txt"],
                            cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == "notes.txt: not a transcript (its first line is not a " \
                                    "runbook event)"
    missing = subprocess.run([sys.executable, "-m", "runbook_engine", "follow", "nope.jsonl"],
                             cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and missing.stderr.strip() == "nope.jsonl: no such transcript"
