"""Benchmark `runbook run --yes`: marginal cost per trivial step vs a bash script of `bash -c`s.

Target (issue 3): (time for 210 steps - time for 10 steps) / 200 through Engine + LocalRunner + a
JSONL sink that fsyncs every non-output event is at most 1.5x the same figure for a bash script
that runs each step as `bash -c 'echo step N'`. Both are measured in the same run, in alternating
rounds, so that a machine shared with other work loads them alike. Besides wall time, the CPU
time (ours plus our children's, user + sys) per step is given: it barely moves with the load.
The runner alone (no engine, no sink) is measured too: that is the runner's own overhead.
Run: python bench/bench_local.py  (appends the figures to bench/RESULTS.md)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runbook_engine.control import AutoController  # noqa: E402
from runbook_engine.engine import Engine, RunOptions, RunPlan  # noqa: E402
from runbook_engine.events import Event  # noqa: E402
from runbook_engine.model import LOCAL, HostTarget, Runbook, Step  # noqa: E402
from runbook_engine.recording import Recorder  # noqa: E402
from runbook_engine.redact import Redactor  # noqa: E402
from runbook_engine.runners.base import Command, Runner  # noqa: E402
from runbook_engine.runners.local import LocalRunner  # noqa: E402
from runbook_engine.state import RunState  # noqa: E402

SMALL, LARGE, REPEAT = 10, 210, 5
TARGET = 1.5


class JsonlSink:
    """Stands in for the transcript writer: a JSON line per event, fsync before actions."""

    def __init__(self, path: Path) -> None:
        self.handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def record(self, event: Event) -> list[Event]:
        self.handle.write(json.dumps(event.to_json()) + "\n")
        self.handle.flush()
        if event.kind != "output":
            os.fsync(self.handle.fileno())
        return [event]

    def close(self) -> None:
        self.handle.close()


def engine_run(n: int, folder: Path, use_server: bool = True) -> float:
    steps = [Step(id=f"s{i}", title=f"Step {i}", path="bench.md", line=i, kind="shell",
                  lang="bash", code=f"echo step {i}", index=i) for i in range(1, n + 1)]
    runbook = Runbook(path="bench.md", title="bench", steps=tuple(steps), sha256="0")
    sink = JsonlSink(folder / f"run-{n}.jsonl")
    runner = LocalRunner(use_server=use_server)

    def runner_for(target: HostTarget) -> Runner:
        return runner

    state = RunState()
    engine = Engine(RunPlan(runbook, tuple(steps), lambda step: [LOCAL]),
                    RunOptions(run_id="bench", yes=True), state=state,
                    emit=Recorder(state, sink, Redactor()), controller=AutoController(),
                    runners=runner_for, environ=dict(os.environ))
    start = time.perf_counter()
    outcome = engine.run()
    elapsed = time.perf_counter() - start
    sink.close()
    runner.close()
    assert outcome.exit_code == 0 and outcome.counts["ok"] == n, outcome
    return elapsed


def bash_run(n: int, folder: Path) -> float:
    script = folder / f"baseline-{n}.sh"
    script.write_text("".join(f"bash -c 'echo step {i}'\n" for i in range(1, n + 1)))
    start = time.perf_counter()
    subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, check=True)
    return time.perf_counter() - start


def runner_run(n: int, folder: Path, use_server: bool = True) -> float:
    """The runner alone: n `echo` steps, output thrown away."""
    runner = LocalRunner(use_server=use_server)
    cancel = threading.Event()
    start = time.perf_counter()
    for i in range(1, n + 1):
        result = runner.run(Command(f"echo step {i}", f"s{i}", "bench"), lambda s, t: None, cancel)
        assert result.status == "ok", result
    elapsed = time.perf_counter() - start
    runner.close()
    return elapsed


Run = Callable[[int, Path], float]


def cpu_now() -> float:
    """CPU seconds used by us and by the children we have waited for (bash servers, steps)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def sample(run: Run, n: int, folder: Path) -> tuple[float, float]:
    """(wall seconds as ``run`` measures it, CPU seconds of the whole call)."""
    before = cpu_now()
    wall = run(n, folder)
    return wall, cpu_now() - before


def marginals(runs: dict[str, Run], folder: Path) -> dict[str, tuple[float, float]]:
    """Per run: medians over REPEAT alternating rounds of (t(LARGE) - t(SMALL)) / (LARGE - SMALL),
    for wall and CPU time, in seconds."""
    walls: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(REPEAT):
        for name, run in runs.items():
            (big_wall, big_cpu), (small_wall, small_cpu) = (
                sample(run, LARGE, folder), sample(run, SMALL, folder))
            walls[name].append((big_wall - small_wall) / (LARGE - SMALL))
            cpus[name].append((big_cpu - small_cpu) / (LARGE - SMALL))
    return {name: (statistics.median(walls[name]), statistics.median(cpus[name]))
            for name in runs}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-local-", dir=ROOT / "bench") as tmp:
        folder = Path(tmp)
        engine_run(SMALL, folder)  # warm up imports and caches
        got = marginals({
            "ours": engine_run,
            "spawn": lambda n, f: engine_run(n, f, use_server=False),
            "base": bash_run,
            "runner": runner_run,
            "runner_spawn": lambda n, f: runner_run(n, f, use_server=False),
        }, folder)
    (ours, ours_cpu), (spawn, spawn_cpu), (base, base_cpu) = got["ours"], got["spawn"], got["base"]
    ratio = ours / base
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    lines = [
        f"## Local run ({stamp}, bench/bench_local.py, {os.cpu_count()} CPUs, "
        f"load average {load:.1f})",
        "",
        f"- marginal per `echo` step, ({LARGE}-{SMALL})/{LARGE - SMALL}, median of {REPEAT}: "
        f"Engine + LocalRunner + fsync'd JSONL sink {ours * 1000:.2f} ms, bash script of "
        f"`bash -c` {base * 1000:.2f} ms -> {ratio:.2f}x (target <= {TARGET}x) {verdict}",
        f"- same with a new bash per step (LocalRunner(use_server=False), the path for "
        f"interactive steps and other shells): {spawn * 1000:.2f} ms -> {spawn / base:.2f}x",
        f"- CPU per step (user+sys, ours and our children's): engine + persistent bash "
        f"{ours_cpu * 1000:.2f} ms, engine + new bash per step {spawn_cpu * 1000:.2f} ms, "
        f"`bash -c` {base_cpu * 1000:.2f} ms -> {ours_cpu / base_cpu:.2f}x / "
        f"{spawn_cpu / base_cpu:.2f}x",
        f"- the runner alone (no engine, no sink), wall / CPU per step: persistent bash "
        f"{got['runner'][0] * 1000:.2f} / {got['runner'][1] * 1000:.2f} ms, new bash per step "
        f"{got['runner_spawn'][0] * 1000:.2f} / {got['runner_spawn'][1] * 1000:.2f} ms",
    ]
    print("\n".join(lines))
    results = ROOT / "bench" / "RESULTS.md"
    if not results.exists():
        results.write_text("# Benchmark results\n\nEach section is appended by a bench script.\n")
    with results.open("a", encoding="utf-8") as handle:
        handle.write("\n" + "\n".join(lines) + "\n")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
