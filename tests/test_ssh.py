"""SSHRunner against a real OpenSSH sshd: one connection, host keys, faults (the runner
contract every runner meets is tests/test_runner_contract.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sshd as sshd_helpers

from runbook_engine.model import HostTarget
from runbook_engine.runners.base import Command, Result, Runner, TargetError
from runbook_engine.runners.ssh import SSHRunner

Server = sshd_helpers.SSHServer


def run(runner: Runner, code: str, cancel: threading.Event | None = None, **kw: object) -> Result:
    chunks: list[tuple[str, str]] = []
    result = runner.run(
        Command(code=code, step_id=str(kw.pop("step_id", "s1")), run_id="r1",
                **kw),  # type: ignore[arg-type]
        lambda stream, text: chunks.append((stream, text)),
        cancel or threading.Event(),
    )
    # what was streamed is what was kept (small outputs)
    if not result.stdout_truncated:
        assert "".join(t for s, t in chunks if s == "stdout") == result.stdout
        assert "".join(t for s, t in chunks if s == "stderr") == result.stderr
    return result


def ssh_runner(server: Server, alias: str = "web1", **kw: object) -> SSHRunner:
    return SSHRunner(HostTarget(alias), ssh_config_path=str(server.ssh_config), **kw)  # type: ignore[arg-type]


# -- SSH only -----------------------------------------------------------------------------------


def test_one_connection_for_every_step(sshd_server: Server) -> None:
    runner = ssh_runner(sshd_server)
    seen = {run(runner, "echo $SSH_CONNECTION").stdout for _ in range(5)}
    assert len(seen) == 1 and seen.pop().startswith("127.0.0.1 ")
    assert run(runner, "id -un").stdout == f"{sshd_server.user}\n"
    tmp = Path(runner.tmp)  # the test sshd is on this machine: its temp dir is visible here
    assert tmp.is_dir() and tmp.stat().st_mode & 0o777 == 0o700
    runner.close()
    for _ in range(50):
        if not tmp.exists():
            break
        time.sleep(0.05)
    assert not tmp.exists()


def test_proxy_jump_through_the_same_server(sshd_server: Server) -> None:
    runner = ssh_runner(sshd_server, "jumped")
    result = run(runner, "echo via $SSH_CONNECTION")
    assert result.status == "ok" and result.stdout.startswith("via 127.0.0.1 ")
    assert len(runner._chain) == 2  # the jump host's transport, then the target's
    runner.close()


def test_parallel_runners(sshd_server: Server) -> None:
    names = [f"web{i}" for i in range(1, 21)]
    runners = [ssh_runner(sshd_server, name) for name in names]
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda r: run(r, f"echo {r.name}; sleep 0.2"), runners))
    assert [r.stdout for r in results] == [f"{name}\n" for name in names]
    for runner in runners:
        runner.close()


def write_config(path: Path, server: Server, known: Path, key: Path | None = None) -> Path:
    path.write_text(
        f"Host t\n  HostName 127.0.0.1\n  Port {server.port}\n  User {server.user}\n"
        f"  IdentityFile {key or server.key_path}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known}\n"
    )
    return path


def connect_error(config: Path, **kw: object) -> str:
    runner = SSHRunner(HostTarget("t"), ssh_config_path=str(config), connect_timeout=3, **kw)  # type: ignore[arg-type]
    with pytest.raises(TargetError) as info:
        runner.connect()
    message = str(info.value)
    assert "\n" not in message and message.startswith("t: ")
    return message


def test_unknown_host_key_refused_then_accepted(sshd_server: Server, tmp_path: Path) -> None:
    known = tmp_path / "sub" / "known_hosts"
    config = write_config(tmp_path / "config", sshd_server, known)
    message = connect_error(config)
    assert "unknown host key" in message and sshd_server.host_fingerprint in message
    assert "--accept-new-host-keys" in message and not known.exists()
    runner = SSHRunner(HostTarget("t"), ssh_config_path=str(config), accept_new_host_keys=True)
    assert run(runner, "echo in").stdout == "in\n"
    runner.close()
    assert known.read_text() == sshd_server.known_hosts_line
    assert known.stat().st_mode & 0o777 == 0o600
    # now known: a plain connection works
    again = SSHRunner(HostTarget("t"), ssh_config_path=str(config))
    again.connect()
    again.close()


def test_changed_host_key_always_refused(sshd_server: Server, tmp_path: Path) -> None:
    other = sshd_helpers.keygen(tmp_path / "other", "other")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd_server.port} {' '.join(other.split()[:2])}\n")
    config = write_config(tmp_path / "config", sshd_server, known)
    message = connect_error(config, accept_new_host_keys=True)
    assert "host key CHANGED" in message and "refusing to connect" in message
    assert known.read_text().count("\n") == 1  # nothing added


def test_hashed_known_hosts(sshd_server: Server, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd_server.known_hosts_line)
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    assert known.read_text().startswith("|1|")
    runner = SSHRunner(HostTarget("t"),
                       ssh_config_path=str(write_config(tmp_path / "c", sshd_server, known)))
    assert run(runner, "echo ok").stdout == "ok\n"
    runner.close()


def test_refused_port(sshd_server: Server, tmp_path: Path) -> None:
    port = sshd_helpers.free_port()
    runner = SSHRunner(HostTarget(f"rbtest@127.0.0.1:{port}"))
    with pytest.raises(TargetError, match=f"connection refused \\(127.0.0.1:{port}\\)"):
        runner.connect()
    result = run(runner, "echo never")  # run() turns the fault into an error Result
    assert result.status == "error" and (result.error or "").startswith("connection refused")


def test_dns_failure() -> None:
    runner = SSHRunner(HostTarget("x", hostname="nonexistent.invalid"), ssh_config_path="/dev/null")
    with pytest.raises(TargetError, match="x: cannot resolve host name 'nonexistent.invalid'"):
        runner.connect()


def test_bad_key_is_an_auth_failure(sshd_server: Server, tmp_path: Path) -> None:
    sshd_helpers.keygen(tmp_path / "stranger", "stranger")
    config = write_config(tmp_path / "c", sshd_server, sshd_server.known_hosts,
                          key=tmp_path / "stranger")
    message = connect_error(config)
    assert f"authentication failed for user {sshd_server.user}" in message


def test_silent_server_times_out(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        runner = SSHRunner(HostTarget(f"u@127.0.0.1:{port}"), ssh_config_path="/dev/null",
                           connect_timeout=0.5)
        started = time.monotonic()
        with pytest.raises(TargetError, match="SSH handshake failed"):
            runner.connect()
        assert time.monotonic() - started < 5


def test_encrypted_key_asks_passphrase_once(sshd_server: Server, tmp_path: Path) -> None:
    pub = sshd_helpers.keygen(tmp_path / "locked", "locked", passphrase="s3cret phrase")
    with (sshd_server.root / "authorized_keys").open("a") as handle:
        handle.write(pub + "\n")
    config = write_config(tmp_path / "c", sshd_server, sshd_server.known_hosts,
                          key=tmp_path / "locked")
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "s3cret phrase"

    runners = [SSHRunner(HostTarget("t"), ssh_config_path=str(config), passphrase_prompt=prompt)
               for _ in range(2)]
    for runner in runners:
        assert run(runner, "echo unlocked").stdout == "unlocked\n"
        runner.close()
    assert len(asked) == 1 and str(tmp_path / "locked") in asked[0]


def test_sshd_killed_during_a_step(sshd_alive: Server) -> None:
    runner = ssh_runner(sshd_alive)
    runner.connect()
    threading.Timer(1.0, sshd_alive.kill).start()
    started = time.monotonic()
    result = run(runner, "echo begin; sleep 5")
    assert result.status == "error" and result.error == "connection lost"
    assert result.exit_code is None and result.stdout == "begin\n"
    assert time.monotonic() - started < 4.5
    sshd_alive.start()
    retry = run(runner, "echo back")  # a retry reconnects
    assert (retry.status, retry.stdout) == ("ok", "back\n")
    runner.close()


def test_no_paramiko_in_targets() -> None:
    out = subprocess.run(
        ["python", "-c", "import sys, runbook_engine.targets, runbook_engine.inventory;"
                         "print('paramiko' in sys.modules)"],
        capture_output=True, text=True, cwd=Path(__file__).parent.parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}, check=True,
    )
    assert out.stdout.strip() == "False"


def test_ssh_config_options_are_read(tmp_path: Path) -> None:
    from runbook_engine.runners.ssh import host_config, read_config

    config = tmp_path / "config"
    config.write_text(
        "Host db\n  HostName 10.9.8.7\n  Port 2222\n  User ops\n  IdentityFile ~/k1\n"
        "  IdentityFile /k2\n  IdentitiesOnly yes\n  ProxyJump bastion,ops@jump2:2200\n"
        "  ConnectTimeout 4\n  ServerAliveInterval 15\n  UserKnownHostsFile /kh1 /kh2\n"
    )
    cfg = host_config(HostTarget("db"), read_config(str(config)), 10.0)
    assert (cfg.hostname, cfg.port, cfg.user) == ("10.9.8.7", 2222, "ops")
    assert cfg.identity_files == [os.path.expanduser("~/k1"), "/k2"] and cfg.identities_only
    assert cfg.proxy_jump == "bastion,ops@jump2:2200"
    assert (cfg.connect_timeout, cfg.keepalive) == (4.0, 15)
    assert cfg.known_hosts == ["/kh1", "/kh2"] and cfg.known_hosts_name == "[10.9.8.7]:2222"
    # explicit target fields (inventory, user@host:port) win over the config
    explicit = host_config(HostTarget("x", "db", "root", 2200, "/k0"), read_config(str(config)), 10)
    assert (explicit.user, explicit.port, explicit.identity_files[0]) == ("root", 2200, "/k0")


def test_invoke_is_imported_only_for_a_config_with_match_exec(tmp_path: Path) -> None:
    # paramiko imports invoke for `Match exec` alone (~45 ms of every start): ours waits for one
    pytest.importorskip("invoke")
    plain, matching = tmp_path / "plain", tmp_path / "matching"
    plain.write_text("Host db\n  User ops\n")
    matching.write_text(f'Match exec "test -d {tmp_path}"\n  User matched\n'
                        'Match exec "false"\n  Port 2222\n')
    probe = (
        "import sys\n"
        "from runbook_engine.model import HostTarget\n"
        "from runbook_engine.runners.ssh import host_config, read_config\n"
        "print('invoke' in sys.modules)\n"
        "print(host_config(HostTarget('db'), read_config(sys.argv[1]), 10).user)\n"
        "print('invoke' in sys.modules)\n"
        "cfg = host_config(HostTarget('db'), read_config(sys.argv[2]), 10)\n"
        "print(cfg.user, cfg.port, 'invoke' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", probe, str(plain), str(matching)],
                         capture_output=True, text=True, cwd=Path(__file__).parent.parent,
                         check=True, timeout=60)
    assert out.stdout.split("\n")[:4] == ["False", "ops", "False", "matched 22 True"], out.stderr


def test_a_fleet_reads_its_ssh_config_and_known_hosts_once(
        sshd_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from runbook_engine.runners.ssh import hostkeys, read_config

    reads: list[str] = []
    real = hostkeys._read_known
    monkeypatch.setattr(hostkeys, "_read_known", lambda path: reads.append(path) or real(path))
    config = str(sshd_server.ssh_config)
    assert read_config(config) is read_config(config)  # every runner of the fleet shares it

    def connect_all(names: list[str]) -> None:
        runners = [SSHRunner(HostTarget(name), ssh_config_path=config) for name in names]
        with ThreadPoolExecutor(len(runners)) as pool:
            list(pool.map(lambda r: r.connect(), runners))
        for runner in runners:
            runner.close()

    connect_all([f"fleet{i}" for i in range(1, 9)])
    known = str(sshd_server.known_hosts)
    assert reads.count(known) <= 1  # (none when an earlier test read this version of it)
    # a changed file is read again: a key added by hand (or by --accept-new-host-keys) counts
    before = Path(known).read_text()
    try:
        with open(known, "a") as handle:
            handle.write("other.example ssh-ed25519 "
                         "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
        reads.clear()
        connect_all(["fleet9", "fleet10"])
        assert reads.count(known) == 1
    finally:
        Path(known).write_text(before)


def test_inventory_host_over_ssh(sshd_server: Server, tmp_path: Path) -> None:
    from runbook_engine.inventory import load_inventory
    from runbook_engine.model import Runbook
    from runbook_engine.targets import resolve_targets

    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"[db]\ndb1 ansible_host=127.0.0.1 ansible_port={sshd_server.port} "
        f"ansible_user={sshd_server.user} ansible_ssh_private_key_file={sshd_server.key_path}\n"
    )
    config = tmp_path / "config"
    config.write_text(f"Host 127.0.0.1\n  UserKnownHostsFile {sshd_server.known_hosts}\n")
    book = Runbook(path="rb.md", title="t", steps=())
    [target] = resolve_targets(book, ["db"], load_inventory(str(inventory)))
    runner = SSHRunner(target, ssh_config_path=str(config))
    assert runner.name == "db1"
    assert run(runner, "id -un").stdout == f"{sshd_server.user}\n"
    runner.close()
