"""Expected output reaches the comparison from every place a runbook writes it, and each
comparison is an event in the transcript, folded into the run state and shown in the reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.events import OutputChecked, event_from_json
from runbook_engine.parse import parse_text
from runbook_engine.state import RunState
from runbook_engine.transcript.reader import read_events

# -- runbooks in our own words, one for each way of writing what a command prints ---------------

REGION = """# Queue depth

```bash
printf 'queue   depth  oldest\\nmail    %d     %s\\n' 4 "$(date -u +%FT%TZ)"
# Expected output
queue   depth  oldest
mail    12     2025-06-01T08:00:00Z
```
"""

PRINTED = """# Service state

```bash
echo "Active: active (running) since Mon 2026-03-02 09:15:00 UTC"
Active: active (running) since Tue 2025-11-04 17:02:11 UTC
```
"""

PROSE_BLOCK = """# Health

Ask the service how it feels:

```bash
printf '{"status":"healthy","checked_at":"%s","uptime":%d,"db":"up"}\\n' \\
  "$(date -u +%FT%TZ)" 17
```

Expected response:

```json
{
  "status": "healthy",
  "checked_at": "2024-11-06T12:00:00Z",
  "uptime": 3600,
  "db": "up"
}
```
"""

HEADING_BLOCK = """# Disk

## Free space

```bash
echo "tmp is writable"
```

### Example output

```
tmp is writable
```
"""

FAILURE_PROSE = """# Ping

```bash
echo pong
```

If it fails you will see:

```
connection refused
```
"""

TRANSCRIPT = """# Versions

```console
$ printf 'tool 1.4.2\\nready\\n'
tool 1.2.0
ready
$ echo done
done
```
"""

ANNOTATED = """---
title: Annotated
vars:
  who: {default: ops}
---

# Annotated

```bash {#greet title="Greet"}
echo "hello {{ who }}"
```

You should see:

```text
hello ops
```

```bash {#strict expect="^ready$"}
echo "not ready"
```
"""


def steps_of(text: str, path: str = "book.md") -> dict[str, Any]:
    return {s.id: s for s in parse_text(text, path).steps}


@pytest.mark.parametrize(("text", "source", "expected"), [
    (REGION, "region", "queue   depth  oldest\nmail    12     2025-06-01T08:00:00Z"),
    (PRINTED, "printed", "Active: active (running) since Tue 2025-11-04 17:02:11 UTC"),
    (PROSE_BLOCK, "output block", '{\n  "status": "healthy",'),
    (HEADING_BLOCK, "output block", "tmp is writable"),
    (TRANSCRIPT, "transcript", "tool 1.2.0\nready"),
    (ANNOTATED, "output block", "hello ops"),
])
def test_each_way_of_writing_expected_output_is_read_with_its_source(
        text: str, source: str, expected: str) -> None:
    runnable = [s for s in parse_text(text, "book.md").steps if s.executable]
    first = runnable[0]
    assert first.expected_from == source
    assert first.expected_output is not None and first.expected_output.startswith(expected)


def test_prose_that_shows_a_failure_is_no_expectation() -> None:
    (ping,) = [s for s in parse_text(FAILURE_PROSE, "book.md").steps if s.executable]
    assert ping.expected_output is None


def test_a_sample_is_marked_as_such() -> None:
    text = PROSE_BLOCK.replace("Expected response:", "The answer looks something like this:")
    (health,) = [s for s in parse_text(text, "book.md").steps if s.executable]
    assert (health.expected_from, health.expected_sample) == ("output block", True)
    region = REGION.replace("# Expected output", "# Sample output")
    (queue,) = [s for s in parse_text(region, "book.md").steps if s.executable]
    assert (queue.expected_from, queue.expected_sample) == ("region", True)


# -- through a real run -------------------------------------------------------------------------


def run_book(tmp_path: Path, text: str, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                            list[Any]]:
    book = tmp_path / "book.md"
    book.write_text(text, encoding="utf-8")
    transcript = tmp_path / "run.jsonl"
    done = subprocess.run([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                           "--transcript", str(transcript), *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    events, _ = read_events(transcript)
    return done, events


def checks(events: list[Any]) -> list[OutputChecked]:
    return [e for e in events if isinstance(e, OutputChecked)]


@pytest.mark.parametrize(("text", "source", "verdict"), [
    (REGION, "region", "matches"),  # a new count and timestamp, the same table
    (PRINTED, "printed", "matches"),
    (PROSE_BLOCK, "output block", "matches"),  # JSON: another timestamp and uptime
    (HEADING_BLOCK, "output block", "matches"),
    (TRANSCRIPT, "transcript", "differs"),  # 1.4.2 against 1.2.0 is a version: but one line
])
def test_a_run_records_each_comparison_as_an_event(tmp_path: Path, text: str, source: str,
                                                  verdict: str) -> None:
    done, events = run_book(tmp_path, text)
    assert done.returncode == 0, done.stderr  # drift never fails a step by itself
    found = checks(events)
    assert found, done.stdout
    first = found[0]
    assert (first.source, first.strict) == (source, False)
    assert first.verdict == "matches" or verdict == "differs", first.diff
    assert first.expected and first.mode in ("json", "text")


def test_transcript_output_lines_are_checked_line_by_line(tmp_path: Path) -> None:
    text = TRANSCRIPT.replace("tool 1.2.0\nready", "tool 1.2.0\nnot ready")
    done, events = run_book(tmp_path, text)
    first, second = checks(events)
    assert (first.verdict, first.mode, first.source) == ("differs", "text", "transcript")
    assert first.diff == "- not ready\n+ ready"
    assert (second.step, second.verdict) == (first.step.rsplit("-", 1)[0] + "-2", "matches")
    assert "≠ output differs from the transcript's output lines (text):" in done.stdout
    assert "    - not ready" in done.stdout and "    + ready" in done.stdout
    assert "output differs from what was expected: versions-1" in done.stdout


def test_json_that_differs_in_a_literal_is_drift_not_failure(tmp_path: Path) -> None:
    done, events = run_book(tmp_path, PROSE_BLOCK.replace('"status":"healthy"',
                                                          '"status":"degraded"'))
    assert done.returncode == 0
    (check,) = checks(events)
    assert (check.verdict, check.mode) == ("differs", "json")
    assert check.diff == '$.status: expected "healthy", got "degraded"'
    finished = [e for e in events if e.kind == "step_finished"]
    assert [e.status for e in finished] == ["ok"]


def test_expect_is_strict_and_its_check_is_an_event_too(tmp_path: Path) -> None:
    done, events = run_book(tmp_path, ANNOTATED)
    assert done.returncode == 1
    by_step = {c.step: c for c in checks(events)}
    assert (by_step["greet"].source, by_step["greet"].verdict) == ("output block", "matches")
    strict = by_step["strict"]
    assert (strict.source, strict.strict, strict.mode, strict.verdict) == (
        "expect", True, "regex", "differs")
    assert strict.expected == "^ready$"
    finished = {e.step: e for e in events if e.kind == "step_finished"}
    assert finished["strict"].status == "failed"
    assert finished["strict"].reason == "output does not match expect ^ready$"


def test_stderr_counts_when_the_runbook_shows_what_a_terminal_showed(tmp_path: Path) -> None:
    text = """# Build

```console
$ echo compiling; echo "warning: unused variable" >&2; echo built
compiling
warning: unused variable
built
```
"""
    _, events = run_book(tmp_path, text)
    (check,) = checks(events)
    assert check.verdict == "matches", check.diff


def test_the_state_folds_checks_and_a_new_attempt_starts_afresh() -> None:
    lines = [
        {"event": "run_started", "schema": 2, "run_id": "r", "plan": [{"id": "a"}]},
        {"event": "step_started", "step": "a", "attempt": 1, "targets": ["local"]},
        {"event": "output_checked", "step": "a", "attempt": 1, "source": "region",
         "verdict": "differs", "mode": "text", "diff": "- x\n+ y", "expected": "x"},
        {"event": "decision", "step": "a", "answer": "retry"},
        {"event": "step_started", "step": "a", "attempt": 2, "targets": ["local"]},
    ]
    events = [event_from_json(line) for line in lines]
    state = RunState.fold(events[:3])
    assert list(state.drift) == ["a"]
    check = state.drift["a"][0]
    assert event_from_json(json.loads(json.dumps(check.to_json()))) == check
    assert "host" not in check.to_json() and "reference" not in check.to_json()
    state = RunState.fold(events)
    assert state.steps["a"].checks == [] and state.drift == {}


def test_reports_show_the_check_in_the_timeline_and_the_diff_under_the_step(
        tmp_path: Path) -> None:
    run_book(tmp_path, PROSE_BLOCK.replace('"db":"up"', '"db":"down"'))
    report = subprocess.run([sys.executable, "-m", "runbook_engine", "transcript",
                             str(tmp_path / "run.jsonl")], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert report.returncode == 0, report.stderr
    assert "| Time (UTC) | Step | What happened | Result | Expected output |" in report.stdout
    assert "| Ask the service how it feels | ok | ≠ differs |" in report.stdout
    assert "```diff\n$.db: expected \"up\", got \"down\"\n```" in report.stdout
    document = json.loads(subprocess.run(
        [sys.executable, "-m", "runbook_engine", "transcript", str(tmp_path / "run.jsonl"),
         "--format", "json"], capture_output=True, text=True, timeout=60).stdout)
    (step,) = [s for s in document["steps"] if s["checks"]]
    assert step["checks"][0]["source"] == "output block"
    assert step["checks"][0]["label"] == "the output block after the command"
