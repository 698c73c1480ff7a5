"""Asking the operator over SSH, in a real terminal: keyboard-interactive prompts from a real
sshd's PAM (one-time codes, once per host) and a sudo step on a remote terminal (asked once)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
import sshd as sshd_helpers

Server = sshd_helpers.SSHServer
ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}
PAM_SERVICE = "rbtest-sshd-kbd"  # sshd names its PAM service after its own file name
CODES = ("731904", "118266", "560481")
#: keys, then a one-time code through PAM: the usual second factor
KBD_OPTIONS = ("UsePAM yes", "KbdInteractiveAuthentication yes",
               "AuthenticationMethods publickey,keyboard-interactive")
OTP_CHECK = """#!/bin/sh
# a one-time code: accepted once, then struck from the list
IFS= read -r code
grep -qx -- "$code" "$1" || exit 1
grep -vx -- "$code" "$1" > "$1.new"; mv "$1.new" "$1"
"""


def pam_stack(check: Path, codes: Path) -> str:
    return (f"auth required pam_echo.so Enter the code from your token.\n"
            f"auth required pam_exec.so expose_authtok quiet {check} {codes}\n"
            "auth optional pam_permit.so\n"  # sshd's pam_setcred needs one module to succeed
            "account required pam_permit.so\nsession required pam_permit.so\n")


@pytest.fixture(scope="module")
def kbd_server() -> Iterator[Server]:
    reason = sshd_helpers.unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = sshd_helpers.start_server(options=KBD_OPTIONS, pam_service=PAM_SERVICE)
    check, codes = server.root / "otp-check", server.root / "codes"
    check.write_text(OTP_CHECK)
    check.chmod(0o755)
    codes.write_text("".join(f"{c}\n" for c in CODES))
    sshd_helpers.ensure_pam_service(PAM_SERVICE, pam_stack(check, codes))
    yield server
    server.stop()


def spawn(server: Server, tmp_path: Path, book: str, *args: str) -> pexpect.spawn:
    path = tmp_path / "book.md"
    path.write_text(book)
    argv = ["-m", "runbook_engine", "run", "--yes", str(path), "--ssh-config",
            str(server.ssh_config), "--transcript", str(tmp_path / "t.jsonl"), *args]
    return pexpect.spawn(sys.executable, argv, cwd=str(tmp_path), env=ENV, timeout=30,
                         dimensions=(40, 200))


def finished(tmp_path: Path) -> dict[str, str]:
    events = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    return {e["step"]: e["status"] for e in events if e["event"] == "step_finished"}


KBD_BOOK = ("# Two hosts\n\n```bash {#both on=web1,web2}\necho hello from $(hostname -s)\n```\n\n"
            "```bash {#again on=web2}\necho again\n```\n")


def test_one_time_codes_asked_once_per_host(kbd_server: Server, tmp_path: Path) -> None:
    child = spawn(kbd_server, tmp_path, KBD_BOOK)
    asked: list[str] = []
    codes = list(CODES[:2])
    while child.expect([r"\(rbtest@(web\d)\) Password: ", pexpect.EOF]) == 0:
        asked.append(child.match.group(1).decode())
        assert b"Enter the code from your token." in child.before  # PAM's text, shown
        child.sendline(codes.pop(0))
    child.close()
    assert sorted(asked) == ["web1", "web2"], child.before  # each host once, though web2 runs twice
    assert child.exitstatus == 0, child.before
    assert finished(tmp_path) == {"both": "ok", "again": "ok"}
    assert (kbd_server.root / "codes").read_text() == f"{CODES[2]}\n"  # both were used


def test_a_wrong_code_fails_that_host_in_one_line(kbd_server: Server, tmp_path: Path) -> None:
    child = spawn(kbd_server, tmp_path, "# One\n\n```bash {#one on=web3}\necho hi\n```\n")
    child.expect(r"\(rbtest@web3\) Password: ")
    child.sendline("000000")
    rest = b""
    while child.expect([r"\(rbtest@web3\) Password: ", pexpect.EOF]) == 0:
        child.sendline("000000")  # sshd may let PAM ask again: a wrong code each time
    rest = child.before
    child.close()
    assert child.exitstatus == 1
    flat = " ".join(rest.decode().split())
    assert "authentication failed for user rbtest (tried" in flat and "keyboard-interactive" in flat
    assert "Traceback" not in flat


SUDO_BOOK = ("# Sudo on a terminal\n\n```bash {#who on=web1 sudo=true interactive=true}\n"
             "read -r -p 'name? ' n; echo \"hello $n as $(id -u)\"\n```\n\n"
             "```bash {#after on=web1 sudo=true}\necho after=$(id -u)\n```\n")


def test_interactive_sudo_step_asks_once(sudo_server: Server, tmp_path: Path) -> None:
    child = spawn(sudo_server, tmp_path, SUDO_BOOK)
    child.expect(r"\[sudo\] password for rbtest@web1: ")
    child.sendline(sshd_helpers.SUDO_PASSWORD)
    got = child.expect([r"\[sudo\] password for", "name\\? "])
    assert got == 1, child.before  # the remote sudo did not ask again
    child.sendline("bob")
    child.expect("hello bob as 0")
    child.expect(pexpect.EOF)
    shown = child.before
    child.close()
    assert b"[sudo] password" not in shown
    assert child.exitstatus == 0
    assert finished(tmp_path) == {"who": "ok", "after": "ok"}
    transcript = (tmp_path / "t.jsonl").read_bytes()
    assert b"hello bob as 0" in transcript and b"after=0" in transcript
    assert sshd_helpers.SUDO_PASSWORD.encode() not in transcript + shown
