"""SSH benchmark (not a test): per-step cost vs ControlMaster, fan-out vs forks=1 and ansible;
on a delayed link (a userspace delay proxy, 15 ms each way by default, between the client and
sshd): per-step cost against ControlMaster through the same proxy, and bulk input (1 MB of SQL
fed to sqlite3 on the remote side) against ``ssh host sqlite3 db < file``.

Run: ``python bench/bench_ssh.py [all|loopback|link] [--delay-ms 15]`` (appends to RESULTS.md).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import sshd  # noqa: E402
import tcprelay  # noqa: E402
from bench_fleet import compile_bytecode  # noqa: E402

from runbook_engine.model import HostTarget  # noqa: E402
from runbook_engine.runners.base import Command  # noqa: E402
from runbook_engine.runners.ssh import SSHRunner  # noqa: E402

STEP = "echo step $RANDOM"
TASKS = ("uname -n", "cd /tmp && export X=1", 'echo "$X"; pwd')
REPEATS = 5
Timer = Callable[[int], float]



def marginals(*timers: Timer, low: int = 10, high: int = 60) -> list[float]:
    """Per timer, the median over REPEATS of (t(high) - t(low)) / (high - low), seconds per step;
    the timers take turns in every round, so that load from other work hits them alike."""
    samples: list[list[float]] = [[] for _ in timers]
    for _ in range(REPEATS):
        for timer, mine in zip(timers, samples, strict=True):
            mine.append((timer(high) - timer(low)) / (high - low))
    return [statistics.median(mine) for mine in samples]


@contextlib.contextmanager
def step_timers(config: Path, alias: str) -> Iterator[tuple[Timer, Timer]]:
    """Two timers of ``n`` steps on ``alias``: an SSHRunner (connected first) and ``ssh``
    through a ControlMaster (started first); both closed on the way out."""
    runner = SSHRunner(HostTarget(alias), ssh_config_path=str(config))
    runner.connect()
    cancel = threading.Event()

    def ours(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            result = runner.run(Command(STEP, f"s{i}", "bench"), lambda s, t: None, cancel)
            assert result.status == "ok", result
        return time.perf_counter() - start

    control = Path(tempfile.mkdtemp()) / "cm"
    base = ["ssh", "-F", str(config), "-o", f"ControlPath={control}"]
    subprocess.run([*base, "-o", "ControlMaster=yes", "-o", "ControlPersist=300", "-fN", alias],
                   check=True)

    def controlmaster(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            subprocess.run([*base, "-o", "ControlMaster=no", alias, STEP], check=True,
                           stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    try:
        yield ours, controlmaster
    finally:
        subprocess.run([*base, "-O", "exit", alias], capture_output=True)
        runner.close()
        shutil.rmtree(control.parent, ignore_errors=True)


def per_step(server: sshd.SSHServer) -> tuple[float, float]:
    with step_timers(server.ssh_config, "web1") as (ours, theirs):
        mine, cm = marginals(ours, theirs)
    return mine, cm


def write_book(path: Path, hosts: list[str]) -> None:
    steps = "\n".join(f"```bash {{on=fleet}}\n{task}\n```\n" for task in TASKS)
    path.write_text(f"---\ntitle: fan-out\nhosts:\n  fleet: [{', '.join(hosts)}]\n---\n"
                    f"# Fan-out\n\n{steps}")


def engine_run(server: sshd.SSHServer, book: Path, forks: int) -> tuple[float, int]:
    """`runbook run --yes` as a subprocess: wall time and peak RSS (KiB)."""
    argv = [sys.executable, "-m", "runbook_engine", "run", "--yes", "--forks", str(forks),
            "--ssh-config", str(server.ssh_config),
            "--transcript", f"{book}.{time.monotonic_ns()}.jsonl", str(book)]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        raise SystemExit(f"runbook run failed: {err}")
    return wall, usage.ru_maxrss


def engine_inprocess(server: sshd.SSHServer, book: Path, forks: int) -> float:
    """The same engine run inside this process: fan-out without interpreter start-up."""
    from runbook_engine.cli import main as cli_main

    argv = ["run", "--yes", "--forks", str(forks), "--ssh-config", str(server.ssh_config),
            "--transcript", f"{book}.{time.monotonic_ns()}.jsonl", str(book)]
    start = time.perf_counter()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        try:
            cli_main(argv)
        except SystemExit as exc:
            if exc.code:
                raise
    return time.perf_counter() - start


def runners_run(server: sshd.SSHServer, hosts: list[str], forks: int) -> float:
    """The same three steps straight through SSHRunners and a thread pool (no engine)."""
    start = time.perf_counter()
    runners = [SSHRunner(HostTarget(h), ssh_config_path=str(server.ssh_config)) for h in hosts]
    cancel = threading.Event()
    with ThreadPoolExecutor(forks) as pool:
        for i, task in enumerate(TASKS):
            def one(r: SSHRunner, task: str = task, i: int = i) -> str:
                return r.run(Command(task, f"t{i}", "bench"), lambda s, t: None, cancel).status
            assert set(pool.map(one, runners)) == {"ok"}
        list(pool.map(lambda r: r.close(), runners))
    return time.perf_counter() - start


def ansible_run(server: sshd.SSHServer, work: Path, hosts: list[str]) -> float | None:
    if shutil.which("ansible-playbook") is None:
        return None
    (work / "inventory.ini").write_text("[fleet]\n" + "\n".join(hosts) + "\n")
    tasks = "".join(f"    - shell: {task!r}\n" for task in TASKS)
    (work / "play.yml").write_text(f"- hosts: fleet\n  gather_facts: false\n  tasks:\n{tasks}")
    (work / "ansible.cfg").write_text(
        "[defaults]\nforks = 20\nhost_key_checking = True\n[ssh_connection]\npipelining = True\n"
        f"ssh_args = -F {server.ssh_config} -o ControlMaster=auto -o ControlPersist=60s\n"
        f"control_path_dir = {work}/cp\n"
    )
    env = {**os.environ, "ANSIBLE_CONFIG": str(work / "ansible.cfg")}
    start = time.perf_counter()
    subprocess.run(["ansible-playbook", "-i", str(work / "inventory.ini"), str(work / "play.yml")],
                   check=True, env=env, cwd=work, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def link_config(server: sshd.SSHServer, work: Path, port: int) -> Path:
    """An ssh config with the alias ``slow``: the test sshd reached through the proxy's port
    (HostKeyAlias: the sshd's known_hosts entry, for us and for OpenSSH alike)."""
    config = work / "link_config"
    config.write_text(
        f"Host slow\n  HostName 127.0.0.1\n  Port {port}\n  User {server.user}\n"
        f"  IdentityFile {server.key_path}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {server.known_hosts}\n"
        f"  HostKeyAlias [127.0.0.1]:{server.port}\n")
    return config


def link_per_step(server: sshd.SSHServer, config: Path) -> dict[str, float]:
    """Marginal seconds a step, SSHRunner and ``ssh`` through a ControlMaster, each through the
    proxy (alias ``slow``) and on loopback (``web1``), all four taking turns."""
    with step_timers(config, "slow") as slow, step_timers(server.ssh_config, "web1") as loop:
        got = marginals(*slow, *loop, low=5, high=25)
    return dict(zip(("ours", "cm", "ours_loop", "cm_loop"), got, strict=True))


def proxy_rtt(delay: float) -> float:
    """Median seconds a 200-byte message takes through a delay proxy to an echo server and
    back, its answer in two writes 0.3 ms apart (as sshd sends records then output): what the
    proxy adds to a round trip of 2 x delay + 0.3 ms."""
    listener = socket.create_server(("127.0.0.1", 0))

    def echo() -> None:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data[:100])
                time.sleep(0.0003)
                conn.sendall(data[100:])

    threading.Thread(target=echo, daemon=True).start()
    proxy, port, _ = tcprelay.spawn_delay_proxy(listener.getsockname()[1], delay)
    samples = []
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(50):
                start, got = time.perf_counter(), 0
                sock.sendall(b"x" * 200)
                while got < 200:
                    got += len(sock.recv(4096))
                samples.append(time.perf_counter() - start)
    finally:
        proxy.kill()
        proxy.wait()
        listener.close()
    return statistics.median(samples)


def sql_file(path: Path, size: int = 1 << 20) -> int:
    """About ``size`` bytes of SQL: one table, INSERTs in one transaction; returns the rows."""
    rows, parts, total = 0, ["CREATE TABLE t(id INTEGER, note TEXT);\nBEGIN;\n"], 0
    while total < size:
        line = f"INSERT INTO t VALUES({rows}, 'row {rows}: the quick brown fox, {rows * 7}');\n"
        parts.append(line)
        total += len(line)
        rows += 1
    parts.append("COMMIT;\n")
    path.write_text("".join(parts))
    return rows


def bulk_input(config: Path, alias: str, work: Path) -> dict[str, float]:
    """Seconds to feed the SQL file to sqlite3 on the remote side: SSHRunner (a console step,
    connection already up), ``ssh`` through a ControlMaster, and plain ``ssh host sqlite3 db <
    file`` (a new connection each time, as an operator types it). Median of REPEATS each."""
    sql = work / "bulk.sql"
    rows = sql_file(sql)
    code = sql.read_text()
    remote = Path(tempfile.mkdtemp(prefix="rb-bulk-"))
    remote.chmod(0o777)  # the test user writes the databases
    runner = SSHRunner(HostTarget(alias), ssh_config_path=str(config))
    runner.connect()
    control = Path(tempfile.mkdtemp()) / "cm"
    base = ["ssh", "-F", str(config), "-o", f"ControlPath={control}"]
    subprocess.run([*base, "-o", "ControlMaster=yes", "-o", "ControlPersist=300", "-fN", alias],
                   check=True)
    count = "sqlite3 {db} 'select count(*) from t'"
    samples: dict[str, list[float]] = {"ours": [], "cm": [], "ssh": []}
    try:
        for i in range(REPEATS):
            db = remote / f"ours{i}.db"
            start = time.perf_counter()
            result = runner.run(Command(code, f"b{i}", "bench", interpreter=f"sqlite3 {db}"),
                                lambda s, t: None, threading.Event())
            samples["ours"].append(time.perf_counter() - start)
            assert result.status == "ok", result
            for name, argv in (("cm", [*base, "-o", "ControlMaster=no", alias]),
                               ("ssh", ["ssh", "-F", str(config), alias])):
                db = remote / f"{name}{i}.db"
                start = time.perf_counter()
                with sql.open("rb") as feed:
                    subprocess.run([*argv, f"sqlite3 {db}"], stdin=feed, check=True)
                samples[name].append(time.perf_counter() - start)
            for name in samples:
                got = subprocess.run(count.format(db=remote / f"{name}{i}.db"), shell=True,
                                     capture_output=True, text=True, check=True).stdout
                assert int(got) == rows, (name, got, rows)
    finally:
        subprocess.run([*base, "-O", "exit", alias], capture_output=True)
        runner.close()
        shutil.rmtree(remote, ignore_errors=True)
        shutil.rmtree(control.parent, ignore_errors=True)
    return {name: statistics.median(values) for name, values in samples.items()}


def link_figures(server: sshd.SSHServer, work: Path, delay: float) -> list[str]:
    """Per step and bulk input through the delay proxy, and bulk input on loopback."""
    lines: list[str] = []
    loop = bulk_input(server.ssh_config, "web1", work)
    lines.append(
        f"- bulk input on loopback: {sql_size(work)} of SQL to sqlite3 on the host, median of "
        f"{REPEATS}: SSHRunner console step {loop['ours']:.3f} s (target < 1 s "
        f"{'PASS' if loop['ours'] < 1 else 'FAIL'}), ssh through a ControlMaster "
        f"{loop['cm']:.3f} s, `ssh host sqlite3 db < file` {loop['ssh']:.3f} s")
    echo = proxy_rtt(delay)
    proxy, port, fifo = tcprelay.spawn_delay_proxy(server.port, delay)
    try:
        config = link_config(server, work, port)
        rtt = 2 * delay
        how = "SCHED_FIFO" if fifo else "normal priority"
        lines.append(
            f"- the delay proxy alone ({delay * 1000:g} ms each way, {how}): a 200-byte "
            f"message and its answer in 2 writes, median of 50: {echo * 1000:.2f} ms for "
            f"{rtt * 1000 + 0.3:g} ms of delays")
        step = link_per_step(server, config)
        ours, cm = step["ours"], step["cm"]
        target = rtt + 0.005
        lines.append(
            f"- per step through the delay proxy (RTT {rtt * 1000:g} ms; marginal (25-5)/20, "
            f"median of {REPEATS}): SSHRunner {ours * 1000:.1f} ms (target <= 1 RTT + 5 ms = "
            f"{target * 1000:.0f} ms {'PASS' if ours <= target else 'FAIL'}), ssh through a "
            f"ControlMaster on the same proxy {cm * 1000:.1f} ms -> {ours / cm:.2f}x (target <= "
            f"0.5x {'PASS' if ours / cm <= 0.5 else 'FAIL'})")
        lines.append(
            f"- the same steps on loopback in the same rounds: SSHRunner "
            f"{step['ours_loop'] * 1000:.1f} ms, ControlMaster {step['cm_loop'] * 1000:.1f} ms; "
            f"what the link added, in RTTs: SSHRunner "
            f"{(ours - step['ours_loop']) / rtt:.2f}, ControlMaster "
            f"{(cm - step['cm_loop']) / rtt:.2f}")
        slow = bulk_input(config, "slow", work)
        lines.append(
            f"- bulk input through the proxy, median of {REPEATS}: SSHRunner {slow['ours']:.3f} s,"
            f" `ssh host sqlite3 db < file` {slow['ssh']:.3f} s -> "
            f"{slow['ours'] / slow['ssh']:.2f}x (target <= 1.5x "
            f"{'PASS' if slow['ours'] <= 1.5 * slow['ssh'] else 'FAIL'}); ssh through a "
            f"ControlMaster {slow['cm']:.3f} s -> {slow['ours'] / slow['cm']:.2f}x of it")
    finally:
        proxy.kill()
        proxy.wait()
    return lines


def sql_size(work: Path) -> str:
    return f"{(work / 'bulk.sql').stat().st_size / 2**20:.2f} MiB"


def main() -> None:
    args = sys.argv[1:]
    delay = 0.015
    if "--delay-ms" in args:
        at = args.index("--delay-ms")
        delay = float(args[at + 1]) / 1000
        del args[at:at + 2]
    what = args[0] if args else "all"
    if what == "link":
        server = sshd.start_server()
        work = Path(tempfile.mkdtemp(prefix="rb-bench-"))
        try:
            lines = link_figures(server, work, delay)
            for line in lines:
                print(line, flush=True)
        finally:
            server.stop()
            shutil.rmtree(work, ignore_errors=True)
        append_results(lines, "SSH on a delayed link")
        return
    loopback(what == "all", delay)


def loopback(with_link: bool, delay: float) -> None:
    server = sshd.start_server()
    work = Path(tempfile.mkdtemp(prefix="rb-bench-"))
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    try:
        ours, cm = per_step(server)
        say(f"- per step, one host (marginal (60-10)/50, median of {REPEATS}): SSHRunner "
            f"{ours * 1000:.2f} ms, ssh ControlMaster {cm * 1000:.2f} ms -> {ours / cm:.2f}x "
            f"(target <= 1.0x)")
        web = [f"web{i}" for i in range(1, 21)]
        write_book(work / "web.md", web)
        compile_bytecode()
        engine_run(server, work / "web.md", 10)  # warm-up: imports, page cache
        t10, _ = engine_run(server, work / "web.md", 10)
        t1, _ = engine_run(server, work / "web.md", 1)
        say(f"- fan-out, 3 steps x 20 hosts through `runbook run --yes` (engine): forks 10 "
            f"{t10:.2f} s, forks 1 {t1:.2f} s -> {t1 / t10:.1f}x faster (target >= 3x)")
        i10, i1 = engine_inprocess(server, work / "web.md", 10), engine_inprocess(
            server, work / "web.md", 1)
        say(f"- same engine run in-process (no interpreter start-up, ~0.3 s of imports): "
            f"forks 10 {i10:.2f} s, forks 1 {i1:.2f} s -> {i1 / i10:.1f}x")
        r10, r1 = runners_run(server, web, 10), runners_run(server, web, 1)
        say(f"- same, SSHRunners in a thread pool without the engine: 10 threads {r10:.2f} s, "
            f"1 thread {r1:.2f} s -> {r1 / r10:.1f}x")
        ansible = ansible_run(server, work, web)
        if ansible is None:
            say("- ansible-playbook: not installed, not measured")
        else:
            say(f"- ansible-playbook (pipelining, ControlPersist, forks 20), same 3 tasks x 20 "
                f"hosts: {ansible:.2f} s -> runbook forks 10 takes {t10 / ansible:.3f} of it "
                f"(target <= 0.1)")
        fleet = [f"fleet{i}" for i in range(1, 101)]
        write_book(work / "fleet.md", fleet)
        wall, rss = engine_run(server, work / "fleet.md", 10)
        wall50, rss50 = engine_run(server, work / "fleet.md", 50)
        say(f"- 100 hosts, 3 steps (engine): forks 10 {wall:.2f} s, peak RSS {rss / 1024:.0f} MiB;"
            f" forks 50 {wall50:.2f} s, peak RSS {rss50 / 1024:.0f} MiB")
        if with_link:
            for line in link_figures(server, work, delay):
                say(line)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    append_results(lines)


def append_results(lines: list[str], title: str = "SSH") -> None:
    results = ROOT / "bench" / "RESULTS.md"
    if not results.exists():
        results.write_text("# Benchmark results\n\nEach section is appended by a bench script.\n")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    with results.open("a") as handle:
        handle.write(f"\n## {title} ({stamp}, bench/bench_ssh.py, {os.cpu_count()} CPUs, "
                     f"load average {os.getloadavg()[0]:.1f}, sshd on 127.0.0.1)\n\n"
                     + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
