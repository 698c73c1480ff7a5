"""Where a fleet run's wall time goes (bench_fleet.py --parts; not a test): runs ``runbook``
in this process with timers around the SSH runner's parts, then prints one JSON line on stderr:
per part how many calls, when the first began and the last ended (seconds from start), the median
and 90th percentile of one call, and the process CPU. The timers wrap functions; they change
nothing else.

Run: ``python bench/fleet_parts.py run --yes ...`` (the arguments of ``runbook``).
"""

from __future__ import annotations

import atexit
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

T0, C0 = time.perf_counter(), time.process_time()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runbook_engine import runcmd  # noqa: E402
from runbook_engine.runners.ssh import connect, runner, shell  # noqa: E402
from runbook_engine.runners.ssh.lib import paramiko  # noqa: E402  (as the run imports it)

SPANS: dict[str, list[tuple[float, float]]] = defaultdict(list)


def timed(owner: Any, name: str, part: str) -> None:
    """Replace ``owner.name`` by a wrapper that records each call's start and end."""
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPANS[part].append((start - T0, time.perf_counter() - T0))

    setattr(owner, name, wrapper)


PARTS = (
    (runcmd.Runners, "_make", "runner made (config read)"),
    (connect.Connector, "_tcp", "TCP connect"),
    (paramiko.Transport, "start_client", "key exchange"),
    (connect, "authenticate", "authentication"),
    (runner, "open_remote", "shell channel opened"),
    (shell.Remote, "settle", "shell set-up records (after the first step was sent)"),
    (runner.SSHRunner, "run", "step (one host)"),
    (runcmd.Runners, "close", "teardown"),
)


def report() -> None:
    parts = {}
    for part, spans in SPANS.items():
        each = sorted(end - start for start, end in spans)
        parts[part] = {"calls": len(spans), "first": round(min(s for s, _ in spans), 3),
                       "last_end": round(max(e for _, e in spans), 3),
                       "median_ms": round(statistics.median(each) * 1000, 1),
                       "p90_ms": round(each[int(len(each) * 0.9)] * 1000, 1)}
    summary = {"wall": round(time.perf_counter() - T0, 3),
               "cpu": round(time.process_time() - C0, 3), "parts": parts}
    print("PARTS " + json.dumps(summary), file=sys.stderr, flush=True)


def report_then(leave: Callable[[int], Any]) -> Callable[[int], Any]:
    """``run`` ends with os._exit (cli._leave), which skips atexit: report first."""

    def leaving(code: int) -> Any:
        atexit.unregister(report)
        report()
        return leave(code)

    return leaving


if __name__ == "__main__":
    for owner, name, part in PARTS:
        timed(owner, name, part)
    atexit.register(report)  # the other ways out (an error)
    from runbook_engine import cli

    cli._leave = report_then(cli._leave)  # type: ignore[assignment]
    sys.argv = ["runbook", *sys.argv[1:]]
    cli.main()
