"""Fuzz the reading side in-process: plan, lint, list, transcript and --resume entry points.

    nice -n 10 python bench/fuzz.py --seed 1 --count 100000 --out /tmp/fuzz [--results]

Each input is a grammar-aware runbook (bench/fuzz_grammar.py), random bytes, or a corrupted
transcript of a real run, fed to ``cli.main`` (the one place our errors become exit codes, so
anything it lets through is a crash) or to the resume preparation. It reports crash classes
(exception type + our innermost frame) with a minimised input, inputs slower than 2 s of CPU,
and the peak RSS with the input that raised it. ``--results`` appends the figures to
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fuzz_grammar as grammar  # noqa: E402

PACKAGE = str(ROOT / "runbook_engine")
SLOW_S = 2.0
HANG_S = 30.0
RUNBOOK_ARGS = [
    ["plan", "--format", "json"], ["plan"], ["plan", "--format", "markdown"],
    ["plan", "--format", "mermaid"], ["plan", "--format", "html"], ["lint"], ["list"],
    ["plan", "--granularity", "command", "--format", "json"], ["lint", "--granularity", "command"],
]
TRANSCRIPT_FORMATS = ["markdown", "html", "json", "notebook"]
SEED_BOOK = """---
title: fuzz seed
vars:
  who: {default: world}
---

# Seed

```bash {id=hello capture=greeting}
echo "hello {{ who }}"
```

```bash {id=secret capture=tok secret}
printf 'tok%s\\n' 123456
```

```bash {id=out}
echo "name=value" >> "$RUNBOOK_OUTPUT"
export API_TOKEN=abc12345
echo '{"a": 1}'
```

```bash {id=boom continue_on_error}
echo to stderr >&2
exit 3
```

```bash {id=last needs=hello}
echo "{{ greeting }} {{ steps.hello.exit_code }}"
```
"""


class Hang(BaseException):
    """An input ran past HANG_S of CPU (a BaseException, so no ``except Exception`` swallows
    it). CPU, not wall time: on a loaded machine a quick input can wait for a core that long."""


@dataclass
class Crash:
    key: str
    where: str
    message: str
    target: list[str]
    data: bytes
    count: int = 1


@dataclass
class Report:
    inputs: int = 0
    crashes: dict[str, Crash] = field(default_factory=dict)
    slow: list[tuple[float, float, str, bytes]] = field(default_factory=list)  # cpu, wall
    slowest: tuple[float, float, str] = (0.0, 0.0, "")
    peak_rss_kb: int = 0
    peak_input: str = ""
    seconds: float = 0.0
    kinds: dict[str, int] = field(default_factory=dict)


def _innermost(tb: TracebackType | None) -> str:
    where = "?"
    while tb is not None:
        frame: FrameType = tb.tb_frame
        if frame.f_code.co_filename.startswith(PACKAGE):
            rel = os.path.relpath(frame.f_code.co_filename, ROOT)
            where = f"{rel}:{frame.f_code.co_name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang(f"over {HANG_S:g} s of CPU")


def _fresh() -> None:
    """Empty our functools caches: each input is judged as the one process a CLI run is.

    Kept from input to input, they filled with what earlier inputs read (tens of thousands of
    texts, with their spans) and the fuzzer grew to 2.5 GB; a full garbage collection over that
    heap, charged to whichever input set it off, put inputs that take 0.5 s over 2 s.
    """
    for clear in _cache_clears(len(sys.modules)):  # looked for again after a new import
        clear()


@functools.lru_cache(maxsize=1)
def _cache_clears(_modules: int) -> tuple[Callable[[], None], ...]:
    return tuple(value.cache_clear for name, module in list(sys.modules.items())
                 if name.startswith("runbook_engine") for value in list(vars(module).values())
                 if callable(getattr(value, "cache_clear", None)))


def call(args: list[str]) -> BaseException | None:
    """One CLI invocation in-process; the exception our code let through, or None."""
    from runbook_engine import cli

    _fresh()
    sink = io.StringIO()
    signal.setitimer(signal.ITIMER_PROF, HANG_S)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            if args[0] == "resume":
                _resume(args[1], args[2])
            else:
                cli.main(args)
    except SystemExit:
        return None
    except (Exception, Hang) as exc:  # noqa: BLE001 - every other exception is a finding
        return exc
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    return None


def _resume(book: str, transcript: str) -> None:
    """What ``run --resume`` does before it runs anything, with the CLI's error mapping."""
    from runbook_engine.model import RunbookError
    from runbook_engine.runcmd import RunRequest, prepare

    try:
        prepare(RunRequest(book=book, resume_path=transcript, force=True))
    except RunbookError:
        pass
    except OSError:
        pass


def classify(exc: BaseException) -> tuple[str, str]:
    where = _innermost(exc.__traceback__)
    name = type(exc).__name__
    return f"{name} at {where.rsplit(':', 1)[0]}", where


class Fuzzer:
    def __init__(self, seed: int, workdir: Path, minimise_s: float = 30.0) -> None:
        self.minimise_s = minimise_s
        self.rng = random.Random(seed)
        self.dir = workdir
        self.book = workdir / "book.md"
        self.transcript = workdir / "t.jsonl"
        self.seeds = _seed_transcripts(workdir)
        self.report = Report()

    def one(self) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.8 or not self.seeds:
            kind, data = "runbook", grammar.runbook_bytes(rng)
            target = rng.choice(RUNBOOK_ARGS) + [str(self.book)]
        else:
            kind = "transcript"
            data = grammar.corrupt_transcript(rng, rng.choice(self.seeds))
            self.book.write_text(SEED_BOOK, encoding="utf-8")
            target = (["resume", str(self.book), str(self.transcript)] if rng.random() < 0.4
                      else ["transcript", "--format", rng.choice(TRANSCRIPT_FORMATS),
                            str(self.transcript)])
        self.report.kinds[kind] = self.report.kinds.get(kind, 0) + 1
        self.check(kind, data, target)

    def _run(self, kind: str, data: bytes, target: list[str]) -> tuple[BaseException | None,
                                                                        float, float]:
        (self.book if kind == "runbook" else self.transcript).write_bytes(data)
        cpu, wall = time.process_time(), time.perf_counter()
        exc = call(target)
        return exc, time.process_time() - cpu, time.perf_counter() - wall

    def check(self, kind: str, data: bytes, target: list[str]) -> None:
        exc, cpu, wall = self._run(kind, data, target)
        report = self.report
        report.inputs += 1
        label = " ".join(target[:-1] if kind == "runbook" else target[:-1])
        if cpu > report.slowest[0]:
            report.slowest = (cpu, wall, f"{kind}: {label}, {len(data):,} bytes")
        if cpu > SLOW_S:
            report.slow.append((cpu, wall, label, data))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if rss > report.peak_rss_kb:
            report.peak_rss_kb, report.peak_input = rss, f"{kind}: {label}, {len(data):,} bytes"
        if exc is None:
            return
        key, where = classify(exc)
        if key in report.crashes:
            report.crashes[key].count += 1
            return
        message = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        small = self.minimise(kind, data, target, key, self.minimise_s)
        report.crashes[key] = Crash(key, where, message, target[:-1], small)

    def minimise(self, kind: str, data: bytes, target: list[str], key: str,
                 budget_s: float = 30.0) -> bytes:
        """Drop chunks (halves, then smaller) while the same crash class still happens."""
        deadline = time.monotonic() + budget_s
        chunk = max(len(data) // 2, 1)
        while chunk >= 1 and time.monotonic() < deadline:
            start, shrunk = 0, False
            while start < len(data) and time.monotonic() < deadline:
                candidate = data[:start] + data[start + chunk:]
                exc = self._run(kind, candidate, target)[0]
                if exc is not None and classify(exc)[0] == key:
                    data, shrunk = candidate, True
                else:
                    start += chunk
            if not shrunk:
                chunk //= 2
        return data


def _seed_transcripts(workdir: Path) -> list[bytes]:
    """Real transcripts to corrupt: the seed runbook run once, as a subprocess."""
    book = workdir / "seed.md"
    book.write_text(SEED_BOOK, encoding="utf-8")
    out = workdir / "seed.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    subprocess.run([sys.executable, "-m", "runbook_engine", "run", "--yes", str(book),
                    "--transcript", str(out)], cwd=workdir, capture_output=True, timeout=120,
                   check=False, env=env)
    return [out.read_bytes()] if out.exists() else []


def fuzz(seed: int, count: int, time_limit: float | None = None,
         progress: bool = False, out: Path | None = None, minimise_s: float = 30.0) -> Report:
    signal.signal(signal.SIGPROF, _alarm)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="runbook-fuzz-") as tmp:
        fuzzer = Fuzzer(seed, Path(tmp), minimise_s)
        for number in range(count):
            if time_limit is not None and time.monotonic() - started > time_limit:
                break
            fuzzer.one()
            if progress and number and number % 1000 == 0:
                fuzzer.report.seconds = time.monotonic() - started
                _progress(fuzzer.report, started)
                if out is not None:  # what was found so far survives a killed run
                    write_out(fuzzer.report, out)
    fuzzer.report.seconds = time.monotonic() - started
    return fuzzer.report


def _progress(report: Report, started: float) -> None:
    print(f"[{time.monotonic() - started:7.0f} s] {report.inputs:,} inputs, "
          f"{len(report.crashes)} crash classes, {len(report.slow)} slow, "
          f"peak {report.peak_rss_kb // 1024} MiB", file=sys.stderr, flush=True)


def summary(report: Report) -> list[str]:
    kinds = ", ".join(f"{kind} {number:,}" for kind, number in report.kinds.items())
    lines = [f"inputs: {report.inputs:,} ({kinds}) in {report.seconds:.0f} s",
             f"crash classes: {len(report.crashes)}",
             f"inputs over {SLOW_S:g} s CPU: {len(report.slow)}",
             f"slowest: {report.slowest[0]:.2f} s CPU ({report.slowest[1]:.2f} s wall), "
             f"{report.slowest[2]}",
             f"peak RSS: {report.peak_rss_kb // 1024} MiB ({report.peak_input})"]
    for crash in report.crashes.values():
        lines.append(f"  {crash.key} x{crash.count} [{' '.join(crash.target)}]: {crash.message}")
        lines.append(f"    minimised ({len(crash.data)} bytes): {crash.data[:300]!r}")
    return lines


def write_out(report: Report, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for number, crash in enumerate(report.crashes.values()):
        (out / f"crash-{number}.bin").write_bytes(crash.data)
    for number, (_, _, _, data) in enumerate(report.slow[:20]):
        (out / f"slow-{number}.bin").write_bytes(data)
    (out / "summary.json").write_text(json.dumps({
        "inputs": report.inputs, "seconds": report.seconds, "kinds": report.kinds,
        "crashes": [{"class": c.key, "where": c.where, "count": c.count, "target": c.target,
                     "message": c.message} for c in report.crashes.values()],
        "slow": [{"cpu_s": c, "wall_s": w, "target": t} for c, w, t, _ in report.slow],
        "slowest": report.slowest, "peak_rss_kb": report.peak_rss_kb,
    }, indent=2))


def append_results(report: Report, seed: int, count: int) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    ran = "" if report.inputs >= count else f" (stopped at {report.inputs:,} of {count:,})"
    lines = [f"\n## Fuzz ({stamp}, bench/fuzz.py --seed {seed} --count {count}, "
             f"{os.cpu_count()} CPUs, nice 10){ran}\n"]
    lines += [f"- {line.strip()}" for line in summary(report) if not line.startswith("    ")]
    with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--time-limit", type=float, default=None, help="stop after this many s")
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"))
    parser.add_argument("--results", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--memory-gb", type=float, default=4.0, help="address-space limit")
    args = parser.parse_args()
    limit = int(args.memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    report = fuzz(args.seed, args.count, args.time_limit, progress=True, out=args.out)
    print("\n".join(summary(report)))
    write_out(report, args.out)
    if args.results:
        append_results(report, args.seed, args.count)


if __name__ == "__main__":
    main()
