"""Ansible inventories (INI and YAML) as host groups: children, vars, ansible_* connection vars."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .model import HostTarget, LoadError

_RANGE = re.compile(r"\[([0-9]+):([0-9]+)\]")
_CONNECTION_VARS = ("ansible_host", "ansible_user", "ansible_port", "ansible_ssh_private_key_file")


@dataclass
class Inventory:
    """Groups of hosts. ``group('all')`` is every host; a host name is also a group of one."""

    path: str = "<inventory>"
    host_vars: dict[str, dict[str, str]] = field(default_factory=dict)  # host -> its own vars
    members: dict[str, list[str]] = field(default_factory=dict)  # group -> direct hosts
    children: dict[str, list[str]] = field(default_factory=dict)  # group -> child groups
    group_vars: dict[str, dict[str, str]] = field(default_factory=dict)

    def add_host(self, group: str, name: str, variables: Mapping[str, Any]) -> None:
        self.host_vars.setdefault(name, {}).update({k: str(v) for k, v in variables.items()})
        hosts = self.members.setdefault(group, [])
        if name not in hosts:
            hosts.append(name)

    def add_child(self, group: str, child: str) -> None:
        kids = self.children.setdefault(group, [])
        self.members.setdefault(child, [])
        if child not in kids:
            kids.append(child)

    def _hosts_of(self, group: str, seen: set[str]) -> list[str]:
        if group in seen:
            return []  # a cycle in children: each group counted once
        seen.add(group)
        names = list(self.members.get(group, []))
        for child in self.children.get(group, []):
            names += self._hosts_of(child, seen)
        return list(dict.fromkeys(names))

    def _groups_of(self, host: str) -> list[str]:
        """Groups containing ``host``, parents before children (so children's vars win)."""
        found = [g for g in self.members if host in self._hosts_of(g, set())]
        return sorted(found, key=self._depth)

    def _depth(self, group: str) -> int:
        parents = [g for g, kids in self.children.items() if group in kids]
        return 1 + max((self._depth(p) for p in parents if p != group), default=0)

    def target(self, host: str) -> HostTarget:
        merged: dict[str, str] = dict(self.group_vars.get("all", {}))
        for group in self._groups_of(host):
            merged.update(self.group_vars.get(group, {}))
        merged.update(self.host_vars.get(host, {}))
        port = merged.get("ansible_port")
        return HostTarget(
            name=host,
            hostname=merged.get("ansible_host"),
            user=merged.get("ansible_user"),
            port=int(port) if port and port.isdigit() else None,
            key_file=merged.get("ansible_ssh_private_key_file"),
        )

    def group(self, name: str) -> list[HostTarget] | None:
        """The hosts of a group (or the one host of that name); None when the name is unknown."""
        if name == "all":
            return [self.target(h) for h in self.host_vars]
        if name in self.members or name in self.children:
            return [self.target(h) for h in self._hosts_of(name, set())]
        if name in self.host_vars:
            return [self.target(name)]
        return None


def expand_ranges(pattern: str) -> list[str]:
    """``web[01:03]`` → web01, web02, web03 (Ansible numeric ranges; leading zeros kept)."""
    match = _RANGE.search(pattern)
    if not match:
        return [pattern]
    lo, hi = match.group(1), match.group(2)
    width = len(lo) if lo.startswith("0") else 0
    head, tail = pattern[: match.start()], pattern[match.end():]
    names: list[str] = []
    for n in range(int(lo), int(hi) + 1):
        names += expand_ranges(f"{head}{str(n).zfill(width)}{tail}")
    return names


def _parse_ini(text: str, path: str) -> Inventory:
    inv = Inventory(path=path)
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise LoadError(f"unterminated section header {line!r}", path, number)
            section, _, kind = line[1:-1].partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "children", "vars"):
                raise LoadError(f"unknown section kind ':{kind}'", path, number)
            inv.members.setdefault(section, [])
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise LoadError(f"cannot parse line: {exc}", path, number) from None
        if kind == "children":
            inv.add_child(section, words[0])
        elif kind == "vars":
            name, sep, value = line.partition("=")
            if not sep:
                raise LoadError(f"expected name=value in [{section}:vars]", path, number)
            inv.group_vars.setdefault(section, {})[name.strip()] = value.strip()
        else:
            pairs = [w.partition("=") for w in words[1:]]
            bad = [w for w, sep, _ in pairs if not sep]
            if bad:
                raise LoadError(f"expected name=value after the host, got {bad[0]!r}", path, number)
            for host in expand_ranges(words[0]):
                inv.add_host(section, host, {k: v for k, _, v in pairs})
    return inv


def _walk_yaml(inv: Inventory, name: str, body: Any, path: str) -> None:
    if body is None:
        inv.members.setdefault(name, [])
        return
    if not isinstance(body, dict):
        raise LoadError(f"group {name!r} must be a mapping (hosts/children/vars)", path)
    inv.members.setdefault(name, [])
    for host, variables in (body.get("hosts") or {}).items():
        for expanded in expand_ranges(str(host)):
            inv.add_host(name, expanded, variables or {})
    if body.get("vars"):
        inv.group_vars.setdefault(name, {}).update({k: str(v) for k, v in body["vars"].items()})
    for child, child_body in (body.get("children") or {}).items():
        inv.add_child(name, str(child))
        _walk_yaml(inv, str(child), child_body, path)


def _parse_yaml(text: str, path: str) -> Inventory:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise LoadError(f"invalid YAML: {exc}", path, mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise LoadError("an inventory must be a mapping of groups", path, 1)
    inv = Inventory(path=path)
    for name, body in data.items():
        _walk_yaml(inv, str(name), body, path)
    return inv


def load_inventory(path: str) -> Inventory:
    """Load an Ansible inventory file, INI or YAML (by extension, else by content)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(f"cannot read inventory: {exc}", path) from None
    is_yaml = path.endswith((".yml", ".yaml")) or re.match(r"\s*[\w.-]+:\s*$", text.lstrip()
                                                            .split("\n", 1)[0] + "") is not None
    return _parse_yaml(text, path) if is_yaml else _parse_ini(text, path)
