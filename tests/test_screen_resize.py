"""A window resized while an interactive step has the terminal reaches that step: locally (it is
the terminal's foreground group) and on a remote pty (``resize_pty`` over SSH)."""

from __future__ import annotations

from pathlib import Path

import pexpect
from ptyrun import FAIL_PROMPT, STEP_PROMPT, book, finished, shown, spawn
from sshd import SSHServer

# the step reports each SIGWINCH with the size its terminal has then
WATCH = ("trap 'echo \"WINCH $(stty size)\"' WINCH; echo \"READY $(stty size)\"; "
         "for i in $(seq 40); do sleep 0.2; done")


def _resized(child: pexpect.spawn, tmp_path: Path) -> None:
    child.expect(STEP_PROMPT)
    child.sendline("y")
    child.expect(r"READY 40 120")
    child.setwinsize(31, 97)
    child.expect(r"WINCH 31 97", timeout=10)
    child.sendintr()  # ends the step (its loop may also have ended first on a loaded machine)
    if child.expect([FAIL_PROMPT, pexpect.EOF], timeout=20) == 0:
        child.sendline("s")
        child.expect(pexpect.EOF, timeout=20)


def test_a_resize_reaches_a_local_interactive_step(tmp_path: Path) -> None:
    path = book(tmp_path, f"# T\n\n```bash {{#watch interactive}}\n{WATCH}\n```\n")
    child = spawn(path, tmp_path=tmp_path, env={"TERM": "xterm"})
    _resized(child, tmp_path)
    assert "watch" in finished(tmp_path)
    assert shown(child).count("READY 40 120") == 1  # not echoed again with a host prefix


def test_a_resize_reaches_a_remote_interactive_step(sshd_server: SSHServer,
                                                     tmp_path: Path) -> None:
    path = book(tmp_path, f"# T\n\n```bash {{#watch interactive on=web1}}\n{WATCH}\n```\n")
    child = spawn(path, "--ssh-config", str(sshd_server.ssh_config), tmp_path=tmp_path,
                  env={"TERM": "xterm"})
    _resized(child, tmp_path)
    assert "watch" in finished(tmp_path)
    assert shown(child).count("READY 40 120") == 1  # not echoed again with a host prefix
