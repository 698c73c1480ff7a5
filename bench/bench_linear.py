"""Is planning linear in input size for every shape of runbook, with bounded memory?

Issue 15 targets: for each shape (one huge block, one huge line, many blocks, many headings, a
long table, deep lists, 1 KB steps), planning 8 MB takes <= 9x planning 1 MB, and peak memory
stays under 10x the input + 100 MB. Shapes of more than 10,000 steps or code blocks are refused
(the step cap, docs/format.md "Limits"): their line says so, with the refusal's time and memory.
Each measurement is a fresh process (`runbook plan --format json`
in-process there, output to /dev/null) so its peak RSS is its own.

Run: python bench/bench_linear.py [--sizes 1 8] [--shapes block line ...] [--results]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MB = 1 << 20
TIMEOUT_S = 900


def _fill(unit: Callable[[int], str], size: int, head: str = "# Linear\n\n",
          tail: str = "") -> str:
    out, total, i = io.StringIO(), len(head) + len(tail), 0
    out.write(head)
    while total < size:
        piece = unit(i)
        out.write(piece)
        total += len(piece)
        i += 1
    out.write(tail)
    return out.getvalue()


_TAGS = ", ".join(['"x"'] * 180)


def _post(i: int) -> str:
    """A section holding one 1 KB command."""
    body = f'{{"id": {i}, "tags": [{_TAGS}]}}'
    return (f"## Post {i}\n\n```bash\ncurl -X POST -H 'Content-Type: application/json' "
            f"https://api.example/v1/items/{i} -d '{body}'\n```\n\n")


SHAPES: dict[str, tuple[Callable[[int], str], list[str]]] = {
    # one code block of many commands
    "block": (lambda size: _fill(lambda i: f"echo line {i} of the one block\n", size,
                                 "# Linear\n\n```bash\n", "```\n"), []),
    # one line of one command, planned a step per command
    "line": (lambda size: _fill(lambda i: f"arg{i} ", size, "# Linear\n\n```bash\necho ",
                                "\n```\n"), ["--granularity", "command"]),
    # many small blocks
    "blocks": (lambda size: _fill(lambda i: f"```bash\necho {i}\n```\n\n", size), []),
    # many steps as big as 8 MB allows under the 10,000-step cap: a 1 KB command each (a curl
    # posting JSON); 1 MB is 1,000 steps, 8 MB 8,000
    "steps": (lambda size: _fill(_post, size), []),
    # many sections, each a heading, prose and a command
    "headings": (lambda size: _fill(lambda i: f"## Section {i}\n\nRestart it:\n\n"
                                              f"    systemctl restart svc{i}\n\n", size), []),
    # one long table of commands
    "table": (lambda size: _fill(lambda i: f"| step {i} | `kubectl get pod p{i}` | ok |\n", size,
                                 "# Linear\n\n| step | command | result |\n|---|---|---|\n"),
              []),
    # nested lists, 30 levels deep, over and over, with commands inside
    "lists": (lambda size: _fill(lambda i: "  " * (i % 30) + f"- item {i} `ls /d{i}`\n", size),
              []),
}


def measure_one(shape: str, megabytes: float) -> dict[str, Any]:
    """In this process: write the runbook, then plan it; CPU, wall and peak RSS."""
    make, args = SHAPES[shape]
    text = make(int(megabytes * MB))
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / f"{shape}.md"
        book.write_text(text, encoding="utf-8")
        del text
        sys.path.insert(0, str(ROOT))
        from runbook_engine import cli

        cpu, wall = time.process_time(), time.perf_counter()
        errors, code = io.StringIO(), 0
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), \
                contextlib.redirect_stderr(errors):
            try:
                cli.main(["plan", "--format", "json", *args, str(book)])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        size = book.stat().st_size
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # a refusal (the step cap) is measured too, and said
    refused = errors.getvalue().strip().split(": ", 1)[-1] if code else ""
    return {"bytes": size, "cpu_s": cpu, "wall_s": wall, "rss": rss, "refused": refused}


def measure(shape: str, megabytes: float) -> dict[str, Any] | None:
    """One measurement in a fresh process; None when it ran past TIMEOUT_S."""
    try:
        done = subprocess.run([sys.executable, __file__, "--one", shape, str(megabytes)],
                              capture_output=True, text=True, timeout=TIMEOUT_S, check=True)
    except subprocess.TimeoutExpired:
        return None
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def judge(small: dict[str, Any] | None, large: dict[str, Any] | None) -> tuple[str, bool]:
    if small is None or large is None:
        return f"over {TIMEOUT_S} s", False
    ratio = large["cpu_s"] / max(small["cpu_s"], 1e-3)
    budget = 10 * large["bytes"] + 100 * MB
    ok = ratio <= 9 and large["rss"] <= budget
    refused = "; ".join(f"{name} refused: {m['refused']}" for name, m in
                        (("small", small), ("large", large)) if m.get("refused"))
    return (f"{small['cpu_s']:.2f} s -> {large['cpu_s']:.2f} s CPU ({ratio:.1f}x, wall "
            f"{small['wall_s']:.1f} -> {large['wall_s']:.1f} s), peak RSS "
            f"{small['rss'] / MB:.0f} -> {large['rss'] / MB:.0f} MiB of {budget / MB:.0f} allowed"
            + (f" ({refused})" if refused else "")), ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=2, metavar=("SHAPE", "MB"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", nargs=2, type=float, default=[1, 8], metavar=("SMALL", "LARGE"))
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES))
    parser.add_argument("--results", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one[0], float(args.one[1]))))
        return
    small_mb, large_mb = args.sizes
    lines = []
    for shape in args.shapes:
        verdict, ok = judge(measure(shape, small_mb), measure(shape, large_mb))
        line = f"- {shape}: {verdict} {'PASS' if ok else 'FAIL'}"
        print(line, flush=True)
        lines.append(line)
    if args.results:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as handle:
            handle.write(f"\n## Linear planning ({stamp}, bench/bench_linear.py, {small_mb:g} MB "
                         f"vs {large_mb:g} MB, {os.cpu_count()} CPUs; target <= 9x time, RSS <= "
                         "10x input + 100 MB)\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
