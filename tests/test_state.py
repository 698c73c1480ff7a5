"""The run state is the fold of the transcript: for generated runbooks really run (the engine, the
local runner, the transcript writer), the state rebuilt from the file equals the live state after
every event, bounded and spilled output included."""

from __future__ import annotations

import copy
import os
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runbook_engine.control import AutoController
from runbook_engine.engine import Engine, RunOptions, RunPlan
from runbook_engine.events import Output, OutputTail, RunStarted, StepFinished, StepStarted
from runbook_engine.model import LOCAL, HostTarget, Runbook, Step
from runbook_engine.recording import Recorder
from runbook_engine.redact import Redactor
from runbook_engine.runners.base import Runner
from runbook_engine.runners.local import LocalRunner
from runbook_engine.state import RunState, StreamText
from runbook_engine.transcript.log import TranscriptWriter
from runbook_engine.transcript.reader import read_events
from runbook_engine.variables import Variable

# Small limits, so a generated run meets bounded buffers and spilled output.
HEAD, TAIL, INLINE = 40, 30, 200


def code_of(kind: str, i: int, n: int) -> dict[str, Any]:
    """One generated step's code and attributes; ``n`` varies what it prints."""
    prev = f"s{i - 1}" if i else None
    kinds: dict[str, dict[str, Any]] = {
        "echo": {"code": f"echo out-{i}-{n}"},
        "stderr": {"code": f"echo err-{i} >&2; echo out-{i}"},
        "fails": {"code": f"echo failing-{i}; exit {n % 4 + 1}", "continue_on_error": True},
        "big": {"code": f"seq 1 {40 + n * 15}"},  # beyond the head, the tail, even the inline limit
        "capture": {"code": f"echo 'v{n}.{i}'", "capture": f"c{i}", "extract": r"v(\S+)"},
        "output": {"code": f'echo "o{i}=val-{n}" >> "$RUNBOOK_OUTPUT"'},
        "template": {"code": f"echo \"prev=[{{{{ steps.{prev}.stdout | trim }}}}] "
                             f"rc={{{{ steps.{prev}.exit_code }}}}\"" if prev else "echo first"},
        "session": {"code": f"cd /tmp; export CARRY_{i}=x{n}; echo carried"},
        "skip": {"code": f"echo never-{i}", "when": "false"},
        "manual": {"kind": "manual", "code": f"Check dial {i}"},
        "secret": {"code": f"echo 'tok-{n}-secret-{i}'", "capture": f"k{i}", "secret": True},
        # the first attempt fails (and leaves a mark in the session), the retry succeeds
        "retry": {"code": f'[ -n "$TRIED_{i}" ] || {{ export TRIED_{i}=1; echo first-try; '
                          f'exit 1; }}; echo second-try', "retries": 1},
        # two hosts; h2 fails its first attempt, so the second attempt runs on h2 only
        "fanout": {"code": f'echo "on $FAKE_HOST"; [ $FAKE_HOST = h1 ] || [ -n "$TRIED_{i}" ] '
                           f"|| {{ export TRIED_{i}=1; exit 2; }}; cd /tmp; "
                           "export WHERE=$FAKE_HOST",
                   "retries": 1, "on": ("h1", "h2"), "capture": f"f{i}"},
        # an expected output: the date is volatile, the word after it matches when n is even
        "expected": {"code": f"echo 'at 2026-01-0{n % 9 + 1}T10:00:00Z: out-{i}'",
                     "expected_output": f"at 2025-12-31T23:59:59Z: out-{i + n % 2}",
                     "expected_from": "region"},
    }
    return kinds[kind]


KINDS = st.sampled_from(["echo", "stderr", "fails", "big", "capture", "output", "template",
                         "session", "skip", "manual", "secret", "retry", "fanout",
                         "expected"])
BOOKS = st.lists(st.tuples(KINDS, st.integers(0, 9)), min_size=1, max_size=6)


def make_steps(spec: list[tuple[str, int]]) -> list[Step]:
    steps = []
    for i, (kind, n) in enumerate(spec):
        attrs = code_of(kind, i, n)
        attrs.setdefault("kind", "shell")
        steps.append(Step(id=f"s{i}", title=f"Step {i} ({kind})", path="gen.md", line=i + 1,
                          lang="bash", index=i + 1, **attrs))
    return steps


def run_live(steps: list[Step], transcript: Path, run_id: str,
             state: RunState | None = None) -> tuple[RunState, list[RunState]]:
    """Run the steps for real; the live state and a copy of it after every recorded event."""
    state = state if state is not None else RunState(head_chars=HEAD, tail_chars=TAIL)
    snapshots: list[RunState] = []
    runners_by_host: dict[str, LocalRunner] = {}

    def runners(target: HostTarget) -> Runner:
        if target.name not in runners_by_host:  # a fake host: its own runner and environment
            runners_by_host[target.name] = LocalRunner({**os.environ, "FAKE_HOST": target.name})
        return runners_by_host[target.name]

    def targets_for(step: Step) -> list[HostTarget]:
        return [HostTarget(name) for name in step.on] if step.on else [LOCAL]

    writer = TranscriptWriter(transcript, append=bool(state.segments), inline_limit=INLINE,
                              tail_chars=TAIL)
    emit = Recorder(state, writer, Redactor(),
                    kept=[lambda event: snapshots.append(copy.deepcopy(state))])
    runbook = Runbook(path="gen.md", title="Generated", steps=tuple(steps), sha256="g")
    plan = RunPlan(runbook, tuple(steps), targets_for, {"who": Variable("who", "ops", "cli")})
    engine = Engine(plan, RunOptions(run_id=run_id, yes=True, continue_on_error=True),
                    state=state, emit=emit, controller=AutoController(), runners=runners,
                    environ=dict(os.environ))
    try:
        engine.run()
    finally:
        for runner in runners_by_host.values():
            runner.close()
        writer.close()
    return state, snapshots


def assert_folds_to(transcript: Path, snapshots: list[RunState], start: int = 0) -> None:
    events, warnings = read_events(transcript)
    assert warnings == []
    assert len(events) == start + len(snapshots)
    rebuilt = RunState(head_chars=HEAD, tail_chars=TAIL)
    for index, event in enumerate(events):
        rebuilt.apply(event)
        if index >= start:
            assert rebuilt == snapshots[index - start], f"differs after event {index}: {event}"


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(spec=BOOKS)
@example(spec=[("fanout", 1), ("template", 0), ("big", 9), ("secret", 2), ("retry", 0)])
def test_the_transcript_folds_to_the_live_state_at_every_event(tmp_path: Path,
                                                               spec: list[tuple[str, int]]) -> None:
    steps = make_steps(spec)
    transcript = tmp_path / f"run-{uuid.uuid4().hex[:12]}.jsonl"
    run_id = transcript.stem
    live, snapshots = run_live(steps, transcript, run_id)
    assert "blocked" not in live.counts  # every generated step really ran (none refused)
    assert_folds_to(transcript, snapshots)
    assert live == snapshots[-1]
    # a second session (a resume of the same run) folds on top of the first the same way
    before = len(snapshots)
    resumed, more = run_live(steps, transcript, run_id, state=copy.deepcopy(live))
    assert resumed.resumes == 1
    assert_folds_to(transcript, more, start=before)
    # a finished step is never run again; everything the templates saw is still there
    finished_before = {sid for sid, s in live.steps.items() if s.done}
    for sid in finished_before:
        assert resumed.steps[sid] == live.steps[sid]


def test_template_output_is_bounded_the_same_way_live_and_spilled(tmp_path: Path) -> None:
    text = "".join(f"line {i}\n" for i in range(500))
    live = StreamText()
    live.feed(text, HEAD, TAIL)
    assert live.text.startswith(text[:HEAD]) and live.text.endswith(text[-TAIL:])
    assert f"{len(text) - HEAD - TAIL} characters omitted" in live.text
    # the same stream as a transcript keeps it: the inline part, then the side file's tail
    state = RunState(head_chars=HEAD, tail_chars=TAIL)
    for event in (RunStarted(run_id="r"), StepStarted(step="s", targets=("local",)),
                  Output(step="s", text=text[:INLINE]),
                  OutputTail(step="s", file="f.log", bytes=len(text) - INLINE,
                             chars=len(text) - INLINE, text=text[-TAIL:]),
                  StepFinished(step="s", status="ok", attempts=1)):
        state.apply(event)
    stream = state.steps["s"].hosts["local"].stdout
    assert (stream.head, stream.tail, stream.omitted) == (live.head, live.tail, live.omitted)
    assert state.template_steps()["s"]["stdout"].endswith(text[-TAIL:])


def test_a_retry_on_some_hosts_keeps_the_others_output(tmp_path: Path) -> None:
    steps = make_steps([("fanout", 3), ("echo", 0)])
    steps[1] = Step(id="s1", title="show", path="gen.md", line=2, kind="shell", lang="bash",
                    code="echo '{{ steps.s0.hosts.h1.stdout | trim }} / "
                         "{{ steps.s0.hosts.h2.stdout | trim }} / {{ f0.h2 }}'")
    live, _ = run_live(steps, tmp_path / "t.jsonl", f"r{uuid.uuid4().hex[:8]}")
    events, _ = read_events(tmp_path / "t.jsonl")
    starts = [e for e in events if isinstance(e, StepStarted) and e.step == "s0"]
    assert [(e.attempt, e.hosts) for e in starts] == [(1, ()), (2, ("h2",))]
    s0 = live.steps["s0"]
    assert (s0.status, s0.hosts["h1"].stdout.text, s0.hosts["h2"].stdout.text) == (
        "ok", "on h1\n", "on h2\n")
    assert live.sessions["h2"].env["WHERE"] == "h2"
    assert live.steps["s1"].hosts["local"].stdout.text == "on h1 / on h2 / on h2\n"
