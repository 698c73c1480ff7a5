"""Drift in an interactive run, through a real pty: the screen says the output matched, or shows
the diff and asks (go on, note, retry); drift never fails a step by itself."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pexpect

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120", "EDITOR": "",
       "TERM": "dumb"}
STEP_PROMPT = r"\[y/n/e/a/q/\?\]"
DRIFT_PROMPT = r"Output differs from the runbook\. Go on\? \[g/n/r/e/q/\?\]"

# The service answers from a file, so the test can change its answer between attempts.
HEALTH = """# Payments health

Ask the service for its health:

```bash
cat answer.json
```

You should see:

```json
{"status": "healthy", "checked_at": "2026-01-05T10:00:00Z", "uptime": 3600}
```

```bash
echo NEXT-STEP-RAN
```
"""


def spawn(tmp_path: Path) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "runbook_engine", "run", "book.md",
                                          "--transcript", "t.jsonl"],
                         cwd=str(tmp_path), env=ENV, encoding="utf-8", timeout=30,
                         dimensions=(40, 120))


def run_health_check(tmp_path: Path, status: str) -> pexpect.spawn:
    """Start the run with the service answering ``status``; say yes to the health check."""
    (tmp_path / "book.md").write_text(HEALTH, encoding="utf-8")
    answer(tmp_path, status)
    child = spawn(tmp_path)
    child.expect(STEP_PROMPT)
    child.sendline("y")
    return child


def answer(tmp_path: Path, status: str) -> None:
    (tmp_path / "answer.json").write_text(json.dumps(
        {"status": status, "checked_at": "2026-12-02T08:30:00Z", "uptime": 12}) + "\n")


def events(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]


def test_a_match_is_said_on_screen_and_nothing_is_asked(tmp_path: Path) -> None:
    child = run_health_check(tmp_path, "healthy")
    child.expect(r"✓ output as expected \(the output block after the command, json\)")
    child.expect(STEP_PROMPT)  # straight on to the next step: no drift question
    assert "Output differs" not in child.before
    child.sendline("y")
    child.expect("NEXT-STEP-RAN")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_drift_shows_the_diff_asks_and_a_note_goes_on(tmp_path: Path) -> None:
    child = run_health_check(tmp_path, "degraded")
    child.expect(r"≠ output differs from the output block after the command \(json\):")
    child.expect(r'\$\.status: expected "healthy", got "degraded"')
    child.expect(DRIFT_PROMPT)
    child.sendline("?")
    child.expect("g  go on")
    child.expect(DRIFT_PROMPT)
    child.sendline("n")
    child.expect("Note:")
    child.sendline("the cache node is being replaced; degraded is expected today")
    child.expect("note recorded")
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect("NEXT-STEP-RAN")
    child.expect("output differs from what was expected: ask-the-service-for-its-health")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0  # drift alone never fails the run
    log = events(tmp_path)
    finished = {e["step"]: e["status"] for e in log if e["event"] == "step_finished"}
    assert list(finished.values()) == ["ok", "ok"]
    (check,) = [e for e in log if e["event"] == "output_checked"]
    assert (check["verdict"], check["source"], check["mode"]) == ("differs", "output block",
                                                                   "json")
    decision = next(e for e in log if e["event"] == "decision" and e["answer"] == "note")
    note = next(e for e in log if e["event"] == "note")
    assert decision["step"] == note["step"] == check["step"]
    assert note["text"].startswith("the cache node")


def test_retry_runs_the_step_again_and_the_new_output_matches(tmp_path: Path) -> None:
    child = run_health_check(tmp_path, "starting")
    child.expect(r'\$\.status: expected "healthy", got "starting"')
    child.expect(DRIFT_PROMPT)
    answer(tmp_path, "healthy")  # the service came up meanwhile
    child.sendline("r")
    child.expect(r"✓ output as expected")
    child.expect(STEP_PROMPT)
    child.sendline("q")
    child.expect(pexpect.EOF)
    child.close()
    log = events(tmp_path)
    checks = [(e["attempt"], e["verdict"]) for e in log if e["event"] == "output_checked"]
    assert checks == [(1, "differs"), (2, "matches")]
    finished = [e for e in log if e["event"] == "step_finished"]
    assert (finished[0]["status"], finished[0]["attempts"]) == ("ok", 2)
