"""Benchmark per-step overhead as users meet it: `runbook run --yes` as a subprocess (issue 10).

Local: the marginal cost of 200 more `echo` steps, (t(210) - t(10)) / 200, through the CLI, against
a bash script running each step as `bash -c 'echo step N'` (target <= 1.2x). Output goes to a pipe
the bench drains, as when a run is piped or logged. The same runs with the transcript on tmpfs,
and the median fsync time of the transcript's folder, tell the disk's share (each result is
fsync'd before the next step runs) from the rest. SSH: the same marginal for steps on one host of
the test sshd (50 more steps), against `ssh -o ControlMaster=no` commands through an OpenSSH
ControlMaster on the same sshd (target: keep the 0.89x measured before issue 10). Each pair takes
turns in every round so load from other work hits both alike; CPU (user+sys, the process and its
children) is given next to the wall time because load barely moves it.
Run: python bench/bench_cli.py  (appends the figures to bench/RESULTS.md)
     python bench/bench_cli.py --against DIR  (also times the runbook of another checkout, e.g.
     main before a change, in the same rounds: the change's cost as a ratio of the same minutes)
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

REPEAT = 5
LOCAL_TARGET, SSH_TARGET = 1.2, 0.89
Timer = Callable[[int], tuple[float, float]]


def timed(argv: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (the child and its reaped descendants) of a command that must succeed;
    its output goes to a pipe this process drains."""
    before, start = os.times(), time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True)
    wall, after = time.perf_counter() - start, os.times()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}): {proc.stderr.decode()[-1500:]}")
    cpu = (after.children_user - before.children_user
           + after.children_system - before.children_system)
    return wall, cpu


def book(folder: Path, n: int, target: str | None) -> Path:
    path = folder / f"steps-{n}-{target or 'local'}.md"
    if not path.exists():
        on = f" {{on={target}}}" if target else ""
        blocks = "".join(f"## Step {i}\n\n```bash{on}\necho step {i}\n```\n\n" for i in range(n))
        path.write_text(f"# Steps\n\n{blocks}")
    return path


def runbook_timer(folder: Path, target: str | None, extra: list[str],
                  transcripts: Path | None = None, checkout: Path = ROOT) -> Timer:
    def run(n: int) -> tuple[float, float]:
        transcript = (transcripts or folder) / f"t-{time.monotonic_ns()}.jsonl"
        return timed([sys.executable, "-m", "runbook_engine", "run", "--yes", *extra,
                      "--transcript", str(transcript), str(book(folder, n, target))],
                     cwd=checkout)
    return run


def bash_timer(folder: Path) -> Timer:
    def run(n: int) -> tuple[float, float]:
        script = folder / f"baseline-{n}.sh"
        script.write_text("".join(f"bash -c 'echo step {i}'\n" for i in range(n)))
        return timed(["bash", str(script)])
    return run


def marginals(timers: dict[str, Timer], low: int, high: int) -> dict[str, tuple[float, float]]:
    """Per timer, medians over REPEAT rounds of the marginal wall and CPU per step."""
    walls: dict[str, list[float]] = {name: [] for name in timers}
    cpus: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(REPEAT):
        for name, timer in timers.items():
            (w_hi, c_hi), (w_lo, c_lo) = timer(high), timer(low)
            walls[name].append((w_hi - w_lo) / (high - low))
            cpus[name].append((c_hi - c_lo) / (high - low))
    return {n: (statistics.median(walls[n]), statistics.median(cpus[n])) for n in timers}


def fsync_ms(folder: Path, count: int = 200) -> float:
    """Median time of an fsync after appending a line, in ``folder``: what the transcript pays
    once per step (its result is on disk before the next step runs)."""
    path = folder / "fsync-probe.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(count):
            os.write(fd, b"{" + b"x" * 250 + b"}\n")
            start = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times) * 1000


def local_figures(folder: Path, against: Path | None = None) -> list[str]:
    ours, base = runbook_timer(folder, None, []), bash_timer(folder)
    timers = {"ours": ours, "base": base}
    if against is not None:
        timers["against"] = runbook_timer(folder, None, [], checkout=against)
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        # the same runs with the transcript on tmpfs, where fsync costs nothing: the rest is ours
        memory = Path(tempfile.mkdtemp(prefix="bench-cli-", dir=shm))
        timers["tmpfs"] = runbook_timer(folder, None, [], transcripts=memory)
    ours(10)  # warm-up: bytecode, page cache
    try:
        got = marginals(timers, 10, 210)
        disk = fsync_ms(folder)
    finally:
        if "tmpfs" in timers:
            shutil.rmtree(memory, ignore_errors=True)
    (w, c), (bw, bc) = got["ours"], got["base"]
    verdict = "PASS" if w / bw <= LOCAL_TARGET else "FAIL"
    lines = [f"- local, marginal per `echo` step through `runbook run --yes` (210-10)/200, median "
             f"of {REPEAT}: {w * 1000:.2f} ms, bash script of `bash -c` {bw * 1000:.2f} ms -> "
             f"{w / bw:.2f}x (target <= {LOCAL_TARGET}x) {verdict}; CPU per step "
             f"{c * 1000:.2f} ms vs {bc * 1000:.2f} ms -> {c / bc:.2f}x; an fsync of the "
             f"transcript's folder takes {disk:.2f} ms (median of 200)"]
    if "against" in got:
        aw, ac = got["against"]
        lines.append(f"- local, the same through the runbook of {against} (same rounds): "
                     f"{aw * 1000:.2f} ms -> {aw / bw:.2f}x of `bash -c`; this checkout / that "
                     f"one: {w / aw:.2f}x wall, CPU per step {ac * 1000:.2f} ms -> {c / ac:.2f}x")
    if "tmpfs" in got:
        tw, tc = got["tmpfs"]
        lines.append(f"- local, the same with the transcript on tmpfs (no disk wait for the "
                     f"per-step fsync): {tw * 1000:.2f} ms -> {tw / bw:.2f}x; CPU per step "
                     f"{tc * 1000:.2f} ms -> {tc / bc:.2f}x")
    return lines


def ssh_figures(folder: Path) -> list[str]:
    import sshd

    if sshd.unavailable_reason():
        return [f"- SSH: not measured ({sshd.unavailable_reason()})"]
    server = sshd.start_server()
    control = Path(tempfile.mkdtemp(prefix="rb-cm-")) / "cm"
    base = ["ssh", "-F", str(server.ssh_config), "-o", f"ControlPath={control}"]
    try:
        subprocess.run([*base, "-o", "ControlMaster=yes", "-o", "ControlPersist=300", "-fN",
                        "web1"], check=True)

        def controlmaster(n: int) -> tuple[float, float]:
            script = folder / f"cm-{n}.sh"
            script.write_text("".join(
                f"{' '.join(base)} -o ControlMaster=no web1 'echo step {i}'\n" for i in range(n)))
            return timed(["bash", str(script)])

        ours = runbook_timer(folder, "web1", ["--ssh-config", str(server.ssh_config)])
        ours(10)
        got = marginals({"ours": ours, "cm": controlmaster}, 10, 60)
    finally:
        subprocess.run([*base, "-O", "exit", "web1"], capture_output=True)
        server.stop()
        shutil.rmtree(control.parent, ignore_errors=True)
    (w, c), (cw, cc) = got["ours"], got["cm"]
    verdict = "PASS" if w / cw <= SSH_TARGET else "FAIL"
    return [f"- SSH, one host, marginal per step through `runbook run --yes` (60-10)/50, median of "
            f"{REPEAT}: {w * 1000:.2f} ms, `ssh` through a ControlMaster {cw * 1000:.2f} ms -> "
            f"{w / cw:.2f}x (target <= {SSH_TARGET}x) {verdict}; CPU per step (client side and "
            f"sshd are not separated for ssh: the bench counts its own children only) "
            f"{c * 1000:.2f} ms vs {cc * 1000:.2f} ms"]


def main() -> int:
    args = sys.argv[1:]
    against = Path(args[1]).resolve() if args[:1] == ["--against"] and len(args) == 2 else None
    if args and against is None:
        raise SystemExit("usage: bench_cli.py [--against CHECKOUT]")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        lines = local_figures(Path(tmp), against) + ssh_figures(Path(tmp))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = (f"## Through the CLI ({stamp}, bench/bench_cli.py, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f})")
    print("\n".join([head, "", *lines]))
    with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as handle:
        handle.write("\n" + "\n".join([head, "", *lines]) + "\n")
    return 0 if all("FAIL" not in line for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
