"""Start-up with the web layer in the tree: `plan`, `plan --format html`, `lint` and `run --yes`
as fresh processes (CPU, median of N) against the bare imports of their libraries, measured for
this tree and, when given, another one (the tree before the change) in the same run; and how long
`runbook serve` takes to print its URLs.

Run: python bench/bench_web.py [--before /path/to/other/tree] [-n 15]
(appends the figures to bench/RESULTS.md)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = "books/host-health.md"
BARE = [sys.executable, "-c", "import markdown_it, yaml, jinja2, click"]
COMMANDS = {
    "plan": ["plan", BOOK],
    "plan --format html": ["plan", BOOK, "--format", "html"],
    "lint": ["lint", BOOK],
}


def cpu_ms(cmd: list[str], env: dict[str, str], runs: int, cwd: Path) -> float:
    """Median CPU (user + system) of a fresh process, in ms."""
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3)
    return statistics.median(times)


def tree_figures(tree: Path, runs: int, folder: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1"}
    main = [sys.executable, "-m", "runbook_engine"]
    figures = {name: cpu_ms([*main, *args], env, runs, ROOT) for name, args in COMMANDS.items()
               if name != "plan --format html" or (tree / "runbook_engine" / "web").is_dir()}
    (folder / "one.md").write_text("# One\n\n```bash {#one}\ntrue\n```\n")
    figures["run --yes (one step)"] = cpu_ms(
        [*main, "run", "one.md", "--yes", "--transcript-dir", str(folder / "t")], env, runs,
        folder)
    return figures


MODULES = ("import sys, runpy; sys.argv=['runbook', *sys.argv[1:]]\n"
           "try:\n    runpy.run_module('runbook_engine', run_name='__main__')\n"
           "except SystemExit:\n    pass\n"
           "top = {m.split('.')[0] for m in sys.modules}\n"
           "web = sorted({'starlette', 'uvicorn', 'anyio'} & top)\n"
           "print(len(sys.modules), ','.join(web) or '-', file=sys.stderr)\n")


def modules(tree: Path, args: list[str]) -> str:
    """How many modules the command loads, and which of the web stack (none expected)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-c", MODULES, *args], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=False)
    count, web = result.stderr.strip().splitlines()[-1].split()
    return f"{count} modules, web stack: {web}"


def serve_ready_s(folder: Path) -> float:
    """Seconds from starting `runbook serve` to its URLs on standard output."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "runbook_engine", "serve", BOOK,
                             "--transcript", str(folder / "serve.jsonl")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if re.search(r"watchers: http", line):
            break
    ready = time.monotonic() - started
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    return ready


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, help="the tree before the change (a worktree)")
    parser.add_argument("-n", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bare = cpu_ms(BARE, dict(os.environ), args.n, ROOT)
        after = tree_figures(ROOT, args.n, folder)
        before = tree_figures(args.before, args.n, folder) if args.before else {}
        ready = serve_ready_s(folder)
    date = dt.date.today().isoformat()
    lines = [f"## bench_web.py, {date}", "",
             f"CPU of a fresh process, median of {args.n} (bare imports of markdown_it, yaml, "
             f"jinja2, click: {bare:.0f} ms):"]
    for name, value in after.items():
        line = f"- `runbook {name}`: {value:.0f} ms ({value / bare:.2f}x bare imports)"
        if name in before:
            line += f"; before the web layer {before[name]:.0f} ms ({value / before[name]:.2f}x)"
        lines.append(line)
    for name, command in COMMANDS.items():
        line = f"- `runbook {name}` loads {modules(ROOT, command)}"
        if args.before and name in before:
            line += f" (before: {modules(args.before, command)})"
        lines.append(line)
    lines.append(f"- `runbook serve {BOOK}` prints its URLs after {ready:.2f} s (wall)")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as results:
        results.write("\n" + text)


if __name__ == "__main__":
    main()
