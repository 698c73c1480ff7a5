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

import pytest

from runbook_engine.events import StepStarted
from runbook_engine.state import RunState
from runbook_engine.transcript.reader import read_events

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


CHAIN = 14


def chain_book(path: Path, counter: Path) -> None:
    """Each step prints, writes stderr, captures, and shows what the step before it printed."""
    blocks = []
    for i in range(CHAIN):
        prev = f"{{{{ steps.s{i - 1}.stdout.split() | first }}}} " \
               f"{{{{ steps.s{i - 1}.stderr | trim }}}} {{{{ steps.s{i - 1}.exit_code }}}} " \
               f"{{{{ c{i - 1} }}}}" if i else "start"
        blocks.append(f"```bash {{#s{i} capture=c{i} extract=\"cap-(\\S+)\"}}\n"
                      f"echo s{i} >> {counter}\necho \"out-{i} cap-{i}x after {prev}\"\n"
                      f"echo e{i} >&2\nsleep 0.05\n```\n")
    path.write_text("# Chain\n\n" + "\n".join(blocks))


def chain_stdout(i: int) -> str:
    return f"out-{i} cap-{i}x after " + (f"out-{i - 1} e{i - 1} 0 {i - 1}x" if i else "start") \
        + "\n"


def consistent(transcript: Path) -> RunState:
    """The state rebuilt after a kill: whatever finished shows exactly what it printed."""
    events, warnings = read_events(transcript)
    assert all("last line is incomplete" in w or "corrupt line" in w for w in warnings)
    state = RunState.fold(events)
    starts = [e.step for e in events if isinstance(e, StepStarted)]
    for step_id, step in state.steps.items():
        i = int(step_id[1:])
        if step.status == "ok":
            view = state.template_steps()[step_id]
            assert (view["stdout"], view["stderr"], view["exit_code"]) == (
                chain_stdout(i), f"e{i}\n", 0)
            assert state.variables[f"c{i}"].value == f"{i}x"
        elif step.status is None:  # killed while it ran
            assert state.running is None or state.running.step == step_id
            assert starts[-1] == step_id
    ok = [s for s in state.steps.values() if s.status == "ok"]
    assert state.counts == ({"ok": len(ok)} if ok else {})  # a kill never fails a step
    return state


def test_sigkill_at_random_points_then_resume_continues(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    book = tmp_path / "book.md"
    chain_book(book, counter)
    transcript = tmp_path / "t.jsonl"
    rng = random.Random(20261202)
    args = [str(book), "--transcript", str(transcript)]
    kills = 0
    for _ in range(30):
        finished = len(_finished(transcript))
        proc = start(*args, cwd=tmp_path)
        # kill after some progress (start-up is slow on a loaded machine), at a random moment
        target = finished + rng.randint(1, 3)
        deadline = time.monotonic() + 60
        while proc.poll() is None and len(_finished(transcript)) < target and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.08))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        out, err = proc.communicate()
        evs = events(transcript)
        if evs and evs[-1]["event"] == "run_finished":
            if proc.returncode == 0:  # (unless the kill came as it exited)
                assert f"Run ok: {CHAIN} ok" in out  # the whole run, not this session's share
            break
        consistent(transcript)
        args = [str(book), "--resume", str(transcript)]
    assert kills >= 2  # it really was killed, more than once
    state = consistent(transcript)
    assert state.counts == {"ok": CHAIN} and state.resumes >= 2
    evs = events(transcript)
    finished_at: dict[str, int] = {}
    for position, event in enumerate(evs):
        if event["event"] == "step_finished" and event["status"] == "ok":
            assert event["step"] not in finished_at, f"{event['step']} finished twice"
            finished_at[event["step"]] = position
        if event["event"] == "step_started":
            assert event["step"] not in finished_at, f"{event['step']} started after finishing"
    ran = counter.read_text().split()
    starts = [e["step"] for e in evs if e["event"] == "step_started"]
    for i in range(CHAIN):
        assert 1 <= ran.count(f"s{i}") <= starts.count(f"s{i}")


def _finished(transcript: Path) -> list[dict]:
    return [e for e in events(transcript) if e["event"] == "step_finished"] \
        if transcript.exists() else []


# --- what a user sees on resume ----------------------------------------------------------------

GOLDEN = ROOT / "tests" / "golden" / "schema1"


def runbook(*args: str, cwd: Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", *args], cwd=cwd,
                          env=env or ENV, capture_output=True, text=True, timeout=60)


def test_resume_restores_what_templates_reach_and_counts_the_whole_run(tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    book.write_text(
        "# Restore\n\n"
        "```bash {#first capture=cap extract=\"id=(\\S+)\"}\n"
        "echo 'id=42 hello'; echo 'warn: slow disk' >&2\n"
        "echo 'build=b-9' >> \"$RUNBOOK_OUTPUT\"\n```\n\n"
        "```bash {#second}\n"
        "echo \"SEEN [{{ steps.first.stdout | trim }}] [{{ steps.first.stderr | trim }}] "
        "rc={{ steps.first.exit_code }} st={{ steps.first.status }} cap={{ cap }} "
        "bld={{ build }}\"\n"
        "test -e go\n```\n")
    transcript = tmp_path / "t.jsonl"
    first = runbook("run", str(book), "--yes", "--transcript", str(transcript), cwd=tmp_path)
    assert first.returncode == 1, first.stderr  # second fails: no ./go yet
    live = next(line for line in first.stdout.splitlines() if line.startswith("SEEN"))
    (tmp_path / "go").touch()
    again = runbook("run", str(book), "--yes", "--resume", str(transcript), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    resumed = next(line for line in again.stdout.splitlines() if line.startswith("SEEN"))
    assert resumed == live == ("SEEN [id=42 hello] [warn: slow disk] rc=0 st=ok cap=42 "
                               "bld=b-9")
    # the header and the summary count the whole run, not only this session
    assert "resuming run" in again.stdout and "1 ok, 1 failed" in again.stdout
    assert "Run ok: 2 ok" in again.stdout
    report = json.loads(runbook("transcript", str(transcript), "--format", "json",
                                cwd=tmp_path).stdout)
    assert report["header"]["counts"] == {"ok": 2} and report["header"]["resumes"] == 1


def test_an_old_transcript_still_resumes_and_renders(tmp_path: Path) -> None:
    """A transcript written before events were typed (schema 1), kept as written."""
    for name in ("book.md", "transcript.jsonl"):
        (tmp_path / name).write_bytes((GOLDEN / name).read_bytes())
    rendered = runbook("transcript", "transcript.jsonl", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert "| Steps | 3 ok · 1 failed · 1 skipped · 1 not run |" in rendered.stdout
    assert "`tell-the-channel-the-cache-is-rotating: Tell the channel" in rendered.stdout
    env = {**ENV, "ROTATE_READY": "1"}  # the gate that failed opens now
    resumed = runbook("run", "book.md", "--yes", "--resume", "transcript.jsonl", cwd=tmp_path,
                      env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # what the old session printed and captured reaches this session's templates, cwd and exports
    assert "version=7.2.1 shard=3 stage=drain cwd=/tmp" in resumed.stdout
    assert "version said: cache version 7.2.1 / warming up rc=0" in resumed.stdout
    assert "where said: region=eu-west" in resumed.stdout
    assert "Run ok: 5 ok, 1 skipped" in resumed.stdout
    assert "token" not in [e.get("step") for e in events(tmp_path / "transcript.jsonl")[20:]]
    after = runbook("transcript", "transcript.jsonl", "--format", "json", cwd=tmp_path)
    assert json.loads(after.stdout)["header"]["counts"] == {"ok": 5, "skipped": 1}


OTHER = "---\ntitle: Something else\n---\n# Something else\n\n```bash {#x}\necho x\n```\n"


@pytest.mark.parametrize(("name", "content", "why"), [
    ("notes.md", OTHER, "not a transcript (its first line is not a runbook event)"),
    ("empty.jsonl", "", "empty file, not a transcript"),
    ("other.jsonl", None, "this transcript records another runbook (other.md, \"Something else\"), "
                          "not book.md (\"Book\")"),
])
def test_resume_refuses_what_is_not_this_runbooks_transcript(tmp_path: Path, name: str,
                                                             content: str | None,
                                                             why: str) -> None:
    (tmp_path / "book.md").write_text("# Book\n\n```bash {#a}\necho a\n```\n")
    target = tmp_path / name
    if content is None:  # a real transcript, of another runbook
        (tmp_path / "other.md").write_text(OTHER)
        made = runbook("run", "other.md", "--yes", "--transcript", name, cwd=tmp_path)
        assert made.returncode == 0, made.stderr
    else:
        target.write_text(content)
    before = target.read_bytes()
    refused = runbook("run", "book.md", "--yes", "--resume", name, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr == f"{name}: {why}\n"
    assert refused.stdout == "" and target.read_bytes() == before  # nothing appended
    if content is not None:
        shown = runbook("transcript", name, cwd=tmp_path)
        assert shown.returncode == 2 and shown.stderr == f"{name}: {why}\n"
