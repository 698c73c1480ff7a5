"""Reaching hosts as ssh does: ProxyCommand, global known_hosts, StrictHostKeyChecking, host
keys of every type (an RSA-only sshd, ECDSA, mixed known_hosts), and one line for each failure."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sshd as sshd_helpers

from runbook_engine.model import HostTarget
from runbook_engine.runners.base import Command, Result, TargetError
from runbook_engine.runners.ssh import SSHRunner

Server = sshd_helpers.SSHServer
ROOT = Path(__file__).resolve().parent.parent
RELAY = Path(__file__).resolve().parent / "tcprelay.py"
RSA_ONLY = ("HostKeyAlgorithms rsa-sha2-512,rsa-sha2-256",)


def config_for(server: Server, path: Path, alias: str, *extra: str,
               known: Path | None = None) -> Path:
    lines = [f"Host {alias}", "  HostName 127.0.0.1", f"  Port {server.port}",
             f"  User {server.user}", f"  IdentityFile {server.key_path}", "  IdentitiesOnly yes",
             f"  UserKnownHostsFile {known or server.known_hosts}", *(f"  {x}" for x in extra)]
    path.write_text("\n".join(lines) + "\n")
    return path


def outcome(alias: str, config: Path, code: str = "id -un", **kw: object) -> Result:
    runner = SSHRunner(HostTarget(alias), ssh_config_path=str(config), **kw)  # type: ignore[arg-type]
    try:
        return runner.run(Command(code=code, step_id="s", run_id="r"),
                          lambda stream, text: None, threading.Event())
    finally:
        runner.close()


def run_on(alias: str, config: Path, code: str = "id -un", **kw: object) -> str:
    result = outcome(alias, config, code, **kw)
    assert result.status == "ok", result
    return result.stdout


def refused(alias: str, config: Path, **kw: object) -> str:
    """The one-line error of a step that could not reach its host."""
    result = outcome(alias, config, **kw)
    assert result.status == "error" and result.error is not None, result
    assert "\n" not in result.error
    return result.error


def host_key_algorithm(alias: str, config: Path) -> str:
    runner = SSHRunner(HostTarget(alias), ssh_config_path=str(config))
    try:
        runner.connect()
        return str(runner._chain[-1].host_key_type)
    finally:
        runner.close()


# -- ssh config -----------------------------------------------------------------------------------


def test_proxy_command(sshd_server: Server, tmp_path: Path) -> None:
    log = tmp_path / "relay.log"
    config = config_for(sshd_server, tmp_path / "config", "proxied",
                        f"ProxyCommand {sys.executable} {RELAY} %h %p {log}")
    assert run_on("proxied", config) == f"{sshd_server.user}\n"
    assert log.read_text() == f"127.0.0.1 {sshd_server.port}\n"  # it went through the relay


def test_proxy_command_that_fails_is_one_line(sshd_server: Server, tmp_path: Path) -> None:
    config = config_for(sshd_server, tmp_path / "config", "broken",
                        "ProxyCommand sh -c 'echo no route >&2; exit 3'")
    runner = SSHRunner(HostTarget("broken"), ssh_config_path=str(config))
    with pytest.raises(TargetError) as info:
        runner.connect()
    assert str(info.value).startswith("broken: SSH handshake failed")
    assert "\n" not in str(info.value)


def test_global_known_hosts_file(sshd_server: Server, tmp_path: Path) -> None:
    mine, shared = tmp_path / "known_hosts", tmp_path / "ssh_known_hosts"
    shared.write_text(sshd_server.known_hosts_line)
    config = config_for(sshd_server, tmp_path / "config", "viaglobal",
                        f"GlobalKnownHostsFile {shared}", known=mine)
    assert run_on("viaglobal", config) == f"{sshd_server.user}\n"
    assert not mine.exists()  # known through the global file: nothing was added


@pytest.mark.parametrize(("setting", "flag", "accepted", "words"), [
    ("StrictHostKeyChecking no", False, False, "StrictHostKeyChecking no is not followed"),
    ("StrictHostKeyChecking accept-new", False, False, "accept-new is not followed"),
    ("StrictHostKeyChecking yes", True, False, "says StrictHostKeyChecking yes"),
    ("StrictHostKeyChecking no", True, True, ""),
    ("", True, True, ""),
    ("", False, False, "pass --accept-new-host-keys"),
])
def test_strict_host_key_checking_is_never_weaker_than_ours(
    sshd_server: Server, tmp_path: Path, setting: str, flag: bool, accepted: bool, words: str
) -> None:
    known = tmp_path / "known_hosts"
    config = config_for(sshd_server, tmp_path / "config", "strict", *filter(None, [setting]),
                        known=known)
    if accepted:
        assert run_on("strict", config, accept_new_host_keys=flag) == f"{sshd_server.user}\n"
        assert sshd_server.host_pub.split()[1] in known.read_text()
        return
    assert words in refused("strict", config, accept_new_host_keys=flag)
    assert not known.exists()


# -- host keys of every type ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_server() -> Iterator[Server]:
    reason = sshd_helpers.unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = sshd_helpers.start_server(host_keys=("rsa",), options=RSA_ONLY)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def every_key_server() -> Iterator[Server]:
    reason = sshd_helpers.unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = sshd_helpers.start_server(host_keys=("ed25519", "ecdsa", "rsa"))
    yield server
    server.stop()


def other_key(tmp_path: Path, kind: str) -> str:
    """The type and base64 of a key no server here has."""
    pub = sshd_helpers.keygen_typed(tmp_path / f"other_{kind}", kind, "other")
    return " ".join(pub.split()[:2])


def test_rsa_only_server(rsa_server: Server, tmp_path: Path) -> None:
    assert rsa_server.host_pub.startswith("ssh-rsa ")
    config = config_for(rsa_server, tmp_path / "config", "rsaonly")
    assert run_on("rsaonly", config) == f"{rsa_server.user}\n"
    assert host_key_algorithm("rsaonly", config) in ("rsa-sha2-512", "rsa-sha2-256")


def test_rsa_line_next_to_the_right_ed25519_line(sshd_server: Server, tmp_path: Path) -> None:
    """Many known_hosts files hold an old ssh-rsa line for a host: OpenSSH still connects."""
    known = tmp_path / "known_hosts"
    name = f"[127.0.0.1]:{sshd_server.port}"
    known.write_text(f"{name} {other_key(tmp_path, 'rsa')}\n{sshd_server.known_hosts_line}")
    config = config_for(sshd_server, tmp_path / "config", "mixed", known=known)
    assert run_on("mixed", config) == f"{sshd_server.user}\n"
    assert host_key_algorithm("mixed", config) == "ssh-ed25519"
    openssh = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", "mixed", "true"],
                             capture_output=True, timeout=30)
    assert openssh.returncode == 0, openssh.stderr  # the same files work for OpenSSH


def test_rsa_server_with_rsa_and_ed25519_lines(rsa_server: Server, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    name = f"[127.0.0.1]:{rsa_server.port}"
    known.write_text(f"{name} {other_key(tmp_path, 'ed25519')}\n{rsa_server.known_hosts_line}")
    config = config_for(rsa_server, tmp_path / "config", "rsamixed", known=known)
    assert run_on("rsamixed", config) == f"{rsa_server.user}\n"


def test_changed_rsa_key_is_refused(rsa_server: Server, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{rsa_server.port} {other_key(tmp_path, 'rsa')}\n")
    config = config_for(rsa_server, tmp_path / "config", "rsachanged", known=known)
    assert "host key CHANGED" in refused("rsachanged", config, accept_new_host_keys=True)


@pytest.mark.parametrize(("kind", "algorithms"), [
    ("ssh-rsa", ("rsa-sha2-512", "rsa-sha2-256")),
    ("ecdsa-sha2-nistp256", ("ecdsa-sha2-nistp256",)),
    ("ssh-ed25519", ("ssh-ed25519",)),
])
def test_the_known_key_type_is_the_one_asked_for(every_key_server: Server, tmp_path: Path,
                                                 kind: str, algorithms: tuple[str, ...]) -> None:
    """A server with three host keys; known_hosts knows one: that one is negotiated."""
    [line] = [p for p in every_key_server.host_pubs if p.startswith(kind + " ")]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{every_key_server.port} {' '.join(line.split()[:2])}\n")
    config = config_for(every_key_server, tmp_path / "config", "multi", known=known)
    assert host_key_algorithm("multi", config) in algorithms
    assert run_on("multi", config) == f"{every_key_server.user}\n"


def test_revoked_key_is_refused(sshd_server: Server, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    revoked = " ".join(sshd_server.host_pub.split()[:2])
    known.write_text(f"{sshd_server.known_hosts_line}@revoked * {revoked}\n")
    config = config_for(sshd_server, tmp_path / "config", "revoked", known=known)
    assert "@revoked" in refused("revoked", config)


# -- failures are one line -----------------------------------------------------------------------


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A TCP server that accepts and never says a word (no SSH banner)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    for conn in held:
        conn.close()


def test_banner_timeout_is_one_line(silent_port: int, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(f"Host mute\n  HostName 127.0.0.1\n  Port {silent_port}\n"
                      f"  ConnectTimeout 1\n  UserKnownHostsFile {tmp_path / 'kh'}\n")
    book = tmp_path / "book.md"
    book.write_text("# Mute\n\n```bash {on=mute}\necho hi\n```\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "runbook_engine", "run", "--yes", "--ssh-config", str(config),
         "--transcript", str(tmp_path / "t.jsonl"), str(book)],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 1, said
    assert "Traceback" not in said and "paramiko" not in said and "Exception" not in said, said
    lines = [ln for ln in said.splitlines() if "no SSH answer within 1s" in ln]
    assert len(lines) == 1, said


def test_lines_paramiko_cannot_read_are_skipped(sshd_server: Server, tmp_path: Path) -> None:
    """OpenSSH skips known_hosts lines it cannot use; so do we (no traceback, no refusal)."""
    known = tmp_path / "known_hosts"
    name = f"[127.0.0.1]:{sshd_server.port}"
    known.write_text(
        f"{name} ssh-ed25519 not-base64!!\n"
        f"{name} sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t\n"
        f"@cert-authority *.example.com {other_key(tmp_path, 'ed25519')}\n"
        f"{name}\n# a comment\n{sshd_server.known_hosts_line}")
    config = config_for(sshd_server, tmp_path / "config", "odd", known=known)
    assert run_on("odd", config) == f"{sshd_server.user}\n"


def test_host_key_alias_is_used_as_written(sshd_server: Server, tmp_path: Path) -> None:
    """As ssh: HostKeyAlias names the key in known_hosts without the port."""
    known = tmp_path / "known_hosts"
    known.write_text(f"rb-alias-name {' '.join(sshd_server.host_pub.split()[:2])}\n")
    config = config_for(sshd_server, tmp_path / "config", "aliased",
                        "HostKeyAlias rb-alias-name", known=known)
    assert run_on("aliased", config) == f"{sshd_server.user}\n"
    openssh = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", "aliased", "true"],
                             capture_output=True, timeout=30)
    assert openssh.returncode == 0, openssh.stderr
