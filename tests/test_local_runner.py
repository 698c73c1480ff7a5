"""LocalRunner against real bash processes: sessions, env, outputs, errexit, timeout, cancel."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

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


@pytest.fixture(params=[True, False], ids=["server", "spawn"])
def runner(request: pytest.FixtureRequest) -> LocalRunner:
    r = LocalRunner(use_server=request.param)
    yield r
    r.close()


def test_session_carries_cwd_and_env(runner: LocalRunner, tmp_path) -> None:
    run(runner, f"cd {tmp_path}")
    assert run(runner, "pwd")[0].stdout.strip() == str(tmp_path)
    run(runner, "export A=1; export B='two words'")
    assert run(runner, 'echo "$A/$B"')[0].stdout == "1/two words\n"
    run(runner, "unset HOME")
    assert run(runner, 'echo "${HOME-unset}"')[0].stdout == "unset\n"
    assert runner.session.env["HOME"] is None
    assert runner.session.env["A"] == "1"
    assert runner.session.cwd == str(tmp_path)


def test_step_cwd_and_env_do_not_carry_over(runner: LocalRunner, tmp_path) -> None:
    (tmp_path / "sub").mkdir()
    run(runner, f"cd {tmp_path}")
    res, _ = run(runner, 'pwd; echo "$K"', cwd="sub", env={"K": "v"})
    assert res.stdout == f"{tmp_path}/sub\nv\n"
    res, _ = run(runner, 'pwd; echo "${K-none}"')
    assert res.stdout == f"{tmp_path}\nnone\n"


def test_runbook_variables_and_output_file(runner: LocalRunner) -> None:
    res, _ = run(
        runner,
        'echo "$RUNBOOK_STEP $RUNBOOK_RUN_ID"\n'
        'echo "version=1.2.3" >> "$RUNBOOK_OUTPUT"\n'
        'printf "notes<<EOF\\nline one\\nline two\\nEOF\\n" >> "$RUNBOOK_OUTPUT"\n',
        step_id="deploy",
    )
    assert res.stdout == "deploy run-1\n"
    assert res.outputs == {"version": "1.2.3", "notes": "line one\nline two"}
    # the output file is emptied between steps
    assert run(runner, "true")[0].outputs == {}
    assert "RUNBOOK_STEP" not in runner.session.env


def test_errexit_and_pipefail(runner: LocalRunner) -> None:
    res, _ = run(runner, "false; echo after")
    assert res.status == "failed" and res.exit_code == 1 and "after" not in res.stdout
    res, _ = run(runner, "false | true")
    assert res.status == "failed"
    res, _ = run(runner, "exit 7")
    assert res.exit_code == 7
    res, _ = run(runner, "echo ok")
    assert res.status == "ok" and res.exit_code == 0


def test_streams_are_told_apart(runner: LocalRunner) -> None:
    res, chunks = run(runner, "echo out; echo err >&2; printf 'caf\\xc3'; printf '\\xa9\\n'")
    assert res.stderr == "err\n"
    assert res.stdout == "out\ncafé\n"
    assert "".join(t for s, t in chunks if s == "stdout") == "out\ncafé\n"


def _survivors(marker: str) -> str:
    out = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True)
    return out.stdout.strip()


def test_timeout_kills_the_process_group(runner: LocalRunner) -> None:
    marker = f"3{uuid.uuid4().int % 10**6}.5"
    start = time.monotonic()
    res, _ = run(runner, f"sleep {marker} & sleep {marker}; wait", timeout=0.5)
    assert res.status == "timeout"
    assert time.monotonic() - start < 8
    time.sleep(0.1)
    assert _survivors(f"sleep {marker}") == ""


def test_cancel_from_another_thread(runner: LocalRunner) -> None:
    marker = f"4{uuid.uuid4().int % 10**6}.5"
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    cmd = Command(code=f"echo started; sleep {marker}", step_id="s", run_id="r")
    chunks: list[str] = []
    res = runner.run(cmd, lambda s, t: chunks.append(t), cancel)
    assert res.status == "interrupted"
    assert "started" in "".join(chunks)
    assert _survivors(f"sleep {marker}") == ""


def test_interpreter_reads_code_on_stdin(runner: LocalRunner) -> None:
    res, _ = run(runner, "import sys\nprint(6 * 7, sys.argv)\n", interpreter=sys.executable + " -")
    assert res.status == "ok"
    assert res.stdout.startswith("42")


def test_background_job_holding_the_pipe_does_not_block(runner: LocalRunner) -> None:
    marker = f"5{uuid.uuid4().int % 10**6}.5"
    start = time.monotonic()
    res, _ = run(runner, f"sleep {marker} & echo bye")
    assert res.status == "ok" and res.stdout == "bye\n"
    assert time.monotonic() - start < 3
    subprocess.run(["pkill", "-f", f"sleep {marker}"])


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


def test_interactive_step_gets_the_terminal_and_gives_it_back() -> None:
    pexpect = pytest.importorskip("pexpect")
    script = (
        "import threading\n"
        "from runbook_engine.runners.local import LocalRunner\n"
        "from runbook_engine.runners.base import Command\n"
        "cmd = Command('read -r x; echo \"got $x\"; [ -t 0 ] && echo on-tty; export K=v',"
        " 's', 'r', interactive=True)\n"
        "box = []\n"
        "r = LocalRunner()\n"
        "t = threading.Thread(target=lambda: box.append(r.run(cmd, print, threading.Event())))\n"
        "t.start(); t.join()\n"
        "print('status=' + box[0].status, 'K=' + str(r.session.env.get('K')))\n"
        "print('read ' + input('again? '))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    child = pexpect.spawn(sys.executable, ["-c", script], env=env, timeout=10, encoding="utf-8")
    child.sendline("hello")
    child.expect("got hello")
    child.expect("on-tty")
    child.expect("status=ok K=v")
    child.expect("again")
    child.sendline("back")  # the parent can read the terminal again: it was given back
    child.expect("read back")
    child.expect(pexpect.EOF)
