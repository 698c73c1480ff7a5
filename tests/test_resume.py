"""Crash and resume for real: SIGKILL the tool at several points; finished steps never rerun."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "runbook_engine", "run", *args, "--yes"],
                            cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def events(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a torn line from the kill
            out.append(json.loads(line))
    return out


def wait_for(path: Path, predicate, limit: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if path.exists() and predicate(events(path)):
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting on {path}")


def test_kill_during_a_step_then_resume(tmp_path: Path) -> None:
    counter, flag = tmp_path / "counter", tmp_path / "flag"
    book = tmp_path / "book.md"
    book.write_text(
        "# Resume\n\n"
        f"```bash {{#first}}\necho first >> {counter}\ncd /tmp\nexport CARRIED=yes\n"
        "unset HOME\n```\n\n"
        f"```bash {{#second}}\necho second >> {counter}\n"
        f"[ -e {flag} ] || {{ touch {flag}; sleep 30; }}\n"
        'echo "cwd=$PWD carried=$CARRIED home=${HOME:-unset} operator=$OPERATOR_SET"\n```\n\n'
        f"```bash {{#third}}\necho third >> {counter}\n```\n")
    transcript = tmp_path / "t.jsonl"
    first = start(str(book), "--transcript", str(transcript), cwd=tmp_path)
    wait_for(transcript, lambda evs: any(e.get("step") == "second" and
                                         e["event"] == "step_started" for e in evs))
    time.sleep(0.3)  # let the step reach its sleep
    first.send_signal(signal.SIGKILL)
    first.wait()

    env = {**ENV, "OPERATOR_SET": "after-crash"}
    resumed = subprocess.run([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                              "--resume", str(transcript)], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert counter.read_text().split() == ["first", "second", "second", "third"]
    # the session came back: cwd, an export and an unset, on top of the new environment
    assert "cwd=/tmp carried=yes home=unset operator=after-crash" in resumed.stdout
    evs = events(transcript)
    assert [e["event"] for e in evs].count("run_started") == 2
    assert evs[-1]["event"] == "run_finished" and evs[-1]["status"] == "ok"


def test_resume_refuses_when_a_finished_step_changed(tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    book.write_text("# R\n\n```bash {#one}\necho one\n```\n\n```bash {#two}\nfalse\n```\n")
    transcript = tmp_path / "t.jsonl"
    run = subprocess.run([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                          "--transcript", str(transcript)], cwd=tmp_path, env=ENV,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    book.write_text("# R\n\n```bash {#one}\necho ONE CHANGED\n```\n\n```bash {#two}\ntrue\n```\n")
    refused = subprocess.run([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                              "--resume", str(transcript)], cwd=tmp_path, env=ENV,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "one" in refused.stderr and "--force" in refused.stderr
    assert refused.stderr.count("\n") == 1
    forced = subprocess.run([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                             "--resume", str(transcript), "--force"], cwd=tmp_path, env=ENV,
                            capture_output=True, text=True, timeout=60)
    assert forced.returncode == 0, forced.stderr
    assert "ONE CHANGED" not in forced.stdout  # the finished step was not run again
    restarted = [e for e in events(transcript) if e["event"] == "run_started"]
    assert restarted[-1]["forced"] is True


def test_random_kills_never_rerun_a_finished_step(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    steps = 25
    book = tmp_path / "book.md"
    book.write_text("# Many\n\n" + "".join(
        f"```bash {{#s{i}}}\necho s{i} >> {counter}\nsleep 0.05\n```\n\n" for i in range(steps)))
    transcript = tmp_path / "t.jsonl"
    rng = random.Random(20261127)
    args = [str(book), "--transcript", str(transcript)]
    for _ in range(40):
        proc = start(*args, cwd=tmp_path)
        try:
            proc.wait(timeout=rng.uniform(0.3, 0.9))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        evs = events(transcript) if transcript.exists() else []
        if evs and evs[-1]["event"] == "run_finished":
            break
        if any(e["event"] == "run_started" for e in evs):  # killed before that: start afresh
            args = [str(book), "--resume", str(transcript)]
        else:
            transcript.unlink(missing_ok=True)
    evs = events(transcript)
    assert evs[-1]["event"] == "run_finished" and evs[-1]["status"] == "ok"
    assert [e["event"] for e in evs].count("run_started") >= 2  # it really was killed
    finished_at: dict[str, int] = {}
    for position, event in enumerate(evs):
        if event["event"] == "step_finished" and event["status"] == "ok":
            assert event["step"] not in finished_at, f"{event['step']} finished twice"
            finished_at[event["step"]] = position
        if event["event"] == "step_started":
            assert event["step"] not in finished_at, f"{event['step']} started after finishing"
    assert len(finished_at) == steps
    ran = counter.read_text().split()
    starts = [e["step"] for e in evs if e["event"] == "step_started"]
    for i in range(steps):
        assert 1 <= ran.count(f"s{i}") <= starts.count(f"s{i}")
