"""sudo=true / user=NAME steps for real: over SSH (password asked once per host) and locally."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pexpect
import pytest
import sshd as sshd_helpers

from runbook_engine.model import HostTarget
from runbook_engine.runners.base import Command, Result, Runner
from runbook_engine.runners.local import LocalRunner
from runbook_engine.runners.ssh import SSHRunner

Server = sshd_helpers.SSHServer
PASSWORD = sshd_helpers.SUDO_PASSWORD
OTHER = sshd_helpers.SUDO_OTHER_USER
ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}
STEP_PROMPT = r"\[y/n/e/a/q/\?\]"
PASS_PROMPT = r"\[sudo\] password for rbtest@web1: "


class Asker:
    """A sudo_password_prompt that answers and records every question."""

    def __init__(self, answer: str = PASSWORD) -> None:
        self.answer = answer
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.answer


def run(runner: Runner, code: str, **kw: object) -> Result:
    return runner.run(Command(code=code, step_id="s", run_id="r", **kw),  # type: ignore[arg-type]
                      lambda stream, text: None, threading.Event())


def ssh_runner(server: Server, asker: Asker | None, alias: str = "web1") -> SSHRunner:
    return SSHRunner(HostTarget(alias), ssh_config_path=str(server.ssh_config),
                     sudo_password_prompt=asker)


def no_password_in(*results: Result) -> None:
    for result in results:
        assert PASSWORD not in result.stdout + result.stderr + (result.error or "")


# -- SSHRunner -------------------------------------------------------------------------------------


def test_root_and_other_user_with_one_prompt_per_host(sudo_server: Server) -> None:
    asker = Asker()
    runner = ssh_runner(sudo_server, asker)
    try:
        assert run(runner, "cd /tmp && export KEPT=yes").status == "ok"
        root = run(runner, 'id -u; pwd; echo "$KEPT"; cd /var', sudo=True)
        assert (root.status, root.stdout) == ("ok", "0\n/tmp\nyes\n")
        assert run(runner, "pwd").stdout == "/var\n"  # a root step's cd carries over
        other = run(runner, "id -un; pwd", user=OTHER)
        assert (other.status, other.stdout) == ("ok", f"{OTHER}\n/var\n")
        py = run(runner, "import os; print(os.geteuid())", sudo=True, interpreter="python3")
        assert (py.status, py.stdout) == ("ok", "0\n")
        again = run(runner, "id -un", user="root")
        assert again.stdout == "root\n"
        no_password_in(root, other, py, again)
        assert asker.prompts == ["[sudo] password for rbtest@web1: "]
    finally:
        runner.close()
    second = ssh_runner(sudo_server, asker, "web2")  # another host: asked again, once
    try:
        assert run(second, "id -u", sudo=True).stdout == "0\n"
        assert run(second, "id -un", user=OTHER).stdout == f"{OTHER}\n"
        assert asker.prompts[1:] == ["[sudo] password for rbtest@web2: "]
    finally:
        second.close()


def running_as(user: str, text: str) -> list[str]:
    """Processes of ``user`` on this machine (the test sshd's too) whose command holds ``text``."""
    out = subprocess.run(["pgrep", "-u", user, "-f", text], capture_output=True, text=True)
    return out.stdout.split()


@pytest.mark.parametrize("who", [{"sudo": True}, {"user": OTHER}])
def test_timeout_stops_a_sudo_step(sudo_server: Server, who: dict[str, object]) -> None:
    """The step's processes belong to root (or OTHER): they are signalled through the same sudo."""
    runner = ssh_runner(sudo_server, Asker())
    user = "root" if who.get("sudo") else OTHER
    tag = f"sleep 31.{time.monotonic_ns() % 10**6:06d}"
    try:
        started = time.monotonic()
        result = run(runner, f"{tag} & {tag}", timeout=1.0, **who)
        assert result.status == "timeout" and time.monotonic() - started < 5
        assert running_as(user, tag) == []  # gone when run() returns, background job too
        assert run(runner, "id -un", **who).stdout == f"{user}\n"
    finally:
        for pid in running_as(user, tag):  # only when the test failed: what it started
            os.kill(int(pid), 9)
        runner.close()


def test_password_is_not_left_on_stdin(sudo_server: Server) -> None:
    """sudo consumes the password line even when it could use cached credentials (-k)."""
    runner = ssh_runner(sudo_server, Asker())
    try:
        for _ in range(2):
            as_root = run(runner, "cat; echo end", sudo=True)
            as_other = run(runner, "cat; echo end", user=OTHER)
            assert as_root.stdout == as_other.stdout == "end\n"
            no_password_in(as_root, as_other)
    finally:
        runner.close()


def test_other_users_cd_and_exports_do_not_carry(sudo_server: Server) -> None:
    """A step as another user cannot write the session state in our temp dir: the session stays."""
    runner = ssh_runner(sudo_server, Asker())
    try:
        run(runner, "cd /tmp")
        assert run(runner, "cd /etc; export X=1", user=OTHER).status == "ok"
        assert run(runner, 'pwd; echo "${X-unset}"').stdout == "/tmp\nunset\n"
        assert run(runner, "cd /usr; export Y=1", sudo=True).status == "ok"
        assert run(runner, 'pwd; echo "${Y-unset}"').stdout == "/usr\nunset\n"  # cwd only
    finally:
        runner.close()


def test_wrong_password_is_one_clear_error(sudo_server: Server) -> None:
    asker = Asker("not-the-password")
    runner = ssh_runner(sudo_server, asker)
    try:
        started = time.monotonic()
        result = run(runner, "id -u", sudo=True)
        assert time.monotonic() - started < 10  # sudo's retry prompt must not wait for input
        assert result.status == "error" and result.exit_code is None
        assert result.error == "sudo -u root on web1 refused: 1 incorrect password attempt"
        assert "not-the-password" not in result.stdout + result.stderr
        assert run(runner, "id -un").stdout == "rbtest\n"  # the connection is still usable
        asker.answer = PASSWORD  # a mistyped password is asked again at the next sudo step
        assert run(runner, "id -u", sudo=True).stdout == "0\n"
        assert len(asker.prompts) == 2
    finally:
        runner.close()


def test_no_way_to_ask(sudo_server: Server) -> None:
    runner = ssh_runner(sudo_server, None)
    try:
        result = run(runner, "id -u", sudo=True)
        assert (result.status, result.error) == (
            "error", "sudo needs a password and none can be asked")
    finally:
        runner.close()


# -- the CLI in a real terminal -----------------------------------------------------------------


def write_book(tmp_path: Path) -> Path:
    book = tmp_path / "book.md"
    book.write_text(
        "# Sudo\n\n```bash {#start on=web1}\ncd /tmp\n```\n\n"
        "```bash {#root on=web1 sudo=true}\necho uid=$(id -u) in=$(pwd)\ncd /var\n```\n\n"
        f"```bash {{#other on=web1 user={OTHER}}}\necho user=$(id -un) in=$(pwd)\n```\n\n"
        "```bash {#again on=web1 sudo=true}\necho again=$(id -u)\n```\n"
    )
    return book


def spawn(server: Server, tmp_path: Path, *args: str) -> pexpect.spawn:
    argv = ["-m", "runbook_engine", "run", str(write_book(tmp_path)), "--ssh-config",
            str(server.ssh_config), "--transcript", str(tmp_path / "t.jsonl"), *args]
    return pexpect.spawn(sys.executable, argv, cwd=str(tmp_path), env=ENV, timeout=30,
                         dimensions=(40, 200))


def finished(tmp_path: Path) -> dict[str, str]:
    events = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    return {e["step"]: e["status"] for e in events if e["event"] == "step_finished"}


@pytest.mark.parametrize("mode", ["yes", "interactive"])
def test_cli_asks_once_and_never_shows_the_password(
    sudo_server: Server, tmp_path: Path, mode: str
) -> None:
    child = spawn(sudo_server, tmp_path, *(["--yes"] if mode == "yes" else []))
    asked = 0
    while True:
        got = child.expect([STEP_PROMPT, PASS_PROMPT, pexpect.EOF])
        if got == 0:
            child.sendline("y")
        elif got == 1:
            asked += 1
            child.sendline(PASSWORD)
        else:
            break
    child.close()
    shown = child.before  # everything printed since the last prompt
    assert child.exitstatus == 0 and asked == 1
    assert finished(tmp_path) == {"start": "ok", "root": "ok", "other": "ok", "again": "ok"}
    transcript = (tmp_path / "t.jsonl").read_bytes()
    for text in (b"uid=0 in=/tmp", f"user={OTHER} in=/var".encode(), b"again=0"):
        assert text in transcript
    assert PASSWORD.encode() not in transcript and PASSWORD.encode() not in shown


def test_cli_wrong_password_fails_naming_the_host(sudo_server: Server, tmp_path: Path) -> None:
    child = spawn(sudo_server, tmp_path, "--yes")
    child.expect(PASS_PROMPT)
    child.sendline("wrong-sudo-pw")
    child.expect(pexpect.EOF)
    child.close()
    shown = child.before.decode()
    assert child.exitstatus == 1
    flat = " ".join(shown.split())  # the console wraps long lines
    assert flat.count("incorrect password attempt") == 1, shown
    assert "root failed" in flat
    assert "(sudo -u root on web1 refused: 1 incorrect password attempt)" in flat
    assert finished(tmp_path) == {"start": "ok", "root": "failed"}
    transcript = (tmp_path / "t.jsonl").read_bytes()
    assert b"wrong-sudo-pw" not in transcript and "wrong-sudo-pw" not in shown


def test_cli_without_a_terminal_does_not_hang(sudo_server: Server, tmp_path: Path) -> None:
    book = write_book(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "runbook_engine", "run", str(book), "--yes", "--ssh-config",
         str(sudo_server.ssh_config), "--transcript", str(tmp_path / "t.jsonl")],
        cwd=tmp_path, env=ENV, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "no terminal to ask on" in proc.stdout + proc.stderr
    assert finished(tmp_path)["root"] == "failed"


# -- LocalRunner -----------------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: root's own steps skip sudo")
def test_local_runner_as_root(sudo_users: None, tmp_path: Path) -> None:
    runner = LocalRunner()
    try:
        run(runner, f"cd {tmp_path}")
        root = run(runner, "id -u; cd /tmp", sudo=True)  # already root: no sudo, cd carries
        assert (root.status, root.stdout, runner.session.cwd) == ("ok", "0\n", "/tmp")
        other = run(runner, "id -un; pwd; cd /etc", user=OTHER)
        assert (other.status, other.stdout) == ("ok", f"{OTHER}\n/tmp\n")
        assert run(runner, "pwd").stdout == "/tmp\n"  # another user's cd does not carry
    finally:
        runner.close()


def python_for_test_user() -> str:
    """A Python the test user can run and import the package with (ours may live in /root)."""
    for python in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run(["runuser", "-u", "rbtest", "--", python, "-c",
                                "import runbook_engine.runners.local"],
                               cwd="/tmp", env=ENV, capture_output=True)
        if probe.returncode == 0:
            return python
    pytest.skip("no Python the test user can run with this checkout")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as the test user")
def test_local_runner_without_a_terminal_fails_fast(sudo_users: None) -> None:
    """As rbtest (sudo needs its password), no terminal: -n fails at once; self needs no sudo."""
    script = (
        "import threading\n"
        "from runbook_engine.runners.base import Command\n"
        "from runbook_engine.runners.local import LocalRunner\n"
        "r = LocalRunner()\n"
        "for kw in ({'sudo': True}, {'user': 'rbtest'}):\n"
        "    res = r.run(Command(code='id -un', step_id='s', run_id='r', **kw),\n"
        "                lambda s, t: None, threading.Event())\n"
        "    print(res.status, res.stdout.strip(), res.stderr.strip())\n"
        "r.close()\n"
    )
    python = python_for_test_user()
    proc = subprocess.run(
        ["runuser", "-u", "rbtest", "--", python, "-c", script],
        cwd="/tmp", env={**ENV, "HOME": "/home/rbtest"}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=30,
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stderr
    assert lines[0] == "failed  sudo: a password is required"
    assert lines[1] == "ok rbtest "
