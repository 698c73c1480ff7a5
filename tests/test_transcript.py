"""The event log (0600, fsync, spill files, threads, torn lines, SIGKILL) and resume state."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook_engine.model import Runbook, RunbookError, Step
from runbook_engine.stamps import code_sha256, now_ts
from runbook_engine.transcript.log import (
    INLINE_LIMIT,
    TranscriptWriter,
    default_transcript_path,
    read_events,
)
from runbook_engine.transcript.resume import changed_finished_steps, load_resume_state

ROOT = Path(__file__).resolve().parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_now_ts_and_default_path() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now_ts())
    when = datetime(2026, 11, 27, 21, 5, 4, tzinfo=UTC)
    path = default_transcript_path("books/Deploy the API!.md", "out", when)
    assert path == Path("out/20261127T210504Z-deploy-the-api.jsonl")


def test_writer_makes_private_files_and_compact_lines(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "run.jsonl"
    writer = TranscriptWriter(path)
    writer({"event": "note", "step": None, "text": "héllo ✓"})
    writer({"event": "run_finished", "status": "ok", "ts": "2026-01-01T00:00:00.000Z"})
    # On disk before close: another reader sees both lines.
    raw = path.read_bytes()
    writer.close()
    assert (mode(tmp_path / "a"), mode(tmp_path / "a" / "b"), mode(path)) == (0o700, 0o700, 0o600)
    lines = raw.decode().splitlines()
    assert lines[0].startswith('{"event":"note","step":null,"text":"héllo ✓","ts":"')
    assert json.loads(lines[1])["ts"] == "2026-01-01T00:00:00.000Z"


def test_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    with TranscriptWriter(tmp_path / "run.jsonl") as writer:
        writer({"event": "note", "text": "x"})
    assert mode(tmp_path) == 0o755


def test_output_is_synced_at_the_next_decision_point(tmp_path: Path) -> None:
    writer = TranscriptWriter(tmp_path / "run.jsonl")
    writer({"event": "output", "step": "s", "stream": "stdout", "text": "a\n"})
    assert writer._unsynced  # flushed to the file, fsync deferred
    writer({"event": "step_finished", "step": "s", "status": "ok"})
    assert not writer._unsynced
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(RunbookError, match="closed"):
        writer({"event": "note", "text": "late"})


def test_refuses_to_overwrite_and_reports_unwritable_places(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    TranscriptWriter(path).close()
    with pytest.raises(RunbookError, match="already exists") as err:
        TranscriptWriter(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RunbookError, match="cannot create the transcript folder"):
        TranscriptWriter(blocker / "sub" / "run.jsonl")


def test_append_after_a_torn_line_starts_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with TranscriptWriter(path) as writer:
        writer({"event": "run_started", "run_id": "r1"})
    with path.open("ab") as handle:
        handle.write(b'{"event":"output","text":"cut he')
    with TranscriptWriter(path, append=True) as writer:
        writer({"event": "run_started", "run_id": "r1", "resumed": True})
    events, warnings = read_events(path)
    assert [e["event"] for e in events] == ["run_started", "run_started"]
    assert warnings == [f"{path}:2: not a valid event (corrupt line); ignored"]


def test_big_output_spills_to_a_private_side_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    chunk = ("x" * 1023 + "\n") * 256  # 256 KiB
    with TranscriptWriter(path) as writer:
        for i in range(8):
            writer({"event": "output", "step": "dump", "stream": "stdout", "host": "web/1",
                    "text": chunk.replace("x", str(i), 1)})
            writer({"event": "output", "step": "dump", "stream": "stderr", "text": "warn\n"})
        writer({"event": "step_finished", "step": "dump", "status": "ok"})
    events, warnings = read_events(path)
    assert warnings == []
    spilled = [e for e in events if e["event"] == "output_spilled"]
    assert len(spilled) == 1
    side = tmp_path / spilled[0]["file"]
    assert side.name == "t.dump.web_1.stdout.log" and mode(side) == 0o600
    inline = "".join(e["text"] for e in events if e["event"] == "output" and e.get("host"))
    assert len(inline.encode()) <= INLINE_LIMIT
    assert inline + side.read_text() == "".join(chunk.replace("x", str(i), 1) for i in range(8))
    assert spilled[0]["bytes"] == len(chunk) and path.stat().st_size < INLINE_LIMIT + 64 * 1024
    stderr = [e for e in events if e["event"] == "output" and e["stream"] == "stderr"]
    assert len(stderr) == 8  # another stream of the same step stays inline


def test_many_threads_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter(path)

    def emit(n: int) -> None:
        for i in range(200):
            kind = "output" if i % 3 else "step_finished"
            writer({"event": kind, "step": f"s{n}", "stream": "stdout", "i": i, "text": "é" * i})

    threads = [threading.Thread(target=emit, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 12 * 200
    events = [json.loads(line) for line in lines]
    for n in range(12):
        assert [e["i"] for e in events if e["step"] == f"s{n}"] == list(range(200))


def test_reader_tolerates_torn_last_line_and_corrupt_middle(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"event":"a"}\nnot json\n[1,2]\n{"event":"b"}\n{"event":"c","te')
    events, warnings = read_events(path)
    assert [e["event"] for e in events] == ["a", "b"]
    assert warnings == [
        f"{path}:2: not a valid event (corrupt line); ignored",
        f"{path}:3: not a valid event (corrupt line); ignored",
        f"{path}:5: last line is incomplete (the run was interrupted while writing); ignored",
    ]
    with pytest.raises(RunbookError, match="no such transcript"):
        read_events(tmp_path / "missing.jsonl")


CHILD = """
import sys
from runbook_engine.transcript.log import TranscriptWriter
writer = TranscriptWriter(sys.argv[1], append=True)
i = 0
while True:
    i += 1
    writer({"event": "step_started", "step": f"s{i}", "command": "echo " + "y" * (i % 97)})
    size = i * 7919 % 60000
    writer({"event": "output", "step": f"s{i}", "stream": "stdout", "text": "z" * size})
    writer({"event": "step_finished", "step": f"s{i}", "status": "ok", "exit_code": 0})
"""


def test_sigkill_at_random_points_leaves_a_readable_log(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(4)
    for _round in range(6):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env)
        time.sleep(rng.uniform(0.15, 0.5))
        child.send_signal(signal.SIGKILL)
        child.wait()
        events, warnings = read_events(path)
        raw = path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1].splitlines()
        # Each resume mends a torn tail, so at most one corrupt line per earlier round.
        assert len(warnings) <= _round + 1
        assert len(events) == len([line for line in complete if _parses(line)])
        assert len(events) >= len(complete) - _round
    assert events and all(e["event"] in {"step_started", "output", "step_finished"}
                          for e in events)


def _parses(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


# --- resume -----------------------------------------------------------------------------------

CODE = {"s1": "echo one", "s2": "cd /srv && export A=1", "s3": "false", "s5": "sleep 100"}


def synthetic_log(path: Path) -> None:
    """Run 1 stops while s5 runs; run 2 (a forced resume) finishes s3 and stops again."""
    events = [
        {"event": "run_started", "run_id": "r1", "sha256": "old", "path": "book.md",
         "variables": [{"name": "env", "source": "default", "secret": False, "value": "prod"},
                       {"name": "password", "source": "prompt", "secret": True, "value": "****"}]},
        {"event": "step_started", "step": "s1", "code_sha256": code_sha256(CODE["s1"])},
        {"event": "var_set", "name": "release", "source": "capture", "secret": False,
         "value": "v42"},
        {"event": "step_finished", "step": "s1", "status": "ok", "exit_code": 0,
         "captured": {"release": "v42"}},
        {"event": "step_started", "step": "s2", "code_sha256": code_sha256(CODE["s2"])},
        {"event": "var_set", "name": "token", "source": "capture", "secret": True,
         "value": "****"},
        {"event": "step_finished", "step": "s2", "status": "ok", "exit_code": 0,
         "captured": {"token": "****"},
         "session": {"local": {"cwd": "/srv", "env": {"A": "1", "OLD": None,
                                                      "API_TOKEN": "****"}}}},
        {"event": "step_started", "step": "s3", "code_sha256": code_sha256(CODE["s3"])},
        {"event": "step_finished", "step": "s3", "status": "failed", "exit_code": 1},
        {"event": "decision", "step": "s4", "answer": "skip"},
        {"event": "step_finished", "step": "s4", "status": "skipped"},
        {"event": "step_started", "step": "s5", "code_sha256": code_sha256(CODE["s5"])},
        {"event": "run_started", "run_id": "r1", "sha256": "new", "path": "book.md",
         "resumed": True, "forced": True, "variables": []},
        {"event": "step_started", "step": "s5", "code_sha256": code_sha256(CODE["s5"])},
        {"event": "output", "step": "s5", "stream": "stdout", "text": "zzz"},
    ]
    with TranscriptWriter(path) as writer:
        for event in events:
            writer(event)
    with path.open("ab") as handle:
        handle.write(b'{"event":"step_fin')


def test_resume_state_from_an_interrupted_resumed_run(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    synthetic_log(path)
    state = load_resume_state(path)
    assert (state.run_id, state.sha256, state.path, state.forced, state.resumes) == (
        "r1", "new", "book.md", True, 1)
    assert state.finished == {"s1": "ok", "s2": "ok", "s4": "skipped"}
    assert state.running == "s5"
    assert {n: (v.value, v.source) for n, v in state.variables.items()} == {
        "env": ("prod", "default"), "release": ("v42", "capture")}
    assert state.captures == {"release": "v42"}
    assert sorted(state.lost) == ["password", "token"]  # masked in the log: ask again
    assert state.sessions == {"local": {"cwd": "/srv", "env": {"A": "1", "OLD": None}}}
    assert state.step_results["s3"]["status"] == "failed"
    assert state.decisions["s4"][0]["answer"] == "skip"
    assert "last line is incomplete" in state.warnings[0]
    assert any("API_TOKEN" in w for w in state.warnings)


def test_changed_code_of_finished_steps_only(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    synthetic_log(path)
    state = load_resume_state(path)

    def step(step_id: str, code: str) -> Step:
        return Step(id=step_id, title=step_id, path="book.md", line=1, kind="shell", code=code)

    book = Runbook(path="book.md", title="b", steps=(
        step("s1", "echo ONE"),  # finished, changed: listed
        step("s2", CODE["s2"]),  # finished, same code
        step("s3", "true"),  # changed but failed: it runs again anyway
        step("s4", "anything"),  # skipped without running: no recorded code
        step("s5", "sleep 1"),  # was running: offered again
    ))
    assert [s.id for s in changed_finished_steps(state, book)] == ["s1"]
