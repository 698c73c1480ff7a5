"""LocalRunner specifics: the session state format, bounded buffers, memory (the runner
contract every runner meets is tests/test_runner_contract.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from runbook_engine.outputs import OutputBuffer, parse_outputs
from runbook_engine.runners.base import Command, Result, Session
from runbook_engine.runners.local import LocalRunner
from runbook_engine.runners.script import parse_state


def run(runner: LocalRunner, code: str, **kw: object) -> tuple[Result, list[tuple[str, str]]]:
    chunks: list[tuple[str, str]] = []
    cmd = Command(code=code, step_id=str(kw.pop("step_id", "s1")), run_id="run-1", **kw)  # type: ignore[arg-type]
    result = runner.run(cmd, lambda stream, text: chunks.append((stream, text)), threading.Event())
    return result, chunks


def test_missing_session_cwd_fails_clearly(tmp_path) -> None:
    r = LocalRunner()
    r.session = Session(cwd=str(tmp_path / "gone"))
    res, _ = run(r, "echo hi")
    assert res.status == "failed" and "gone" in res.stderr
    r.close()


def test_parse_state_relative_to_base_env() -> None:
    data = b'/srv\0declare -x A="1"\ndeclare -x KEEP="same"\ndeclare -x NEW=$\'x\\ny\'\n' \
        b'declare -x PWD="/srv"\ndeclare -x SHLVL="2"\ndeclare -x EMPTY\n'
    session = parse_state(data, {"KEEP": "same", "A": "0", "GONE": "v", "SHLVL": "1"})
    assert session.cwd == "/srv"
    assert session.env == {"A": "1", "NEW": "x\ny", "GONE": None, "EMPTY": ""}


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_state_round_trips_tricky_values_through_bash(locale: str) -> None:
    values = {"NL": "x\ny", "Q": 'q"uo$te`b\\', "CTRL": "tab\there\x01", "EMPTY": "",
              "UTF": "é ü ✓", "ESC": "\x1b[0m", "MIX": "a'b\\c\x7f"}
    env = dict(values, LC_ALL=locale)
    out = subprocess.run(["bash", "-c", "printf '/x\\0'; declare -ax AR=(1); export -p"],
                         env=env, capture_output=True, check=True).stdout
    session = parse_state(out, {"NL": "old", "GONE": "1"})
    assert session.env == {**values, "LC_ALL": locale, "GONE": None}


def test_parse_outputs_forms() -> None:
    text = "a=1\nb=x=y\nmulti<<END\n1\n\n2\nEND\nc=3\n"
    assert parse_outputs(text) == {"a": "1", "b": "x=y", "multi": "1\n\n2", "c": "3"}


def test_output_buffer_head_tail_and_spill(tmp_path) -> None:
    spill = tmp_path / "middle"
    buf = OutputBuffer(head=10, tail=10, spill_path=str(spill))
    data = b"".join(b"%05d" % i for i in range(1000))
    for i in range(0, len(data), 7):
        buf.write(data[i : i + 7])
    buf.close()
    assert not buf.full
    assert buf.truncated == len(data) - 20
    assert spill.read_bytes() == data[10:-10]
    text = buf.text()
    assert text.startswith(data[:10].decode()) and text.endswith(data[-10:].decode())
    assert f"{len(data) - 20} bytes omitted" in text
    small = OutputBuffer()
    small.write(b"hello")
    assert small.full and small.text() == "hello"


def test_large_output_keeps_memory_bounded() -> None:
    # A child python runs the runner on 300 MB of output and reports its own peak RSS.
    code = (
        "import threading\n"
        "from runbook_engine.runners.local import LocalRunner\n"
        "from runbook_engine.runners.base import Command\n"
        "n = [0]\n"
        "def out(s, t): n[0] += len(t)\n"
        "r = LocalRunner()\n"
        "res = r.run(Command('yes | head -c 300000000', 's', 'r'), out, threading.Event())\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (pytest)
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(n[0], res.stdout_truncated, len(res.stdout), hwm)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    seen, truncated, kept, maxrss_kb = map(int, out.stdout.split())
    assert seen == 300_000_000
    assert truncated == 300_000_000 - 128 * 1024
    assert kept < 200_000
    assert maxrss_kb < 100 * 1024


def test_shell_server_killed_during_a_step_is_replaced() -> None:
    """The server's replies (the step's pid, then its status) are read in the output loop: a
    server that dies after forking the step leaves the step to finish, unjudged, and the next
    step gets a new server, with the session the step left."""
    runner = LocalRunner()
    try:
        assert run(runner, "cd /tmp && export KEPT=1")[0].status == "ok"
        # (after a second: the server has said the step's pid; dying before that loses the step)
        killed, _ = run(runner, "echo before; sleep 1; kill -9 $$; sleep 0.3; echo after")
        assert (killed.status, killed.exit_code, killed.stdout) == ("failed", None,
                                                                    "before\nafter\n")
        again, _ = run(runner, 'echo "$(pwd) $KEPT"; sleep 5', timeout=0.5)
        assert (again.status, again.stdout) == ("timeout", "/tmp 1\n")  # its group signalled
    finally:
        runner.close()


def test_a_step_that_changes_nothing_writes_the_same_state(tmp_path) -> None:
    """The state file leaves the step's name out, so it repeats from step to step and is parsed
    once (StateCache); each step still gets a session of its own to change."""
    runner = LocalRunner()
    try:
        states = []
        for step in ("a", "b", "c"):  # the first one's cd -- sets OLDPWD
            run(runner, "export KEEP=1", step_id=step)
            with open(os.path.join(runner._dir(), "state"), "rb") as handle:
                states.append(handle.read())
        assert states[1] == states[2] and b"RUNBOOK_STEP" not in states[1]
        first = runner._states.parse(states[0], runner.base_env)
        first.env["KEEP"] = "changed"
        assert runner._states.parse(states[0], runner.base_env).env["KEEP"] == "1"
        assert run(runner, 'echo "$KEEP $RUNBOOK_STEP"', step_id="d")[0].stdout == "1 d\n"
    finally:
        runner.close()


def _children(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue
            if int(stat[stat.rfind(b")") + 2:].split()[1]) == pid:
                found.append(int(name))
    return found


def test_the_next_step_is_forked_before_it_comes() -> None:
    """Between two steps the shell server has already forked the next one's subshell (its own
    process group), which runs the next step; closing the runner ends both."""
    runner = LocalRunner()
    try:
        assert run(runner, "true")[0].status == "ok"
        server = runner._server
        assert server is not None
        deadline = time.monotonic() + 10
        while not (waiting := _children(server.proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(waiting) == 1 and os.getpgid(waiting[0]) == waiting[0]
        result, _ = run(runner, "echo $BASHPID")
        assert result.stdout == f"{waiting[0]}\n"
    finally:
        runner.close()
    assert server.proc.returncode == 0  # it ended by itself when its requests ended
    assert not os.path.exists(f"/proc/{waiting[0]}")


def test_a_fifo_whose_writer_came_back_after_its_hangup_is_read_later(tmp_path) -> None:
    # poll said POLLHUP (its writer had closed), and a writer opened it again before the read:
    # the read finds it empty (EAGAIN), which is "nothing yet", not an error nor its end
    import select

    from runbook_engine.runners.process import Pipes

    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    os.close(os.open(fifo, os.O_WRONLY))  # a writer came and went: the hangup is reported
    writer = os.open(fifo, os.O_WRONLY)  # and one is back, with nothing written yet
    try:
        pipes = Pipes({reader: "stdout"})

        class Hangup:  # what poll answered a moment before the writer came back
            def poll(self, timeout: int) -> list[tuple[int, int]]:
                return [(reader, select.POLLHUP)]

        real, pipes.poller = pipes.poller, Hangup()  # type: ignore[assignment]
        assert pipes.read(0) == ([], False) and pipes.open == {reader: "stdout"}
        pipes.poller = real
        os.write(writer, b"later\n")
        assert pipes.read(1) == ([("stdout", b"later\n")], False)
    finally:
        os.close(writer)
        os.close(reader)
