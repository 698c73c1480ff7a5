"""Host names from inventories and runbooks never reach the operator's ssh config unchecked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_engine.model import HostTarget
from runbook_engine.targets import parse_spec, ssh_name_problem

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["web$(touch x)", "web`id`", "-oProxyCommand=sh", "a;b", "a b",
                                  "a|b", "a&b", "a>b", "a\\b", "a'b", 'a"b', "a{b}", "a\nb"])
def test_names_openssh_refuses_are_refused(name: str) -> None:
    assert ssh_name_problem(HostTarget(name=name)) is not None
    assert ssh_name_problem(HostTarget(name="h", hostname="h", user=name)) is not None


@pytest.mark.parametrize("name", ["web1", "db-2.example.internal", "deploy@web:2222", "[::1]:22",
                                  "fe80::1%eth0", "10.0.0.7", "host_with_underscore"])
def test_ordinary_names_pass(name: str) -> None:
    assert ssh_name_problem(parse_spec(name)) is None


def test_an_inventory_host_never_reaches_match_exec(tmp_path: Path) -> None:
    sentinel = tmp_path / "ran"
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f'all:\n  hosts:\n    "web$(touch {sentinel})": {{}}\n')
    config = tmp_path / "ssh_config"
    config.write_text(f'Match exec "touch {sentinel}; echo %h"\n  User nobody\n')
    book = tmp_path / "book.md"
    book.write_text("# T\n\n```bash {on=all}\necho hi\n```\n")
    done = subprocess.run(
        [sys.executable, "-m", "runbook_engine", "run", "--yes", str(book), "--inventory",
         str(inventory), "--ssh-config", str(config), "--transcript", str(tmp_path / "t.jsonl")],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "TERM": "dumb"})
    assert not sentinel.exists()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "is not one OpenSSH accepts" in done.stdout + done.stderr
