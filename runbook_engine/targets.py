"""`on=` resolution: local, front matter groups, Ansible inventory, user@host:port, aliases."""

from __future__ import annotations

from collections.abc import Sequence

from . import lazyre
from .inventory import Inventory
from .model import LOCAL, HostTarget, Runbook

# [user@]host[:port]; host may be a bracketed IPv6 address
_SPEC = lazyre.compile(r"(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]]+\]"
                       r"|[^:@\s\[\]]+)(?::(?P<port>\d+))?\Z")


def parse_spec(name: str) -> HostTarget:
    """``user@host:port`` / ``host:port`` / ``user@host`` → explicit target; else an alias."""
    match = _SPEC.match(name)
    if not match or not (match.group("user") or match.group("port")):
        return HostTarget(name=name)  # an alias: ssh config (or DNS) says where it is
    host = match.group("host").strip("[]")
    port = match.group("port")
    return HostTarget(name=name, hostname=host, user=match.group("user"),
                      port=int(port) if port else None)


# What OpenSSH refuses in a host or user name (ssh.c: valid_hostname, valid_ruser): a name from a
# runbook or an inventory reaches the operator's ssh config, where `Match exec "... %h"` hands it
# to a shell, so such a name is refused before the config is read.
_SSH_REFUSED = lazyre.compile(r"""['`"$\\;&<>|(){}\s\x00-\x1f\x7f]""")


def ssh_name_problem(target: HostTarget) -> str | None:
    """Why OpenSSH would refuse this target's host or user name, or None."""
    for what, value in (("host name", target.hostname or target.name), ("user name", target.user)):
        if value and (value.startswith("-") or _SSH_REFUSED.search(value)):
            return (f"{what} {value!r} is not one OpenSSH accepts (no quotes, spaces, $ ; & | < > "
                    "( ) { } or backslash, and no leading -)")
    return None


def _expand(runbook: Runbook, name: str, inventory: Inventory | None) -> list[HostTarget]:
    if name in ("local", "localhost"):
        return [LOCAL]
    if name in runbook.hosts:
        return list(runbook.hosts[name])
    if inventory is not None:
        members = inventory.group(name)
        if members is not None:
            return members
    return [parse_spec(name)]


def _split(on: Sequence[str] | str) -> list[str]:
    """``on`` as written: a sequence of names, each possibly a comma-separated list."""
    items = [on] if isinstance(on, str) else list(on)
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def resolve_targets(
    runbook: Runbook, on: Sequence[str], inventory: Inventory | None = None
) -> list[HostTarget]:
    """Concrete targets for a step's ``on``, duplicates removed, order kept; () → [LOCAL]."""
    names = _split(on)
    if not names:
        return [LOCAL]
    seen: set[tuple[object, ...]] = set()
    targets: list[HostTarget] = []
    for name in names:
        for target in _expand(runbook, name, inventory):
            key = (target.name, target.hostname, target.user, target.port)
            if key not in seen:
                seen.add(key)
                targets.append(target)
    return targets


def target_names(
    runbook: Runbook, on: Sequence[str], inventory: Inventory | None = None
) -> list[str]:
    """The names the plan shows for a step's targets (no network, no ssh config)."""
    return [t.name for t in resolve_targets(runbook, on, inventory)]
