"""Benchmark step output at volume through `runbook run --yes` (issues 11 and 15).

Three steps: 50,000 short lines, one 50 MB blob without a newline, and 1 GB of 100-byte lines.
Each is run by `runbook run --yes` as a subprocess and, as the baseline, by `bash -c` with the
same code, and by `bash -c "... | cat"` (one more process relaying the bytes: the least a
relay like ours costs); all are drained by this process from a pipe and, for the first two,
from a real pty
(a terminal's line discipline is what an operator's screen costs). Rounds alternate so load from
other work hits every variant alike; medians are reported, with the time of a run of one `true`
step (interpreter start-up, loading) so the output's own cost can be seen. Peak RSS is the
runbook process's own (VmHWM, sampled as its output is read).
Targets: piped >= 200 MB/s for 1 GB with peak RSS < 100 MB; on a pty within 1.5x of piped.
Run: python bench/bench_output.py [--rounds N] [--no-gig]  (appends the figures to bench/RESULTS.md)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pty
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ = 1 << 20
# Peak RSS is sampled at most this often: reading /proc on each of a pty's ~4 KB reads made this
# reader (the "terminal") slower than the programs measured.
SAMPLE_S = 0.02

STEPS = {
    "empty": "true",
    "lines": "seq 50000 | sed 's/^/line /'",
    "blob": "head -c 50000000 /dev/zero | tr '\\0' x",
    "gig": "set +o pipefail; yes \"$(printf '%099d' 0)\" | head -c 1000000000",
}
SIZES = {"lines": 538_894, "blob": 50_000_000, "gig": 1_000_000_000}


@dataclass
class Run:
    wall: float
    received: int
    maxrss_kb: int


def drain(argv: list[str], terminal: bool, cwd: Path) -> Run:
    """Run ``argv`` with stdout and stderr on a pipe (or a pty) this process reads to the end."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120"}
    if terminal:
        reader, writer = pty.openpty()
    else:
        reader, writer = os.pipe()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=writer, stderr=writer,
                            cwd=cwd, env=env, start_new_session=True)
    os.close(writer)
    received = peak = 0
    sampled = 0.0
    while True:
        try:
            data = os.read(reader, READ)
        except OSError:  # a pty's reader gets EIO once the other side is closed
            break
        if not data:
            break
        received += len(data)
        now = time.perf_counter()
        if now - sampled >= SAMPLE_S:  # VmHWM is a high-water mark: sampling often adds nothing
            peak, sampled = max(peak, peak_rss_kib(proc.pid)), now
    code = proc.wait()
    wall = time.perf_counter() - start
    os.close(reader)
    if code != 0:
        raise SystemExit(f"{argv[:5]} failed with {code}")
    return Run(wall, received, peak)


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the process's peak resident memory since its exec."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines()
                 if line.startswith("VmHWM:")), 0)


def variants(folder: Path, name: str) -> dict[str, list[str]]:
    code = STEPS[name]
    book = folder / f"{name}.md"
    book.write_text(f"# Output\n\n```bash {{#{name} timeout=600s}}\n{code}\n```\n")
    ours = [sys.executable, "-m", "runbook_engine", "run", "--yes", "--transcript",
            str(folder / "t.jsonl"), str(book)]
    # cat: the same bytes relayed by one more process (the least any relay like ours can cost)
    return {"ours": ours, "bash": ["bash", "-c", code],
            "cat": ["bash", "-c", f"{{ {code}; }} | cat"]}


def measure(folder: Path, name: str, rounds: int, terminal_too: bool) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {}
    modes = (False, True) if terminal_too else (False,)
    for _ in range(rounds):
        for who, argv in variants(folder, name).items():
            for terminal in modes:
                key = f"{who}-{'pty' if terminal else 'pipe'}"
                runs.setdefault(key, []).append(drain(argv, terminal, folder))
                for leftover in folder.glob("t*"):  # each run writes a new transcript
                    leftover.unlink()
    return runs


def median(runs: list[Run]) -> float:
    return statistics.median(r.wall for r in runs)


def net(total: float, start: float) -> str:
    """The time past a one-`true` run's, when it is above the noise of start-up."""
    left = total - start
    return f"{left:.2f} s" if left > 0.05 else "within start-up noise"


def rate(size: int, seconds: float) -> str:
    return f"{size / 1e6 / seconds:.0f} MB/s" if seconds > 0.05 else "-"


def report(name: str, runs: dict[str, list[Run]], empty: dict[str, list[Run]]) -> list[str]:
    size = SIZES[name]
    ours, bash = median(runs["ours-pipe"]), median(runs["bash-pipe"])
    cat = median(runs["cat-pipe"])
    start = median(empty["ours-pipe"])
    rss = max(r.maxrss_kb for r in runs["ours-pipe"]) / 1024
    lines = [f"- {name} ({size / 1e6:.1f} MB) piped: bash -c {bash:.2f} s, `| cat` {cat:.2f} s, "
             f"runbook {ours:.2f} s = {size / 1e6 / ours:.0f} MB/s = {ours / bash:.2f}x bash -c "
             f"(a one-`true` run takes {start:.2f} s; past it: {net(ours, start)} = "
             f"{rate(size, ours - start)}); peak RSS {rss:.0f} MiB"]
    if "ours-pty" in runs:
        pty_ours, pty_bash = median(runs["ours-pty"]), median(runs["bash-pty"])
        lines.append(f"  on a pty: runbook {pty_ours:.2f} s = {pty_ours / ours:.2f}x piped "
                     f"(target <= 1.5x; past a one-`true` run on a pty: "
                     f"{net(pty_ours, median(empty['ours-pty']))}); bash -c on a pty "
                     f"{pty_bash:.2f} s = {pty_bash / bash:.2f}x its pipe; a pty's cost over a "
                     f"pipe for these bytes: bash -c {pty_bash - bash:+.2f} s, runbook "
                     f"{pty_ours - ours:+.2f} s")
    short = [r.received for rs in runs.values() for r in rs if r.received < size]
    if short:
        lines.append(f"  WARNING: a run delivered only {min(short)} bytes")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-gig", action="store_true", help="leave out the 1 GB step")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-output-"))
    try:
        empty = measure(folder, "empty", args.rounds, True)
        lines = report_all(folder, args, empty)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    text = (f"\n## Output ({stamp}, bench/bench_output.py, {os.cpu_count()} CPUs, "
            f"load {load:.1f}, median of {args.rounds})\n\n" + "\n".join(lines) + "\n")
    print(text)
    with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as handle:
        handle.write(text)


def report_all(folder: Path, args: argparse.Namespace, empty: dict[str, list[Run]]) -> list[str]:
    lines: list[str] = []
    for name in ("lines", "blob"):
        lines += report(name, measure(folder, name, args.rounds, True), empty)
    if not args.no_gig:
        lines += report("gig", measure(folder, "gig", max(1, args.rounds // 2), False), empty)
    return lines


if __name__ == "__main__":
    main()
