"""`runbook run` against a fleet of SSH aliases on the test sshd: fan-out, batches, host keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}


def run(book: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                           "--transcript", str(cwd / f"{uuid.uuid4().hex}.jsonl"), *args],
                          capture_output=True, text=True, env=ENV, cwd=cwd, timeout=120)


def events(cwd: Path) -> list[dict]:
    (path,) = cwd.glob("*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_streamed_fan_out_prefixes_hosts_and_maps_captures(tmp_path: Path, sshd_server) -> None:  # type: ignore[no-untyped-def]
    book = tmp_path / "fleet.md"
    book.write_text("---\nhosts:\n  web: [web1, web2, web3]\n---\n# Fleet\n\n"
                    "```bash {#who on=web capture=user}\nid -un\n```\n\n"
                    "```bash {#report}\necho \"web2 ran as {{ user['web2'] }}; "
                    "web3 said {{ steps.who.hosts.web3.stdout | trim }}\"\n```\n")
    result = run(book, "--ssh-config", str(sshd_server.ssh_config), "--output", "stream",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for host in ("web1", "web2", "web3"):
        assert f"{host} | {sshd_server.user}" in result.stdout
    assert f"web2 ran as {sshd_server.user}; web3 said {sshd_server.user}" in result.stdout
    who = next(e for e in events(tmp_path) if e["event"] == "step_finished" and e["step"] == "who")
    assert set(who["hosts"]) == {"web1", "web2", "web3"}
    assert all(h["status"] == "ok" for h in who["hosts"].values())


def test_serial_batches_stop_after_a_failure(tmp_path: Path, sshd_server) -> None:  # type: ignore[no-untyped-def]
    lock = f"/tmp/runbook-fleet-test-{uuid.uuid4().hex}"
    book = tmp_path / "rolling.md"
    book.write_text("---\nhosts:\n  web: [web1, web2, web3]\n---\n# Rolling\n\n"
                    f"```bash {{#restart on=web serial=1}}\nmkdir {lock}\n```\n")
    result = run(book, "--ssh-config", str(sshd_server.ssh_config), cwd=tmp_path)
    subprocess.run(["rm", "-rf", lock], check=False)
    assert result.returncode == 1
    restart = next(e for e in events(tmp_path) if e["event"] == "step_finished")
    statuses = {host: r["status"] for host, r in restart["hosts"].items()}
    assert statuses["web1"] == "ok" and statuses["web2"] == "failed"
    assert statuses.get("web3", "skipped") == "skipped"  # its batch never ran


def test_unknown_host_key_refused_with_one_line_then_accepted(tmp_path: Path,
                                                              sshd_server) -> None:  # type: ignore[no-untyped-def]
    known = tmp_path / "known_hosts"
    known.write_text("")
    config = tmp_path / "ssh_config"
    config.write_text(sshd_server.ssh_config.read_text().replace(
        str(sshd_server.known_hosts), str(known)))
    marker = f"/tmp/runbook-hostkey-test-{uuid.uuid4().hex}"
    book = tmp_path / "one.md"
    book.write_text(f"# One\n\n```bash {{#touch on=web1}}\ntouch {marker}\n```\n")
    refused = run(book, "--ssh-config", str(config), cwd=tmp_path)
    assert refused.returncode == 1
    assert "web1" in refused.stderr + refused.stdout
    assert "--accept-new-host-keys" in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr
    assert not Path(marker).exists()  # nothing ran on a host whose key was refused
    accepted = run(book, "--ssh-config", str(config), "--accept-new-host-keys", cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert Path(marker).exists() and known.read_text().strip()
    Path(marker).unlink()
