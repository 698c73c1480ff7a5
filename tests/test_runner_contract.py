"""The runner contract: one suite, the same assertions, for every way a step can run.

Implementations: ``oneshot`` (LocalRunner, a new bash per step), ``session`` (LocalRunner's
persistent bash forking a process group per step), ``ssh`` (SSHRunner's persistent remote shell,
against the real test sshd, which runs on this machine, so its processes can be inspected here
too), ``ssh-fifos`` (the same with its relays on FIFOs, as on bash 4.4 and 5.0) and
``ssh-exec`` (SSHRunner with an exec channel per step, the way sudo steps and hosts without a
usable bash run). A new runner joins by adding one entry to ``KINDS``.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_engine.model import HostTarget
from runbook_engine.runners.base import Command, Result, Runner
from runbook_engine.runners.local import LocalRunner

ROOT = Path(__file__).resolve().parent.parent
KINDS = ["oneshot", "session", "ssh", "ssh-fifos", "ssh-exec"]
SERVED = {"ssh", "ssh-fifos"}  # the persistent remote shell: its relays on pipes, on FIFOs
Chunks = list[tuple[float, str, str]]


def make_runner(kind: str, request: pytest.FixtureRequest) -> Runner:
    if kind.startswith("ssh"):
        from runbook_engine.runners.ssh import SSHRunner

        server = request.getfixturevalue("sshd_server")
        if kind == "ssh-fifos":  # as on bash 4.4 and 5.0
            from runbook_engine.runners.ssh import shell

            request.getfixturevalue("monkeypatch").setattr(shell, "PIPES_FROM_BASH", 10_000)
        ssh = SSHRunner(HostTarget("web1"), ssh_config_path=str(server.ssh_config),
                        persistent_shell=kind in SERVED)
        ssh.connect()  # the set-up's records are read by the first step, sent behind it
        return ssh
    return LocalRunner(use_server=kind == "session")


@pytest.fixture(params=KINDS)
def runner(request: pytest.FixtureRequest) -> Iterator[Runner]:
    instance = make_runner(request.param, request)
    yield instance
    if request.param.startswith("ssh"):  # the steps ran where the kind says
        from runbook_engine.runners.ssh import SSHRunner

        assert isinstance(instance, SSHRunner)
        if instance._remote is not None and instance._remote.settled:
            assert instance._serves == (request.param in SERVED)
    instance.close()


def run(runner: Runner, code: str, cancel: threading.Event | None = None,
        chunks: Chunks | None = None, **kw: object) -> Result:
    seen: Chunks = [] if chunks is None else chunks
    command = Command(code=code, step_id=str(kw.pop("step_id", "s1")), run_id="r1",
                      **kw)  # type: ignore[arg-type]
    result = runner.run(command, lambda stream, text: seen.append((time.monotonic(), stream, text)),
                        cancel or threading.Event())
    if not (result.stdout_truncated or result.stderr_truncated):  # streamed is what was kept
        assert "".join(t for _, s, t in seen if s == "stdout") == result.stdout
        assert "".join(t for _, s, t in seen if s == "stderr") == result.stderr
    return result


def tag() -> str:
    """A sleep duration nobody else uses, to find the step's processes by their command line."""
    return f"30.{secrets.randbelow(10**6):06d}"


def running(text: str) -> list[int]:
    """Pids on this machine (local or the test sshd's) whose command line holds ``text``, not
    counting zombies (dead, waiting for a reaper)."""
    pids = []
    for name in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ")
            stat = Path(f"/proc/{name}/stat").read_bytes()
        except (OSError, ValueError):
            continue
        state = stat[stat.rfind(b")") + 2:][:1]
        if name.isdigit() and text.encode() in cmdline and state != b"Z":
            pids.append(int(name))
    return pids


# -- exit codes and streams ---------------------------------------------------------------------


@pytest.mark.parametrize(("code", "exit_code", "stdout"), [
    ("true", 0, ""),
    ("false; echo after", 1, ""),  # set -e
    ("echo before; exit 7", 7, "before\n"),
    ("false | true; echo piped", 1, ""),  # pipefail
    ("echo x; kill -9 $BASHPID", 137, "x\n"),  # killed by a signal: 128+N, as a shell says
])
def test_exit_codes(runner: Runner, code: str, exit_code: int, stdout: str) -> None:
    result = run(runner, code)
    assert (result.exit_code, result.stdout) == (exit_code, stdout)
    assert result.status == ("ok" if exit_code == 0 else "failed")


def test_stdout_and_stderr_apart(runner: Runner) -> None:
    # \036\037rb looks like the start of the SSH runner's frame marker: it must pass through intact
    result = run(runner, "echo out; echo err >&2; printf 'x\\036\\037rb' >&2; echo more")
    assert result.stdout == "out\nmore\n"
    assert result.stderr == "err\nx\x1e\x1frb"


def test_output_streams_while_the_step_runs(runner: Runner) -> None:
    chunks: Chunks = []
    result = run(runner, "for i in 1 2 3; do echo $i; echo e$i >&2; sleep 0.4; done",
                 chunks=chunks)
    ended = time.monotonic()
    assert result.stdout == "1\n2\n3\n" and result.stderr == "e1\ne2\ne3\n"
    first = next(at for at, stream, text in chunks if stream == "stdout")
    assert ended - first > 0.6  # the first line came while the step still had 0.8 s to run
    assert [at for at, _, _ in chunks] == sorted(at for at, _, _ in chunks)


def test_utf8_split_across_chunks(runner: Runner) -> None:
    chunks: Chunks = []
    result = run(runner, "printf 'caf\\xc3'; printf '\\xe2\\x9c' >&2; sleep 0.3; "
                         "printf '\\xa9\\n'; printf '\\x93\\n' >&2", chunks=chunks)
    assert (result.stdout, result.stderr) == ("café\n", "✓\n")
    assert all("\ufffd" not in text for _, _, text in chunks)


def test_output_is_bounded_in_memory(runner: Runner) -> None:
    size = 5_000_000
    result = run(runner, f"head -c {size} /dev/zero | tr '\\0' x; printf 'é%.0s' {{1..3}}")
    kept = 128 * 1024  # head and tail, OutputBuffer's defaults
    assert result.stdout_truncated == size + 6 - kept
    assert len(result.stdout.encode()) < kept + 100
    assert result.stdout.startswith("xxx") and result.stdout.endswith("xéé\u00e9")


def test_background_job_holding_the_output_does_not_block(runner: Runner) -> None:
    started = time.monotonic()
    result = run(runner, f"sleep {tag()} & echo $!")
    assert result.status == "ok" and time.monotonic() - started < 3
    os.kill(int(result.stdout), signal.SIGTERM)  # the job we started, by its pid


# -- the session --------------------------------------------------------------------------------


def test_session_carries_cd_export_unset(runner: Runner) -> None:
    assert run(runner, "cd /tmp && export A=1 B='two words' C=3").status == "ok"
    second = run(runner, 'unset A; pwd; echo "${A-unset} $B"')
    assert second.stdout == "/tmp\nunset two words\n"
    assert run(runner, 'echo "${A-gone} $C"; cd /').stdout == "gone 3\n"
    assert runner.session.cwd == "/" and runner.session.env.get("B") == "two words"
    assert "A" not in runner.session.env  # exported, then unset: back to the base environment
    assert run(runner, 'unset HOME').status == "ok"
    assert run(runner, 'echo "${HOME-unset}"').stdout == "unset\n"
    assert runner.session.env["HOME"] is None  # a base variable unset stays unset


def test_step_cwd_and_env_do_not_carry(runner: Runner) -> None:
    start = run(runner, "pwd").stdout
    result = run(runner, 'pwd; echo "$X"', cwd="/tmp", env={"X": "only here"})
    assert result.stdout == "/tmp\nonly here\n"
    assert run(runner, 'pwd; echo "${X-none}"').stdout == start + "none\n"


def test_runbook_output(runner: Runner) -> None:
    code = ('echo "k=v" >> "$RUNBOOK_OUTPUT"\n'
            'printf "multi<<EOF\\na\\nb\\nEOF\\n" >> "$RUNBOOK_OUTPUT"\n'
            'echo "$RUNBOOK_STEP $RUNBOOK_RUN_ID"')
    result = run(runner, code, step_id="cap")
    assert result.outputs == {"k": "v", "multi": "a\nb"}
    assert result.stdout == "cap r1\n"
    assert run(runner, "true").outputs == {}  # the file is emptied for every step
    assert "RUNBOOK_STEP" not in runner.session.env


def test_interpreter_gets_the_code_on_stdin(runner: Runner) -> None:
    code = "import os, sys\nprint(os.environ['RUNBOOK_STEP'], 6 * 7, sys.stdin.isatty())\n"
    result = run(runner, code, interpreter="python3", step_id="py")
    assert (result.status, result.stdout) == ("ok", "py 42 False\n")


# -- stopping: timeout and cancel stop the whole process group ----------------------------------


def test_timeout_stops_the_group(runner: Runner) -> None:
    sleep = tag()
    started = time.monotonic()
    result = run(runner, f"echo start; sleep {sleep} & sleep {sleep}", timeout=1.0)
    assert result.status == "timeout" and result.exit_code is None
    assert result.stdout == "start\n"
    assert running(f"sleep {sleep}") == []  # gone when run() returns, background job too
    assert time.monotonic() - started < 4
    assert run(runner, "echo still usable").stdout == "still usable\n"


def test_cancel_stops_the_group(runner: Runner) -> None:
    sleep = tag()
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    chunks: Chunks = []
    result = run(runner, f"echo started; sleep {sleep} & sleep {sleep}", cancel=cancel,
                 chunks=chunks)
    assert result.status == "interrupted" and result.exit_code is None
    assert "started" in "".join(text for _, _, text in chunks)
    assert running(f"sleep {sleep}") == []
    assert result.duration_s < 3


def test_sigint_ignored_then_sigterm(runner: Runner) -> None:
    sleep = tag()
    result = run(runner, f"trap '' INT; sleep {sleep}", timeout=0.5)
    assert result.status == "timeout" and 2.0 <= result.duration_s < 5
    assert running(f"sleep {sleep}") == []


def test_cancelled_before_the_start_runs_nothing(runner: Runner) -> None:
    mark = Path(f"/tmp/rb-contract-{secrets.token_hex(6)}")
    cancel = threading.Event()
    cancel.set()
    result = run(runner, f"touch {mark}", cancel=cancel)
    assert result.status == "interrupted" and result.exit_code is None
    assert not mark.exists()


# -- interactive steps get a terminal -----------------------------------------------------------

INTERACTIVE = """
import sys, threading
sys.path[:0] = {paths!r}
from runbook_engine.model import HostTarget
from runbook_engine.runners.base import Command
from runbook_engine.runners.local import LocalRunner
kind = {kind!r}
if kind.startswith("ssh"):
    from runbook_engine.runners.ssh import SSHRunner
    runner = SSHRunner(HostTarget("web1"), ssh_config_path={config!r},
                       persistent_shell=kind == "ssh")
else:
    runner = LocalRunner(use_server=kind == "session")
seen = []
code = ('read -r -p "name? " who; echo "hi $who"; [ -t 0 ] && echo on-tty; export K=v; '
        'echo "k=$who" >> "$RUNBOOK_OUTPUT"')
result = runner.run(Command(code, "i", "r", interactive=True),
                    lambda s, t: seen.append(t), threading.Event())
print("\\nRESULT", result.status, result.exit_code, result.outputs, runner.session.env.get("K"))
runner.close()
print("read " + input("again? "))
"""


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "ssh-fifos"])  # (a pty channel)
def test_interactive_step_gets_a_terminal(kind: str, request: pytest.FixtureRequest) -> None:
    pexpect = pytest.importorskip("pexpect")
    config = ""
    if kind.startswith("ssh"):
        config = str(request.getfixturevalue("sshd_server").ssh_config)
    script = INTERACTIVE.format(paths=[str(ROOT), str(ROOT / "tests")], kind=kind, config=config)
    child = pexpect.spawn(sys.executable, ["-c", script], timeout=20, encoding="utf-8")
    child.expect("name\\? ")
    child.send("bob\r")
    child.expect("hi bob")
    child.expect("on-tty")
    child.expect("RESULT ok 0 {'k': 'bob'} v")
    child.expect("again")
    child.sendline("back")  # our terminal works again: it was given back (and out of raw mode)
    child.expect("read back")
    child.expect(pexpect.EOF)

