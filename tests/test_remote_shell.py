"""The persistent remote shell against the real sshd: what only it can get wrong (the runner
contract, tests/test_runner_contract.py, holds it to everything every runner does)."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sshd as sshd_helpers
from test_runner_contract import running, tag

from runbook_engine.model import HostTarget
from runbook_engine.runners.base import Command, Result
from runbook_engine.runners.ssh import SSHRunner
from runbook_engine.runners.ssh.shell import SHELL_LOST

Server = sshd_helpers.SSHServer


@pytest.fixture()
def runner(sshd_server: Server) -> Iterator[SSHRunner]:
    instance = SSHRunner(HostTarget("web1"), ssh_config_path=str(sshd_server.ssh_config))
    instance.connect()
    assert instance._serves
    yield instance
    instance.close()


def run(runner: SSHRunner, code: str, **kw: object) -> Result:
    return runner.run(Command(code=code, step_id="s", run_id="r", **kw),  # type: ignore[arg-type]
                      lambda stream, text: None, threading.Event())


def wait_until(check: object, limit: float = 5.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def holding(folder: str) -> set[int]:
    """Pids (of the test sshd's user, on this machine) with a file in ``folder`` open."""
    pids = set()
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd).startswith(folder + "/"):
                pids.add(int(fd.parts[2]))
        except OSError:
            continue
    return pids


def test_every_step_is_forked_by_one_shell(runner: SSHRunner) -> None:
    seen = [run(runner, "echo $$ $BASHPID").stdout.split() for _ in range(4)]
    assert len({server for server, _ in seen}) == 1  # $$: the shell server, as in a local session
    assert len({step for _, step in seen}) == 4  # $BASHPID: each step its own process
    assert run(runner, "sudo -n true 2>/dev/null || true; echo $$").stdout.split()[0] == seen[0][0]


def test_every_step_has_its_output(runner: SSHRunner) -> None:
    # a quick step's records, output and end may all come with its pid, before the loop reads
    results = [run(runner, f"echo {i}; echo e{i} >&2") for i in range(40)]
    assert [(r.stdout, r.stderr) for r in results] == [(f"{i}\n", f"e{i}\n") for i in range(40)]


def test_a_background_job_never_writes_into_a_later_step(runner: SSHRunner) -> None:
    sleep = tag()
    first = run(runner, f"(sleep 1; echo late; echo late-err >&2; sleep {sleep}) & echo first")
    assert (first.status, first.stdout) == ("ok", "first\n")
    second = run(runner, "sleep 1.5; echo second")
    assert (second.stdout, second.stderr) == ("second\n", "")
    # its output cut off, the job died of SIGPIPE when it wrote "late"
    assert wait_until(lambda: running(f"sleep {sleep}") == [])


def test_shell_killed_during_a_step(runner: SSHRunner) -> None:
    assert run(runner, "cd /tmp && export KEPT=1").status == "ok"
    result = run(runner, "echo before; kill -9 $$; sleep 0.3; echo after")
    assert (result.status, result.error, result.exit_code) == ("error", SHELL_LOST, None)
    assert result.stdout == "before\nafter\n"  # the step itself ran to its end
    again = run(runner, 'echo "$(pwd) $KEPT $$"')  # a new shell, the session as it was
    assert again.status == "ok" and again.stdout.startswith("/tmp 1 ")


def test_shell_killed_between_steps(runner: SSHRunner) -> None:
    server_pid, old_tmp = int(run(runner, "echo $$").stdout), runner.tmp
    os.kill(server_pid, signal.SIGKILL)  # the test sshd runs here: as the OOM killer would
    time.sleep(0.2)
    result = run(runner, "echo fine")
    assert (result.status, result.stdout) == ("ok", "fine\n")
    assert runner.tmp != old_tmp and not Path(old_tmp).exists()  # the dead shell's dir removed


def test_a_step_runs_once_when_the_shell_died_while_waiting_for_it(runner: SSHRunner) -> None:
    # the step's process is forked before the step comes: it must not run a step for a dead
    # server (nobody would report its end), only the new shell does
    ran = Path(tempfile.mkdtemp()) / "ran"
    ran.parent.chmod(0o777)  # the test sshd's user writes there
    os.kill(int(run(runner, "echo $$").stdout), signal.SIGKILL)
    time.sleep(0.2)
    result = run(runner, f"echo once >> {ran}; echo $$")
    assert result.status == "ok"
    assert ran.read_text() == "once\n"


def test_nothing_is_left_behind(sshd_server: Server) -> None:
    runner = SSHRunner(HostTarget("web1"), ssh_config_path=str(sshd_server.ssh_config))
    assert run(runner, "true").status == "ok"
    tmp = runner.tmp
    assert wait_until(lambda: len(holding(tmp)) == 3)  # the next step's process and its 2 relays
    runner.close()
    assert wait_until(lambda: not holding(tmp) and not Path(tmp).exists())


def test_input_with_a_nul_byte_takes_a_channel_of_its_own(runner: SSHRunner) -> None:
    result = run(runner, "a\0b", interpreter="od -An -c")
    assert result.status == "ok" and result.stdout.split() == ["a", "\\0", "b"]
    assert run(runner, "echo $$").status == "ok"


def channels_opened(runner: SSHRunner) -> int:
    """How many channels the connection has opened so far (paramiko's counter, read only)."""
    return int(getattr(runner._chain[-1], "_channel_counter"))  # noqa: B009 - private, no API


def test_a_step_end_in_pieces_costs_no_channel(runner: SSHRunner) -> None:
    # ~200 KB of state after every step: its epilogue reaches us in many packets, and the
    # step is over only when the last came, without a second exchange (which was a channel
    # opened to stop relays that had already ended: 2 round trips more a step)
    assert run(runner, "export BIG=$(printf '%*s' 200000 '' | tr ' ' x)").status == "ok"
    before = channels_opened(runner)
    results = [run(runner, f'echo {i} "${{#BIG}}"') for i in range(5)]
    assert [r.stdout for r in results] == [f"{i} 200000\n" for i in range(5)]
    assert runner.session.env["BIG"] == "x" * 200000
    assert channels_opened(runner) == before
