"""Inventories as operators write them: ranges, typed vars, group_vars/host_vars folders, host
lists, bounded YAML, and dynamic ones through ansible-inventory (when it is installed)."""

from __future__ import annotations

import shutil
import stat
import sys
import threading
import time
from pathlib import Path

import pytest
import sshd as sshd_helpers

from runbook_engine.inventory import expand_ranges, load_inventory
from runbook_engine.model import HostTarget, LoadError, Runbook
from runbook_engine.runners.base import Command
from runbook_engine.targets import resolve_targets

BOOK = Runbook(path="rb.md", title="t", steps=())


@pytest.mark.parametrize(("pattern", "names"), [
    ("web[01:03]", ["web01", "web02", "web03"]),
    ("db[8:10].lan", ["db8.lan", "db9.lan", "db10.lan"]),
    ("rack[a:c]", ["racka", "rackb", "rackc"]),
    ("n[0:6:2]", ["n0", "n2", "n4", "n6"]),
    ("n[:2]", ["n0", "n1", "n2"]),
    ("s[A:E:2]-[1:2]", ["sA-1", "sA-2", "sC-1", "sC-2", "sE-1", "sE-2"]),
    ("plain.example.com", ["plain.example.com"]),
])
def test_ranges(pattern: str, names: list[str]) -> None:
    assert expand_ranges(pattern) == names


@pytest.mark.parametrize(("pattern", "words"), [
    ("w[5:1]", "ends before"), ("w[a:3]", "mixes"), ("w[01:100]", "one width"),
    ("w[0:9:0]", "step"), ("w[0:99999999]", "more than"), ("w[0:999][0:999]", "more than"),
])
def test_bad_ranges(pattern: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        expand_ranges(pattern)


def test_bad_range_in_a_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("[web]\nweb1\nweb[9:1]\n")
    with pytest.raises(LoadError) as info:
        load_inventory(str(path))
    assert str(info.value).startswith(f"{path}:3: ")


INI = """\
[web]
web[01:02] ansible_user="deploy" weight=5 canary=True note='two words'
app:2222 tier=front

[web:vars]
ansible_port="2200"
http_port=8080
env='prod'
greeting="hello world"
plain=yes

[all:vars]
ansible_user=nobody
"""


def test_ini_values_are_typed_and_unquoted(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text(INI)
    inv = load_inventory(str(path))
    web01 = inv.vars_of("web01")
    assert web01["ansible_user"] == "deploy" and web01["weight"] == 5
    assert web01["canary"] is True and web01["note"] == "two words"
    assert web01["http_port"] == 8080 and web01["env"] == "prod"
    assert web01["greeting"] == "hello world" and web01["plain"] == "yes"
    assert inv.target("web01") == HostTarget("web01", None, "deploy", 2200, None)
    # host:port shorthand wins over the group's port; all:vars is the weakest
    assert inv.target("app") == HostTarget("app", None, "nobody", 2222, None)


def test_yaml_ranges_types_and_vars_folders(tmp_path: Path) -> None:
    (tmp_path / "inventory.yml").write_text(
        "all:\n"
        "  children:\n"
        "    web:\n"
        "      hosts:\n"
        "        web[1:3]:\n"
        "        lb[a:b]: {ansible_port: 2201}\n"
        "      vars: {ansible_user: deploy, pool: \"blue\"}\n"
        "    db:\n"
        "      hosts: {db1: null}\n"
    )
    group_vars = tmp_path / "group_vars"
    (group_vars / "web").mkdir(parents=True)
    (group_vars / "all.yml").write_text("ntp: pool.ntp.org\nansible_user: root\n")
    (group_vars / "web" / "10-main.yml").write_text("pool: green\nreplicas: 3\n")
    (group_vars / "web" / "20-vault.yaml").write_text("replicas: 4\n")
    (group_vars / "db.json").write_text('{"ansible_port": 5432}')
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "web2.yml").write_text("ansible_ssh_private_key_file: ~/.ssh/w2\n")
    (tmp_path / "host_vars" / "ghost.yml").write_text("x: 1\n")  # not in the inventory
    inv = load_inventory(str(tmp_path / "inventory.yml"))
    web = resolve_targets(BOOK, ["web"], inv)
    assert [t.name for t in web] == ["web1", "web2", "web3", "lba", "lbb"]
    assert inv.vars_of("web1") == {"ntp": "pool.ntp.org", "ansible_user": "deploy",
                                   "pool": "green", "replicas": 4}
    assert web[1] == HostTarget("web2", None, "deploy", None, "~/.ssh/w2")
    assert web[3].port == 2201
    assert inv.target("db1") == HostTarget("db1", None, "root", 5432, None)
    assert inv.group("ghost") is None


def test_a_folder_and_a_host_list(tmp_path: Path) -> None:
    (tmp_path / "10-web").write_text("[web]\nweb1\n")
    (tmp_path / "20-db.yml").write_text("db:\n  hosts:\n    db1:\n")
    (tmp_path / "ansible.cfg.ini").write_text("[defaults]\nnot_a_host\n")  # skipped, as Ansible
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "db").write_text("ansible_user: pg\n")
    inv = load_inventory(str(tmp_path))
    assert [t.name for t in inv.group("all") or []] == ["web1", "db1"]
    assert inv.target("db1").user == "pg"
    listed = load_inventory("a1.example.com, a2:2222,")
    assert [(t.name, t.port) for t in listed.group("all") or []] == [
        ("a1.example.com", None), ("a2", 2222)]


@pytest.mark.parametrize("text", [
    # a billion laughs with few aliases, and a recursive one
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
    "all: &x\n  hosts: *x\n",
])
def test_yaml_expansion_is_bounded(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bomb.yml"
    path.write_text(text)
    started = time.monotonic()
    with pytest.raises(LoadError, match="YAML"):
        load_inventory(str(path))
    assert time.monotonic() - started < 2


def test_yaml_inventory_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text("web:\n  hosts: [web1, web2]\n")
    with pytest.raises(LoadError, match="hosts of 'web' must be a mapping"):
        load_inventory(str(path))
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text("- not\n- a mapping\n")
    path.write_text("web:\n  hosts: {web1: }\n")
    with pytest.raises(LoadError) as info:
        load_inventory(str(path))
    assert str(info.value).startswith(str(tmp_path / "group_vars" / "web.yml"))


def test_a_dynamic_inventory_without_ansible_says_so(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no ansible-inventory on it
    path = tmp_path / "aws_ec2.yml"
    path.write_text("plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n")
    with pytest.raises(LoadError, match="needs ansible-inventory"):
        load_inventory(str(path))


SCRIPT = """\
import json, sys
print(json.dumps({
    "web": {"hosts": ["dyn1", "dyn2"], "vars": {"ansible_user": "deploy"}},
    "db": ["dyn3"],
    "_meta": {"hostvars": {"dyn2": {"ansible_port": 2222}}},
}))
"""


@pytest.mark.skipif(shutil.which("ansible-inventory") is None,
                    reason="ansible-inventory not installed (pip install ansible-core)")
def test_a_script_through_ansible_inventory(tmp_path: Path) -> None:
    script = tmp_path / "inventory.py"
    script.write_text(f"#!{sys.executable}\n{SCRIPT}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    inv = load_inventory(str(script))
    web = inv.group("web")
    assert web == [HostTarget("dyn1", None, "deploy"), HostTarget("dyn2", None, "deploy", 2222)]
    assert [t.name for t in inv.group("db") or []] == ["dyn3"]
    plugin = tmp_path / "generated.yml"  # a plugin config: hosts made from layers, no network
    plugin.write_text(
        "plugin: ansible.builtin.generator\n"
        "hosts:\n  name: '{{ app }}-{{ env }}'\n  parents:\n    - name: '{{ app }}'\n"
        "layers:\n  app: [web, api]\n  env: [dev, prod]\n")
    generated = load_inventory(str(plugin))
    assert [t.name for t in generated.group("api") or []] == ["api-dev", "api-prod"]
    broken = tmp_path / "broken.yml"
    broken.write_text("plugin: no.such.plugin\n")
    with pytest.raises(LoadError, match="ansible-inventory cannot read it"):
        load_inventory(str(broken))


def test_connection_vars_without_ansible_host_reach_the_host(
    sshd_server: sshd_helpers.SSHServer, tmp_path: Path
) -> None:
    """ansible_user/port/key on a host named by its alias: the ssh config only renames it."""
    from runbook_engine.runners.ssh import SSHRunner

    inventory = tmp_path / "hosts"
    inventory.write_text(f"[db]\ndbalias ansible_port={sshd_server.port}\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "db.yml").write_text(
        f"ansible_user: '{sshd_server.user}'\n"
        f"ansible_ssh_private_key_file: {sshd_server.key_path}\n")
    config = tmp_path / "config"  # no User, Port or IdentityFile for it here
    config.write_text(f"Host dbalias\n  HostName 127.0.0.1\n  IdentitiesOnly yes\n"
                      f"  UserKnownHostsFile {sshd_server.known_hosts}\n")
    [target] = resolve_targets(BOOK, ["db"], load_inventory(str(inventory)))
    runner = SSHRunner(target, ssh_config_path=str(config))
    try:
        result = runner.run(Command(code="id -un; echo $SSH_CONNECTION", step_id="s1",
                                    run_id="r1"), lambda stream, text: None, threading.Event())
        user, connection = result.stdout.splitlines()
        assert user == sshd_server.user
        assert connection.split()[-1] == str(sshd_server.port)
    finally:
        runner.close()
