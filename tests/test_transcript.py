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

from runbook_engine.events import (
    Event,
    Note,
    Output,
    OutputSpilled,
    OutputTail,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    Unknown,
)
from runbook_engine.model import Runbook, RunbookError, Step
from runbook_engine.stamps import code_sha256, now_ts
from runbook_engine.state import RunState
from runbook_engine.transcript.log import (
    INLINE_LIMIT,
    TranscriptWriter,
    _Syncer,
    default_transcript_path,
)
from runbook_engine.transcript.reader import NotATranscript, read_events
from runbook_engine.transcript.report import build_report
from runbook_engine.transcript.resume import changed_finished_steps, load_state
from runbook_engine.transcript.sidefiles import SidePump

ROOT = Path(__file__).resolve().parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_now_ts_and_default_path(tmp_path: Path) -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now_ts())
    when = datetime(2026, 11, 27, 21, 5, 4, tzinfo=UTC)
    path = default_transcript_path("books/Deploy the API!.md", str(tmp_path / "out"), when)
    assert path == tmp_path / "out/20261127T210504Z-deploy-the-api.jsonl"
    assert path.stat().st_size == 0 and stat.S_IMODE(path.stat().st_mode) == 0o600  # reserved
    again = default_transcript_path("books/Deploy the API!.md", str(tmp_path / "out"), when)
    assert again == tmp_path / "out/20261127T210504Z-deploy-the-api-2.jsonl"


def test_writer_makes_private_files_and_compact_lines(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "run.jsonl"
    writer = TranscriptWriter(path)
    writer.record(Note(step=None, text="héllo ✓"))
    writer.record(RunFinished(status="ok", ts="2026-01-01T00:00:00.000Z"))
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
        writer.record(Note(text="x"))
    assert mode(tmp_path) == 0o755


def test_output_is_synced_at_the_next_decision_point(tmp_path: Path) -> None:
    writer = TranscriptWriter(tmp_path / "run.jsonl")
    writer.record(Output(step="s", text="a\n"))
    assert writer._unsynced  # flushed to the file, fsync deferred
    writer.record(StepFinished(step="s", status="ok"))
    assert not writer._unsynced
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(RunbookError, match="closed"):
        writer.record(Note(text="late"))


def test_refuses_to_overwrite_and_reports_unwritable_places(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with TranscriptWriter(path) as writer:  # an empty file is a reserved name, taken as new
        writer.record(RunStarted(run_id="r1"))
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
        writer.record(RunStarted(run_id="r1"))
    with path.open("ab") as handle:
        handle.write(b'{"event":"output","text":"cut he')
    with TranscriptWriter(path, append=True) as writer:
        writer.record(RunStarted(run_id="r1", resumed=True))
    events, warnings = read_events(path)
    assert [e.kind for e in events] == ["run_started", "run_started"]
    assert warnings == [f"{path}:2: not a valid event (corrupt line); ignored"]


def test_big_output_spills_to_a_private_side_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    chunk = ("x" * 1023 + "\n") * 256  # 256 KiB
    full = "".join(chunk.replace("x", str(i), 1) for i in range(8))
    with TranscriptWriter(path) as writer:
        writer.record(RunStarted(run_id="r"))
        writer.record(StepStarted(step="dump", targets=("web/1",)))
        for i in range(8):
            writer.record(Output(step="dump", host="web/1", text=chunk.replace("x", str(i), 1)))
            writer.record(Output(step="dump", stream="stderr", text="warn\n"))
        kept = writer.record(StepFinished(step="dump", status="ok", attempts=1))
    assert [type(e) for e in kept] == [OutputTail, StepFinished]
    events, warnings = read_events(path)
    assert warnings == []
    (spilled,) = [e for e in events if isinstance(e, OutputSpilled)]
    side = tmp_path / spilled.file
    assert side.name == "t.dump.web_1.stdout.log" and mode(side) == 0o600
    inline = "".join(e.text for e in events if isinstance(e, Output) and e.host)
    assert len(inline.encode()) <= INLINE_LIMIT
    assert inline + side.read_text() == full
    assert spilled.bytes == len(chunk) and path.stat().st_size < INLINE_LIMIT + 200 * 1024
    (tail,) = [e for e in events if isinstance(e, OutputTail)]
    assert (tail.bytes, tail.chars) == (len(full) - len(inline),) * 2
    assert tail.text == full[-len(tail.text):] and len(tail.text) == 64 * 1024
    stderr = [e for e in events if isinstance(e, Output) and e.stream == "stderr"]
    assert len(stderr) == 8  # another stream of the same step stays inline
    # what a template sees is the same whether the state saw the live stream or the file
    state = RunState.fold(events).steps["dump"].hosts["web/1"].stdout
    live = RunState()
    for event in [RunStarted(run_id="r"), StepStarted(step="dump", targets=("web/1",)),
                  Output(step="dump", host="web/1", text=full)]:
        live.apply(event)
    assert state.text.startswith(full[:64 * 1024]) and state.text.endswith(full[-64 * 1024:])
    assert (state.head, state.tail) == (live.steps["dump"].hosts["web/1"].stdout.head,
                                        live.steps["dump"].hosts["web/1"].stdout.tail)
    assert f"the whole output is in {side.name}" in state.text
    # the report shows where the output went, and how it ended
    (out,) = [o for o in build_report(events)["steps"][0]["outputs"] if o["host"] == "web/1"]
    assert f"… output continues in {side.name} …" in out["text"]
    assert out["text"].endswith(full.rstrip("\n").splitlines()[-1])


def test_side_files_are_whole_when_the_step_s_result_is_recorded(tmp_path: Path) -> None:
    # side files are written by a thread of their own: by the time the result is recorded (and
    # synced) every byte is in the file, in order, whatever was still queued
    path = tmp_path / "t.jsonl"
    chunks = [f"{i:07d}" * 30_000 for i in range(40)]  # 210 KB each, 8.4 MB in all
    writer = TranscriptWriter(path, inline_limit=100_000)
    writer.record(StepStarted(step="s"))
    for chunk in chunks:
        writer.record(Output(step="s", text=chunk))
    (tail,) = [e for e in writer.record(StepFinished(step="s", status="ok"))
               if isinstance(e, OutputTail)]
    side = tmp_path / tail.file
    assert side.stat().st_size == tail.bytes == len("".join(chunks))  # before close()
    assert side.read_text() == "".join(chunks)
    writer.close()


def test_a_side_file_write_that_fails_is_said_naming_the_file() -> None:
    pump = SidePump()
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        pump.write(fd, Path("/dev/full"), b"x" * 100_000)
        with pytest.raises(RunbookError, match="cannot write: No space left on device") as info:
            pump.settle()
        assert info.value.path == "/dev/full"
        pump.settle()  # said once
    finally:
        os.close(fd)


def test_side_file_writes_wait_only_past_their_budget() -> None:
    reader, writer = os.pipe()  # a disk that takes nothing more after 64 KB until read
    pump = SidePump(budget=200_000)
    pump.write(writer, Path("p"), b"a" * 150_000)
    pump.write(writer, Path("p"), b"b" * 150_000)  # under the budget: queued at once
    third = threading.Thread(target=pump.write, args=(writer, Path("p"), b"c" * 150_000))
    third.start()
    third.join(0.5)
    assert third.is_alive()
    got = bytearray()
    while len(got) < 450_000:
        got += os.read(reader, 1 << 20)
    third.join(5)
    pump.settle()
    assert bytes(got) == b"a" * 150_000 + b"b" * 150_000 + b"c" * 150_000
    os.close(reader)
    os.close(writer)


def test_many_threads_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter(path)

    def emit(n: int) -> None:
        for i in range(200):
            if i % 3:
                writer.record(Output(step=f"s{n}", text="é" * i))
            else:
                writer.record(StepFinished(step=f"s{n}", status="ok", attempts=i))

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
        mine = [e for e in events if e["step"] == f"s{n}"]
        assert [len(e["text"]) if e["event"] == "output" else e["attempts"] for e in mine] == \
            list(range(200))


def test_reader_tolerates_torn_last_line_and_corrupt_middle(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"event":"run_started"}\nnot json\n[1,2]\n{"event":"b"}\n'
                     b'{"event":"c","te')
    events, warnings = read_events(path)
    assert isinstance(events[0], RunStarted) and events[1] == Unknown(
        event_name="b", data={"event": "b"}, ts="")  # a newer version's event: kept, not refused
    assert warnings == [
        f"{path}:2: not a valid event (corrupt line); ignored",
        f"{path}:3: not a valid event (corrupt line); ignored",
        f"{path}:5: last line is incomplete (the run was interrupted while writing); ignored",
    ]
    with pytest.raises(RunbookError, match="no such transcript"):
        read_events(tmp_path / "missing.jsonl")


CHILD = """
import sys
from runbook_engine.events import Output, RunStarted, StepFinished, StepStarted
from runbook_engine.transcript.log import TranscriptWriter
writer = TranscriptWriter(sys.argv[1], append=True)
writer.record(RunStarted(run_id="r"))
i = 0
while True:
    i += 1
    writer.record(StepStarted(step=f"s{i}", command="echo " + "y" * (i % 97)))
    size = i * 7919 % 60000
    writer.record(Output(step=f"s{i}", text="z" * size))
    writer.record(StepFinished(step=f"s{i}", status="ok", exit_code=0))
"""


def test_sigkill_at_random_points_leaves_a_readable_log(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(4)
    for _round in range(6):
        size = path.stat().st_size if path.exists() else 0
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env)
        while path.stat().st_size == size if path.exists() else True:  # it started writing
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait()
        events, warnings = read_events(path)
        raw = path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1].splitlines()
        # Each resume mends a torn tail, so at most one corrupt line per earlier round.
        assert len(warnings) <= _round + 1
        assert len(events) == len([line for line in complete if _parses(line)])
        assert len(events) >= len(complete) - _round
    assert events and all(e.kind in {"run_started", "step_started", "output", "step_finished"}
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
    # written as schema 1 (before events were typed) wrote them: plain JSON lines
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + '{"event":"step_fin')


def test_resume_state_from_an_interrupted_resumed_run(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    synthetic_log(path)
    state, warnings = load_state(path)
    assert (state.run_id, state.sha256, state.path, state.resumes) == ("r1", "new", "book.md", 1)
    assert state.segments[1].forced and state.segments[0].status is None  # killed
    assert {s: state.steps[s].status for s in state.steps} == {
        "s1": "ok", "s2": "ok", "s3": "failed", "s4": "skipped", "s5": None}
    assert [s for s in state.steps if state.done(s)] == ["s1", "s2", "s4"]
    assert state.running is not None and state.running.step == "s5"
    assert {n: (v.value, v.source) for n, v in state.variables.items() if not v.lost} == {
        "env": ("prod", "default"), "release": ("v42", "capture")}
    assert sorted(state.lost) == ["password", "token"]  # masked in the log: ask again
    assert state.sessions["local"].cwd == "/srv"
    assert state.steps["s5"].hosts["local"].stdout.text == "zzz"
    assert "last line is incomplete" in warnings[0]
    assert any("API_TOKEN" in w for w in warnings)


def test_changed_code_of_finished_steps_only(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    synthetic_log(path)
    state, _ = load_state(path)

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


# --- what is not a transcript ----------------------------------------------------------------


@pytest.mark.parametrize(("content", "why"), [
    (b"", "empty file, not a transcript"),
    (b"\n  \n", "empty file, not a transcript"),
    (b"# Deploy\n\n```bash\necho hi\n```\n", "its first line is not a runbook event"),
    (b'{"event":"output","text":"x"}\n', "it starts with 'output', not 'run_started'"),
    (b'{"event":"run_sta', "no complete event in it"),
    (b'{"event":"run_started","schema":99}\n', "transcript schema 99; this runbook-engine "
                                                "reads up to schema 2"),
])
def test_not_a_transcript_is_one_line(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(content)
    with pytest.raises(NotATranscript) as err:
        read_events(path)
    assert why in str(err.value) and str(err.value).startswith(str(path))
    assert "\n" not in str(err.value) and err.value.exit_code == 2


def test_a_later_session_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"event":"run_started"}\n{"event":"run_started","schema":3}\n')
    with pytest.raises(NotATranscript, match=f"^{path}:2: written with transcript schema 3"):
        read_events(path)


def test_every_event_reads_back_equal(tmp_path: Path) -> None:
    from runbook_engine import events as ev

    samples: list[Event] = [
        RunStarted(schema=2, run_id="r", operator=ev.Operator(login="a"), plan=(
            ev.PlannedStep(id="s", section=("A", "B"), line=3),), variables=(
            ev.VarRecord(name="v", value={"h1": [1, 2]}),), overrides=("x",)),
        ev.VarSet(name="v", source="capture", value=("a", 1)),
        StepStarted(step="s", targets=("h1", "h2"), hosts=("h2",), attempt=2),
        Output(step="s", text="t", host="h2"), OutputSpilled(step="s", file="f", bytes=3),
        OutputTail(step="s", file="f", bytes=3, chars=3, text="abc"),
        ev.Decision(step="s", answer="edit", original="a", edited="b"), Note(text="n"),
        StepFinished(step="s", status="ok", hosts={"h1": ev.HostResult(status="ok")},
                     session={"h1": ev.SessionRecord(cwd="/", env={"A": None})},
                     captured={"c": {"h1": "x"}}, open_item="s: S"),
        RunFinished(status="ok", counts={"ok": 1}, open_items=("s: S",)),
    ]
    path = tmp_path / "t.jsonl"
    with TranscriptWriter(path) as writer:
        for event in samples:
            writer.record(event)
    events, _ = read_events(path)
    assert events == samples


def test_the_fsync_runs_on_its_own_thread_and_settles(tmp_path: Path) -> None:
    writer = TranscriptWriter(tmp_path / "run.jsonl")
    writer.record(StepStarted(step="s"))
    writer.record(StepFinished(step="s", status="ok"))  # a decision point: its fsync is asked
    writer.settle()
    assert writer._syncer._done == writer._syncer._asked == 1
    writer.close()
    assert writer._syncer._thread is not None and not writer._syncer._thread.is_alive()


def test_settle_does_not_wait_for_a_slow_fsync_thread(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # the thread's fsync is held up (a slow disk, a thread not yet given the GIL): settle makes
    # the results durable with an fsync of its own, which returns when the disk is done
    from runbook_engine.transcript import log

    real, release, calls = log.fsync, threading.Event(), []

    def fsync(fd: int, path: Path) -> None:
        calls.append(threading.current_thread().name)
        if threading.current_thread().name == "transcript-fsync":
            release.wait(30)
        real(fd, path)

    monkeypatch.setattr(log, "fsync", fsync)
    writer = TranscriptWriter(tmp_path / "run.jsonl")
    try:
        writer.record(StepFinished(step="s", status="ok"))  # a decision point: its fsync asked
        started = time.monotonic()
        writer.settle()
        assert time.monotonic() - started < 10
        assert calls.count("MainThread") == 1
        assert writer._syncer._done == writer._syncer._asked == 1
    finally:
        release.set()
        writer.close()
    assert writer._syncer._done == 1


def test_an_fsync_that_fails_is_raised_by_settle_naming_the_file(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()  # a pipe cannot be fsync'd: a real error from the system
    try:
        syncer = _Syncer(write_end, tmp_path / "t.jsonl")
        syncer.request()
        with pytest.raises(RunbookError, match=r"t\.jsonl: cannot write: Invalid argument"):
            syncer.settle()
        with pytest.raises(RunbookError):
            syncer.stop()
    finally:
        os.close(read_end)
        os.close(write_end)
