"""Fleet benchmark (not a test): 200 hosts, 3 steps, wall time and peak memory, against Ansible
(pipelining, forks 50) and a Fabric ThreadingGroup doing the same work in the same run.

The 200 hosts are aliases of a few test sshds (tests/sshd.py; ``--servers``, 4 by default, so
one sshd's pre-auth forks are not the bottleneck), written into one ssh config that every tool
reads. Peak memory is the largest sum of the resident sizes of the tool's process tree (sampled
every 20 ms: Ansible's forks and ssh clients count, as they are its cost). CPU is counted on both
sides: the tool's process tree (client) and the sshds with their sessions and the remote shells
and commands (server). ``--parts`` adds a run of ours with timers around its parts
(bench/fleet_parts.py: connect, key exchange, authentication, shell set-up, steps, teardown).
Ansible and Fabric are not project dependencies: ``pip install ansible-core fabric`` to measure
them (else skipped).

Ours and Fabric take turns for ``--rounds`` rounds (3 by default; Ansible, at ~3 minutes a run,
runs once), each going first in every other round, after one unmeasured full-size run of each:
each tool's figure is its median run, and the ratio to Fabric is also given per round.

Run: ``python bench/bench_fleet.py [--hosts 200] [--servers 4] [--rounds 3] [--parts]`` (appends to
RESULTS.md).
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import sshd  # noqa: E402

TASKS = ("uname -n", "cd /tmp && export X=1", 'echo "$X"; pwd')
BIN = Path(sys.executable).parent  # ansible-playbook next to this interpreter (a venv)



def compile_bytecode() -> None:
    """Our package's bytecode, as an installed package has it (pip compiles it; the tools we
    compare with were installed so): with PYTHONDONTWRITEBYTECODE set, as on this machine,
    every measured start would compile our ~115 modules from source again."""
    compileall.compile_dir(str(ROOT / "runbook_engine"), quiet=1)

def fleet_config(servers: list[sshd.SSHServer], hosts: int, work: Path) -> tuple[Path, list[str]]:
    """One ssh config naming ``hosts`` aliases spread over the servers; one known_hosts."""
    names = [f"node{i:03d}" for i in range(1, hosts + 1)]
    known = work / "known_hosts"
    known.write_text("".join(server.known_hosts_line for server in servers))
    blocks = []
    for k, server in enumerate(servers):
        mine = names[k::len(servers)]
        blocks.append(
            f"Host {' '.join(mine)}\n  HostName 127.0.0.1\n  Port {server.port}\n"
            f"  User {server.user}\n  IdentityFile {server.key_path}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {known}\n")
    config = work / "ssh_config"
    config.write_text("\n".join(blocks))
    return config, names


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    total = 0
    for child in [pid, *sshd._descendants(pid)]:
        try:
            status = Path(f"/proc/{child}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


Figures = tuple[float, int, float, float]  # wall s, peak RSS bytes, client CPU s, server CPU s
SERVERS: list[sshd.SSHServer] = []


def server_cpu() -> float:
    """CPU seconds of the sshds so far: their own and their reaped sessions' (every
    connection's sshd, the login shell and what it ran)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for server in SERVERS:
        assert server.proc is not None
        fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(") ", 1)[1].split()
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / tick


def measure(argv: list[str], env: dict[str, str] | None = None,
            cwd: Path | None = None) -> Figures:
    """Wall seconds, peak tree RSS (bytes), client and server CPU of a command that must
    succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    served = server_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    time.sleep(1.0)  # the sshds reap their last sessions
    if argv[1:2] == [str(PARTS)]:
        PARTS_SEEN.append(next(line for line in err.decode().splitlines()
                               if line.startswith("PARTS ")))
    return wall, peak, client, server_cpu() - served


PARTS = ROOT / "bench" / "fleet_parts.py"
PARTS_SEEN: list[str] = []


def ours(config: Path, names: list[str], work: Path, forks: int, parts: bool = False) -> Figures:
    book = work / "fleet.md"
    steps = "\n".join(f"```bash {{on=fleet}}\n{task}\n```\n" for task in TASKS)
    book.write_text(f"---\ntitle: fleet\nhosts:\n  fleet: [{', '.join(names)}]\n---\n"
                    f"# Fleet\n\n{steps}")
    program = [str(PARTS)] if parts else ["-m", "runbook_engine"]
    return measure([sys.executable, *program, "run", "--yes", "--forks",
                    str(forks), "--ssh-config", str(config), "--transcript",
                    str(work / f"t-{time.monotonic_ns()}.jsonl"), str(book)], cwd=ROOT)


def ansible(config: Path, names: list[str], work: Path) -> Figures | None:
    program = shutil.which("ansible-playbook") or str(BIN / "ansible-playbook")
    if not os.path.exists(program):
        return None
    (work / "inventory.ini").write_text("[fleet]\n" + "\n".join(names) + "\n")
    tasks = "".join(f"    - shell: {task!r}\n" for task in TASKS)
    (work / "play.yml").write_text(f"- hosts: fleet\n  gather_facts: false\n  tasks:\n{tasks}")
    control = Path(tempfile.mkdtemp(prefix="rb-acp-"))
    (work / "ansible.cfg").write_text(
        "[defaults]\nforks = 50\nhost_key_checking = True\ninterpreter_python = "
        "/usr/bin/python3\n[ssh_connection]\npipelining = True\n"
        f"ssh_args = -F {config} -o ControlMaster=auto -o ControlPersist=5s\n"
        f"control_path_dir = {control}\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(work / "ansible.cfg")}
    try:
        return measure([program, "-i", str(work / "inventory.ini"), str(work / "play.yml")],
                       env=env, cwd=work)
    finally:
        shutil.rmtree(control, ignore_errors=True)


FABRIC = """
import sys
from fabric import Config, ThreadingGroup
config = Config(runtime_ssh_path=sys.argv[1])
group = ThreadingGroup(*sys.argv[3:], config=config)
assert len({{id(c) for c in group}}) == len(sys.argv) - 3  # a connection a host
for task in {tasks!r}:
    results = group.run(task, hide=True)  # raises GroupException when a host fails
    assert not results.failed  # (results are keyed by host:port, aliases of one sshd merge)
group.close()
"""


def fabric(config: Path, names: list[str], work: Path) -> Figures | None:
    probe = subprocess.run([sys.executable, "-c", "import fabric"], capture_output=True)
    if probe.returncode != 0:
        return None
    script = work / "fab.py"
    script.write_text(FABRIC.format(tasks=TASKS))
    return measure([sys.executable, str(script), str(config), "-", *names])


def part_lines(summary: str) -> list[str]:
    """The parts of one timed run of ours, as RESULTS.md lines."""
    got = json.loads(summary.removeprefix("PARTS "))
    lines = [f"- where ours goes (one more run, timers around its parts; wall {got['wall']:.2f} s, "
             f"client CPU {got['cpu']:.2f} s): per part, calls, from first start to last end "
             "(s from start), one call's median / p90 (ms)"]
    for part, fig in got["parts"].items():
        lines.append(f"  - {part}: {fig['calls']} calls, {fig['first']:.2f} -> "
                     f"{fig['last_end']:.2f} s, {fig['median_ms']:g} / {fig['p90_ms']:g} ms")
    return lines


def median_run(runs: list[tuple[Figures, float]]) -> tuple[Figures, str]:
    """The run of median wall time (its RSS the largest seen), and how the runs and their loads
    went, for a RESULTS.md line."""
    ordered = sorted(runs, key=lambda run: run[0][0])
    (wall, _, client, server), _load = ordered[len(ordered) // 2]
    rss = max(run[0][1] for run in runs)
    walls = ", ".join(f"{run[0][0]:.2f}" for run in runs)
    loads = ", ".join(f"{run[1]:.0f}" for run in runs)
    return (wall, rss, client, server), (
        f"{wall:.2f} s (median of {walls}; load {loads} at their starts), peak RSS "
        f"{rss / 2**20:.0f} MiB, CPU of that run: client {client:.2f} s, sshds and remote side "
        f"{server:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of ours and Fabric taking turns (Ansible runs once)")
    parser.add_argument("--parts", action="store_true", help="add a run of ours with timers")
    args = parser.parse_args()
    servers = [sshd.start_server() for _ in range(args.servers)]
    SERVERS[:] = servers
    work = Path(tempfile.mkdtemp(prefix="rb-fleet-"))
    lines: list[str] = []
    runs: dict[str, list[tuple[Figures, float]]] = {}

    def timed(name: str, run: Callable[[], Figures | None]) -> None:
        load = os.getloadavg()[0]
        got = run()
        if got is not None:
            runs.setdefault(name, []).append((got, load))

    fab_name = "Fabric ThreadingGroup (paramiko, a thread a host)"
    ansible_name = "ansible-playbook (pipelining, forks 50, ControlPersist)"
    try:
        config, names = fleet_config(servers, args.hosts, work)
        compile_bytecode()
        # Warm-up, not measured: each tool once at full size. The first 200-host run after a
        # quiet spell was the slowest of its bench whichever tool it was (ours went first:
        # 8.0-8.1 s, then 5.3-7.7 s; Fabric first in a same-run A/B: its slowest too).
        ours(config, names, work, args.hosts)
        fabric(config, names, work)
        mine = [f"runbook run --yes --forks {f}" for f in (50, args.hosts)]
        paired: list[float] = []  # per round: our best / Fabric, the same minutes' load
        for number in range(max(1, args.rounds)):
            if number % 2:  # who goes first takes turns too
                timed(fab_name, lambda: fabric(config, names, work))
            for name in mine:
                timed(name, lambda name=name: ours(config, names, work,
                                                   int(name.rsplit(" ", 1)[1])))
            if not number % 2:
                timed(fab_name, lambda: fabric(config, names, work))
            if number == 0:
                timed(ansible_name, lambda: ansible(config, names, work))
            if fab_name in runs:
                paired.append(min(runs[n][-1][0][0] for n in mine) / runs[fab_name][-1][0][0])
        figures: dict[str, Figures] = {}
        for name in (*mine, ansible_name, fab_name):
            if name not in runs:
                lines.append(f"- {name}: not installed, not measured")
                continue
            figures[name], text = median_run(runs[name])
            lines.append(f"- {name}: {text}")
        best = min(figures[n][0] for n in mine)
        for name in (ansible_name, fab_name):
            if name not in figures:
                continue
            wall, target = figures[name][0], 0.05 if name == ansible_name else 1.0
            verdict = "PASS" if best / wall <= target else "FAIL"
            each = (f"; per round (the same minutes): "
                    f"{', '.join(f'{r:.2f}x' for r in paired)}") if name == fab_name else ""
            lines.append(f"- runbook (best median) / {name.split(' (')[0]}: {best / wall:.3f}x "
                         f"(target <= {target}x) {verdict}{each}")
        peak = max(figures[n][1] for n in mine)
        lines.append(f"- runbook peak RSS {peak / 2**20:.0f} MiB (target <= 150 MiB) "
                     f"{'PASS' if peak <= 150 * 2**20 else 'FAIL'}")
        if args.parts:
            forks = int(min(mine, key=lambda n: figures[n][0]).rsplit(" ", 1)[1])
            ours(config, names, work, forks, parts=True)
            lines += part_lines(PARTS_SEEN[-1])
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    for line in lines:
        print(line, flush=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    with (ROOT / "bench" / "RESULTS.md").open("a") as handle:
        handle.write(f"\n## Fleet: {args.hosts} hosts x {len(TASKS)} steps ({stamp}, "
                     f"bench/bench_fleet.py, {os.cpu_count()} CPUs, load average "
                     f"{os.getloadavg()[0]:.1f}, {args.servers} sshds on 127.0.0.1, "
                     f"{args.rounds} rounds taking turns, Ansible once)\n\n"
                     + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
