"""on= resolution and Ansible inventories (INI and YAML)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_engine.inventory import expand_ranges, load_inventory
from runbook_engine.model import LOCAL, HostTarget, LoadError, Runbook
from runbook_engine.targets import parse_spec, resolve_targets, target_names

RUNBOOK = Runbook(
    path="rb.md", title="t", steps=(),
    hosts={"web": (HostTarget("web1"), HostTarget("web2", hostname="10.0.0.2", user="ops"))},
)

INI = """\
# comment
bastion ansible_host=192.0.2.1 ansible_user=jump

[web]
web[01:03].example.com ansible_user=deploy
app1 ansible_host=10.1.1.1 ansible_port=2222 ansible_ssh_private_key_file=~/.ssh/app

[db]
db1

[db:vars]
ansible_user=postgres

[prod:children]
web
db
"""

YAML = """\
all:
  hosts:
    bastion:
      ansible_host: 192.0.2.1
  children:
    prod:
      children:
        web:
          hosts:
            web1: {ansible_user: deploy}
            app1: {ansible_host: 10.1.1.1, ansible_port: 2222}
        db:
          hosts:
            db1:
          vars:
            ansible_user: postgres
"""


def test_local_and_empty() -> None:
    assert resolve_targets(RUNBOOK, []) == [LOCAL]
    assert resolve_targets(RUNBOOK, ()) == [LOCAL]
    assert resolve_targets(RUNBOOK, ["localhost", "local"]) == [LOCAL]


def test_front_matter_group_and_dedup_keep_order() -> None:
    got = resolve_targets(RUNBOOK, ["web", "web1", "other"])
    assert [t.name for t in got] == ["web1", "web2", "other"]
    assert got[1].user == "ops" and got[1].hostname == "10.0.0.2"


@pytest.mark.parametrize(("spec", "host", "user", "port"), [
    ("deploy@example.com:2200", "example.com", "deploy", 2200),
    ("example.com:22", "example.com", None, 22),
    ("root@10.0.0.1", "10.0.0.1", "root", None),
    ("ops@[::1]:2222", "::1", "ops", 2222),
])
def test_explicit_specs(spec: str, host: str, user: str | None, port: int | None) -> None:
    target = parse_spec(spec)
    assert (target.name, target.hostname, target.user, target.port) == (spec, host, user, port)
    assert not target.is_local


def test_alias_is_left_for_ssh_config() -> None:
    assert parse_spec("web-7") == HostTarget(name="web-7")
    assert target_names(RUNBOOK, ["web-7,web-8", "web-7"]) == ["web-7", "web-8"]


def test_ini_inventory(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text(INI)
    inv = load_inventory(str(path))
    web = inv.group("web")
    assert web is not None
    assert [t.name for t in web] == ["web01.example.com", "web02.example.com",
                                      "web03.example.com", "app1"]
    assert web[0].user == "deploy" and web[0].hostname is None
    assert web[3] == HostTarget("app1", "10.1.1.1", None, 2222, "~/.ssh/app")
    prod = inv.group("prod")
    assert prod is not None and [t.name for t in prod][-1] == "db1"
    assert prod[-1].user == "postgres"  # group vars apply to members
    all_hosts = inv.group("all")
    assert all_hosts is not None and len(all_hosts) == 6
    assert inv.group("bastion") == [HostTarget("bastion", "192.0.2.1", "jump")]
    assert inv.group("nope") is None
    names = target_names(RUNBOOK, ["db", "bastion", "unknown-alias"], inv)
    assert names == ["db1", "bastion", "unknown-alias"]


def test_yaml_inventory(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(YAML)
    inv = load_inventory(str(path))
    prod = resolve_targets(RUNBOOK, ["prod"], inv)
    assert [t.name for t in prod] == ["web1", "app1", "db1"]
    assert prod[1].port == 2222 and prod[2].user == "postgres"
    assert [t.name for t in inv.group("all") or []] == ["bastion", "web1", "app1", "db1"]
    # front matter groups win over inventory groups of the same name
    assert [t.name for t in resolve_targets(RUNBOOK, ["web"], inv)] == ["web1", "web2"]


def test_ranges() -> None:
    assert expand_ranges("db[8:10]") == ["db8", "db9", "db10"]
    assert expand_ranges("n[01:02]-[1:2]") == ["n01-1", "n01-2", "n02-1", "n02-2"]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("[web]\nweb1 ansible_user\n", 2, "name=value"),
    ("[web\nweb1\n", 1, "unterminated"),
    ("[web:bogus]\n", 1, "unknown section"),
])
def test_ini_errors_have_path_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "bad.ini"
    path.write_text(text)
    with pytest.raises(LoadError) as info:
        load_inventory(str(path))
    assert str(info.value).startswith(f"{path}:{line}: ") and words in str(info.value)


def test_yaml_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("all:\n  hosts: [\n")
    with pytest.raises(LoadError, match="invalid YAML"):
        load_inventory(str(path))
    with pytest.raises(LoadError, match="cannot read inventory"):
        load_inventory(str(tmp_path / "missing.ini"))
