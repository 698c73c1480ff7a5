"""The persistent remote shell against the real sshd: what only it can get wrong (the runner
contract, tests/test_runner_contract.py, holds it to everything every runner does)."""

from __future__ import annotations

import contextlib
import os
import shutil
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
from runbook_engine.runners.ssh import SSHRunner, shell
from runbook_engine.runners.ssh.shell import SHELL_LOST

Server = sshd_helpers.SSHServer


@pytest.fixture(params=["pipes", "fifos"])
def runner(sshd_server: Server, request: pytest.FixtureRequest,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[SSHRunner]:
    if request.param == "fifos":  # the relays of bash 4.4 and 5.0
        monkeypatch.setattr(shell, "PIPES_FROM_BASH", 10_000)
    instance = SSHRunner(HostTarget("web1"), ssh_config_path=str(sshd_server.ssh_config))
    instance.connect()
    yield instance
    assert instance._remote is None or not instance._remote.settled or instance._serves
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


def children(pid: int) -> set[int]:
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


@pytest.mark.parametrize("relays", ["pipes", "fifos"])
def test_nothing_is_left_behind(sshd_server: Server, relays: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    if relays == "fifos":
        monkeypatch.setattr(shell, "PIPES_FROM_BASH", 10_000)
    runner = SSHRunner(HostTarget("web1"), ssh_config_path=str(sshd_server.ssh_config))
    server = int(run(runner, "echo $$").stdout)
    tmp = runner.tmp
    assert wait_until(lambda: len(children(server)) == 3)  # the next step's process, 2 relays
    kept = children(server)
    fifos = {entry.name for entry in Path(tmp).iterdir() if entry.is_fifo()}
    assert fifos == (set() if relays == "pipes" else {"o0", "e0"})
    if relays == "fifos":
        assert holding(tmp) == kept  # the FIFOs' only holders
    runner.close()
    assert wait_until(lambda: not Path(f"/proc/{server}").exists()
                      and not any(Path(f"/proc/{pid}").exists() for pid in kept)
                      and not Path(tmp).exists())


def test_after_a_hosts_last_planned_step_its_server_forks_nothing_ahead(runner: SSHRunner) -> None:
    # the next step's process and relays would be forked for nothing; a step that comes all the
    # same (a retry) has them forked as it comes, in the same server
    server = int(run(runner, "echo $$", more_follow=False).stdout)
    time.sleep(0.3)
    assert children(server) == set()
    again = run(runner, "echo $$; echo err >&2; exit 3", more_follow=False)
    assert (again.exit_code, again.stdout, again.stderr) == (3, f"{server}\n", "err\n")
    assert run(runner, "echo ahead").stdout == "ahead\n"
    assert wait_until(lambda: len(children(server)) == 3)  # the next step's process, 2 relays


# What a relay must pass on as it came: it writes what comes first itself (up to 256 bytes, the
# end or 50 ms) and hands the rest to cat: NULs (its read's delimiter), a character cut at byte
# 256, output on both sides of the 50 ms
RELAYED = ["", "a", "x" * 255, "x" * 256, "x" * 257, "\u00e9" * 200, "\0", "a\0b", "\0" * 300,
           "ab" + "\n" * 300, "tail\0"]


def _printf(text: str) -> str:
    return "printf '" + "".join(f"\\{byte:03o}" for byte in text.encode()) + "'"


def test_the_relays_pass_every_byte_as_it_came(runner: SSHRunner) -> None:
    for text in RELAYED:
        result = run(runner, f"{_printf(text)}; {_printf(text[::-1])} >&2")
        assert (result.stdout, result.stderr) == (text, text[::-1]), text[:20]
    rest = "d\0" * 200
    slow = run(runner, f"{_printf('abc')}; sleep 0.2; {_printf(rest)}")
    assert slow.stdout == "abc" + rest


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


def test_connect_leaves_the_set_up_to_the_first_step(runner: SSHRunner) -> None:
    # the first step goes out behind the set-up, before its records (temp dir, environment)
    # came back: one round trip less to connect; the step names the temp dir as "$__rb_d"
    assert runner._remote is not None and not runner._remote.settled
    first = run(runner, 'cd /tmp && export ONE=1; echo "$RUNBOOK_OUTPUT"; '
                        'echo k=v >> "$RUNBOOK_OUTPUT"')
    assert first.status == "ok" and first.outputs == {"k": "v"}
    assert runner._remote.settled and first.stdout == f"{runner.tmp}/output\n"
    assert runner.base_env["USER"] == sshd_helpers.TEST_USER and "ONE" not in runner.base_env
    assert run(runner, 'echo "$(pwd) $ONE"').stdout == "/tmp 1\n"


@contextlib.contextmanager
def restricted_server(tools: tuple[str, ...]) -> Iterator[Server]:
    """A test sshd whose sessions find only ``tools`` on their PATH."""
    folder = Path(tempfile.mkdtemp(prefix="rb-path-"))
    folder.chmod(0o755)
    for tool in tools:
        os.symlink(shutil.which(tool) or tool, folder / tool)
    server = sshd_helpers.start_server(options=(f"SetEnv PATH={folder}",))
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_remote_that_cannot_keep_a_shell_runs_the_first_step_once_on_a_channel(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a bash before 5.1 without mkfifo: the set-up says so only after the first step was sent;
    # the remote drops it and the step runs on a channel of its own, once
    monkeypatch.setattr(shell, "PIPES_FROM_BASH", 10_000)
    ran = Path(tempfile.mkdtemp()) / "ran"
    ran.parent.chmod(0o777)  # the test sshd's user writes there
    with restricted_server(("bash", "mktemp", "rm", "cat")) as server:
        runner = SSHRunner(HostTarget("web1"), ssh_config_path=str(server.ssh_config))
        try:
            first = run(runner, f"echo once >> {ran}; echo $$")
            second = run(runner, "echo $$")
            assert (first.status, second.status) == ("ok", "ok") and not runner._serves
            assert first.stdout != second.stdout  # each step a channel (a shell) of its own
            assert ran.read_text() == "once\n"
        finally:
            runner.close()


def test_the_set_up_needs_no_mkfifo_on_bash_5_1() -> None:
    # the relays are process substitutions: the set-up starts mktemp and nothing else
    with restricted_server(("bash", "mktemp", "rm", "cat")) as server:
        runner = SSHRunner(HostTarget("web1"), ssh_config_path=str(server.ssh_config))
        try:
            first, second = run(runner, "echo $$"), run(runner, "echo $$")
            assert (first.status, second.status) == ("ok", "ok") and runner._serves
            assert first.stdout == second.stdout  # one server forked both
        finally:
            runner.close()


def test_a_step_with_short_output_starts_no_cat() -> None:
    # the relays write a short output themselves (cat is the costliest process of a step):
    # with no cat on the remote's PATH, short outputs still arrive whole, late ones too
    with restricted_server(("bash", "mktemp", "rm", "sleep")) as server:
        runner = SSHRunner(HostTarget("web1"), ssh_config_path=str(server.ssh_config))
        try:
            assert run(runner, "echo out; echo err >&2").stdout == "out\n"
            late = run(runner, "sleep 0.2; printf 'late\\0'; echo err >&2; true")
            assert (late.status, late.stdout, late.stderr) == ("ok", "late\0", "err\n")
            assert run(runner, "true").stdout == "" and runner._serves
        finally:
            runner.close()


def test_a_set_up_that_fails_says_why_at_the_first_step() -> None:
    with restricted_server(("mktemp", "rm", "cat")) as server:  # no bash on the PATH
        runner = SSHRunner(HostTarget("web1"), ssh_config_path=str(server.ssh_config))
        try:
            result = run(runner, "echo never")
            assert result.status == "error" and result.stdout == ""
            assert result.error is not None and result.error.startswith("remote setup failed: ")
            assert "bash" in result.error and "\n" not in result.error
        finally:
            runner.close()


def test_a_closed_runner_lets_its_reader_thread_end_by_itself(sshd_server: Server) -> None:
    # close does not wake the reader thread (a fleet's 200 woken at once took the GIL from the
    # end of the run): it ends at its next check, within its socket timeout
    runner = SSHRunner(HostTarget("web1"), ssh_config_path=str(sshd_server.ssh_config))
    assert run(runner, "true").status == "ok"
    transport = runner._chain[-1]
    assert transport.sock.gettimeout() == 1.0  # paramiko's 0.1 s: 10 wake-ups a second a host
    runner.close()
    assert not transport.is_active()
    transport.join(3.0)
    assert not transport.is_alive()
    assert run(runner, "echo again").stdout == "again\n"  # a closed runner connects anew
    runner.close()
