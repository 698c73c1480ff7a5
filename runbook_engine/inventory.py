"""Ansible inventories (INI and YAML) as host groups: ranges, typed vars, ansible_* connection vars.

Where an inventory comes from (a file, a folder, ``group_vars/``, ``ansible-inventory``) is
``inventory_sources``; this module is the model and the two static formats.
"""

from __future__ import annotations

import ast
import re
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import inventory_files as files
from . import lazyre
from .model import HostTarget, LoadError

# [beg:end] or [beg:end:step]; beg may be empty (0); letters or digits, as Ansible
_RANGE = lazyre.compile(r"\[([0-9a-zA-Z]*):([0-9a-zA-Z]+)(?::([0-9]+))?\]")
MAX_HOSTS = 100_000  # one line cannot make more hosts than this (`[0:999999999]`)
_LITERAL_MAX = 10_000  # longer values stay strings (literal_eval's cost grows with nesting)
# each connection setting and the older names Ansible still reads for it
_HOST_KEYS = ("ansible_host", "ansible_ssh_host")
_USER_KEYS = ("ansible_user", "ansible_ssh_user")
_PORT_KEYS = ("ansible_port", "ansible_ssh_port")
_KEY_KEYS = ("ansible_ssh_private_key_file", "ansible_private_key_file")


@dataclass
class Inventory:
    """Groups of hosts. ``group('all')`` is every host; a host name is also a group of one.

    Variable values are typed as Ansible types them: YAML values as loaded, INI values as Python
    literals (``2222`` an int, ``"x y"`` the string without its quotes, ``True`` a bool).
    """

    path: str = "<inventory>"
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> its own vars
    members: dict[str, list[str]] = field(default_factory=dict)  # group -> direct hosts
    children: dict[str, list[str]] = field(default_factory=dict)  # group -> child groups
    group_vars: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_host(self, group: str, name: str, variables: Mapping[str, Any]) -> None:
        self.host_vars.setdefault(name, {}).update(variables)
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
        found = [g for g in self.members if g != "all" and host in self._hosts_of(g, set())]
        return sorted(found, key=lambda g: (self._depth(g, set()), g))

    def _depth(self, group: str, seen: set[str]) -> int:
        seen.add(group)
        parents = [g for g, kids in self.children.items()
                   if group in kids and g != "all" and g not in seen]
        return 1 + max((self._depth(p, seen) for p in parents), default=0)

    def vars_of(self, host: str) -> dict[str, Any]:
        """The host's variables: ``all``, then its groups (outer first), then its own."""
        merged: dict[str, Any] = dict(self.group_vars.get("all", {}))
        for group in self._groups_of(host):
            merged.update(self.group_vars.get(group, {}))
        merged.update(self.host_vars.get(host, {}))
        return merged

    def target(self, host: str) -> HostTarget:
        merged = self.vars_of(host)
        port = _first(merged, _PORT_KEYS)
        return HostTarget(
            name=host,
            hostname=_first(merged, _HOST_KEYS),
            user=_first(merged, _USER_KEYS),
            port=int(port) if port and port.isdigit() else None,
            key_file=_first(merged, _KEY_KEYS),
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


def _first(merged: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = merged.get(key)
        if value is not None and value != "":
            return str(value)
    return None


def _range_items(beg: str, end: str, step: str | None) -> list[str]:
    """One ``[beg:end:step]``: zero-padded numbers, plain numbers or letters (Ansible's rules)."""
    stride = int(step or 1)
    if stride < 1:
        raise ValueError(f"range step must be at least 1 in [{beg}:{end}:{step}]")
    beg = beg or "0"
    if beg.isdigit() != end.isdigit():
        raise ValueError(f"range [{beg}:{end}] mixes letters and numbers")
    if not beg.isdigit():
        letters = string.ascii_letters
        if len(beg) != 1 or len(end) != 1 or letters.index(beg) > letters.index(end):
            raise ValueError(f"letter range [{beg}:{end}] must be one letter to a later one")
        return list(letters[letters.index(beg):letters.index(end) + 1:stride])
    lo, hi = int(beg), int(end)
    if lo > hi:
        raise ValueError(f"range [{beg}:{end}] ends before it begins")
    if (hi - lo) // stride + 1 > MAX_HOSTS:
        raise ValueError(f"range [{beg}:{end}] makes more than {MAX_HOSTS} hosts")
    width = len(beg) if beg.startswith("0") and len(beg) > 1 else 0
    if width and len(end) != width:
        raise ValueError(f"zero-padded range [{beg}:{end}] needs begin and end of one width")
    return [str(n).zfill(width) for n in range(lo, hi + 1, stride)]


def expand_ranges(pattern: str) -> list[str]:
    """``web[01:03]`` → web01, web02, web03; ``[a:c]`` letters, ``[0:6:2]`` steps (as Ansible).

    ValueError for a malformed range or one that makes more than ``MAX_HOSTS`` names.
    """
    names = [pattern]
    while (match := _RANGE.search(names[0])) is not None:
        items = _range_items(*match.groups())
        if len(names) * len(items) > MAX_HOSTS:
            raise ValueError(f"{pattern!r} makes more than {MAX_HOSTS} hosts")
        names = [n[: match.start()] + item + n[match.end():] for n in names for item in items]
    return names


def ini_value(text: str) -> Any:
    """An INI value as Ansible reads it: a Python literal when it is one, else the text."""
    if len(text) > _LITERAL_MAX:
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return value


def split_host_port(word: str) -> tuple[str, int | None]:
    """``web1:2222`` → ("web1", 2222), the shorthand INI and YAML inventories allow."""
    host, sep, port = word.rpartition(":")
    if sep and port.isdigit() and host and ":" not in host:
        return host, int(port)
    return word, None


def _add_pattern(inv: Inventory, group: str, pattern: str, variables: dict[str, Any],
                 path: str, line: int | None) -> None:
    word, port = split_host_port(pattern)
    if port is not None:
        variables = {"ansible_port": port, **variables}
    try:
        hosts = expand_ranges(word)
    except ValueError as exc:
        raise LoadError(str(exc), path, line) from None
    for host in hosts:
        inv.add_host(group, host, variables)


def _ini_host_line(inv: Inventory, section: str, line: str, path: str, number: int) -> None:
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        raise LoadError(f"cannot parse line: {exc}", path, number) from None
    pairs = [w.partition("=") for w in words[1:]]
    bad = [w for w, sep, _ in pairs if not sep]
    if bad:
        raise LoadError(f"expected name=value after the host, got {bad[0]!r}", path, number)
    _add_pattern(inv, section, words[0], {k: ini_value(v) for k, _, v in pairs}, path, number)


def parse_ini(text: str, path: str) -> Inventory:
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
        if kind == "children":
            inv.add_child(section, line.split()[0])
        elif kind == "vars":
            name, sep, value = line.partition("=")
            if not sep:
                raise LoadError(f"expected name=value in [{section}:vars]", path, number)
            inv.group_vars.setdefault(section, {})[name.strip()] = ini_value(value.strip())
        else:
            _ini_host_line(inv, section, line, path, number)
    return inv


def _mapping(value: Any, what: str, path: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LoadError(f"{what} must be a mapping, not {type(value).__name__}", path)
    return value


def _walk_yaml(inv: Inventory, name: str, body: Any, path: str, depth: int = 0) -> None:
    inv.members.setdefault(name, [])
    if depth > 100:
        raise LoadError(f"groups nested more than 100 deep at {name!r}", path)
    body = _mapping(body, f"group {name!r}", path)
    for host, variables in _mapping(body.get("hosts"), f"hosts of {name!r}", path).items():
        own = _mapping(variables, f"variables of host {host!r}", path)
        _add_pattern(inv, name, str(host), {str(k): v for k, v in own.items()}, path, None)
    own_vars = _mapping(body.get("vars"), f"vars of {name!r}", path)
    if own_vars:
        inv.group_vars.setdefault(name, {}).update({str(k): v for k, v in own_vars.items()})
    for child, child_body in _mapping(body.get("children"), f"children of {name!r}", path).items():
        inv.add_child(name, str(child))
        _walk_yaml(inv, str(child), child_body, path, depth + 1)


def from_yaml_data(data: Any, path: str) -> Inventory:
    """An inventory from loaded YAML: top-level groups with hosts, vars and children."""
    if not isinstance(data, dict):
        raise LoadError("an inventory must be a mapping of groups", path, 1)
    inv = Inventory(path=path)
    for name, body in data.items():
        _walk_yaml(inv, str(name), body, path)
    return inv


def from_ansible_json(data: dict[str, Any], path: str) -> Inventory:
    """An inventory from ``ansible-inventory --list`` (or a script's) JSON."""
    inv = Inventory(path=path)
    for name, body in data.items():
        if name == "_meta":
            continue
        if isinstance(body, list):  # the script shorthand: group -> [hosts]
            body = {"hosts": body}
        if not isinstance(body, dict):
            continue
        for host in body.get("hosts") or []:
            inv.add_host(name, str(host), {})
        for child in body.get("children") or []:
            inv.add_child(name, str(child))
        if isinstance(body.get("vars"), dict):
            inv.group_vars.setdefault(name, {}).update(body["vars"])
    hostvars = (data.get("_meta") or {}).get("hostvars") or {}
    for host, variables in hostvars.items():
        if isinstance(variables, dict):
            inv.host_vars.setdefault(str(host), {}).update(variables)
    return inv


# what Ansible skips in an inventory folder (its INVENTORY_IGNORE_EXTS; .ini is ansible.cfg's)
_IGNORED = ("~", ".orig", ".ini", ".cfg", ".retry", ".pyc", ".pyo", ".swp", ".bak", ".md",
            ".txt", ".rst")


def _load_file(path: Path) -> tuple[Inventory, bool]:
    """The inventory in one file, and whether ansible-inventory read it (vars folders and all)."""
    text = files.read_text(path)
    if files.is_dynamic(path, text):
        return from_ansible_json(files.ansible_inventory(str(path)), str(path)), True
    first = text.lstrip().split("\n", 1)[0]
    if path.suffix in (".yml", ".yaml", ".json") or re.match(r"[\w.-]+:\s*$", first):
        return from_yaml_data(files.load_yaml(text, str(path)), str(path)), False
    return parse_ini(text, str(path)), False


def _merge(into: Inventory, other: Inventory) -> None:
    for group, hosts in other.members.items():
        for host in hosts:
            into.add_host(group, host, {})
        into.members.setdefault(group, [])
    for group, kids in other.children.items():
        for kid in kids:
            into.add_child(group, kid)
    for group, values in other.group_vars.items():
        into.group_vars.setdefault(group, {}).update(values)
    for host, values in other.host_vars.items():
        into.host_vars.setdefault(host, {}).update(values)


def _host_list(text: str) -> Inventory:
    """``web1,web2:2222,`` as Ansible's ``-i`` takes it: hosts, no groups."""
    inv = Inventory(path=text)
    for word in filter(None, (part.strip() for part in text.split(","))):
        _add_pattern(inv, "ungrouped", word, {}, text, None)
    return inv


def load_inventory(path: str) -> Inventory:
    """An Ansible inventory: an INI or YAML file, a folder of them, or ``host1,host2,``; with the
    ``group_vars/`` and ``host_vars/`` beside it; plugins and scripts through ansible-inventory."""
    source = Path(path)
    if not source.exists() and "," in path:
        return _host_list(path)
    if source.is_dir():
        inv = Inventory(path=path)
        for entry in sorted(source.iterdir()):
            skip = entry.name in ("group_vars", "host_vars") or entry.name.startswith(".")
            if not skip and entry.is_file() and not entry.name.endswith(_IGNORED):
                _merge(inv, _load_file(entry)[0])
        folder = source
    else:
        inv, dynamic = _load_file(source)
        if dynamic:
            return inv
        folder = source.parent
    for group, values in files.vars_folder(folder / "group_vars").items():
        inv.group_vars.setdefault(group, {}).update(values)
    for host, values in files.vars_folder(folder / "host_vars").items():
        if host in inv.host_vars:
            inv.host_vars[host].update(values)
    return inv
