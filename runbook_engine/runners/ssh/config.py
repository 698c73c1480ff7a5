"""SSH config reading: what ~/.ssh/config and the target say about reaching one host."""

from __future__ import annotations

import getpass
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import paramiko

from ...model import HostTarget
from ...targets import parse_spec, ssh_name_problem
from ..base import TargetError
from .lib import allow_match_exec

Prompt = Callable[[str], str]
T = TypeVar("T")
GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"  # OpenSSH's default


@dataclass
class HostConfig:
    """What ssh config and the target say about how to reach one host."""

    alias: str
    hostname: str
    port: int
    user: str
    identity_files: list[str] = field(default_factory=list)
    identities_only: bool = False
    proxy_jump: str | None = None
    connect_timeout: float = 10.0
    keepalive: int = 30
    known_hosts: list[str] = field(default_factory=list)  # the user's: new keys go to the first
    global_known_hosts: list[str] = field(default_factory=list)  # read only
    host_key_alias: str | None = None
    proxy_command: str | None = None
    strict_host_keys: str = ""  # StrictHostKeyChecking as the config says it ("": not said)

    @property
    def known_hosts_name(self) -> str:
        if self.host_key_alias:  # as ssh: the alias as it is, without the port
            return self.host_key_alias
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"


_parsed: dict[tuple[Callable[[str], Any], str], tuple[tuple[int, int, int], Any]] = {}
_parsed_lock = threading.Lock()


def parsed_file(path: str, parse: Callable[[str], T]) -> T:
    """``parse(path)``, once per version of the file for the whole process: a fleet's hosts
    share one ssh config and the same known_hosts files, which each host parsed again (hosts x
    lines: seconds for a long known_hosts). A file changed since (a host key appended) is parsed
    anew. Raises OSError as ``os.stat`` and ``parse`` do.

    The lock is taken only to parse: a lookup that held it across its ``stat`` (which lets
    other threads run) made 200 connecting hosts queue on it, one GIL hand-over each (a fleet's
    set-up took seconds)."""
    info = os.stat(path)
    stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
    got = _parsed.get((parse, path))
    if got is not None and got[0] == stamp:
        return got[1]
    with _parsed_lock:  # the first host parses, the others wait for it
        got = _parsed.get((parse, path))
        if got is None or got[0] != stamp:
            got = _parsed[(parse, path)] = (stamp, parse(path))
        return got[1]


def read_config(path: str | None) -> paramiko.SSHConfig:
    """The ssh config (read once for every runner that names it; lookups do not change it)."""
    path = os.path.expanduser(path or "~/.ssh/config")
    if not os.path.exists(path):
        return paramiko.SSHConfig()
    return parsed_file(path, _parse_config)


_MATCH_EXEC = re.compile(r"^\s*match\b.*\bexec\b", re.IGNORECASE | re.MULTILINE)


def _parse_config(path: str) -> paramiko.SSHConfig:
    with open(path) as handle:  # as paramiko's from_path reads it
        text = handle.read()
    if _MATCH_EXEC.search(text):
        allow_match_exec()
    return paramiko.SSHConfig.from_text(text)


def host_config(target: HostTarget, config: paramiko.SSHConfig, timeout: float) -> HostConfig:
    """Merge ssh config for the target's host with the target's explicit fields (which win)."""
    if target.hostname is None:
        spec = parse_spec(target.name)  # user@host:port written straight into a HostTarget
        # an inventory host without ansible_host keeps its ansible_user/port/key
        target = HostTarget(name=target.name, hostname=spec.hostname,
                            user=target.user or spec.user, port=target.port or spec.port,
                            key_file=target.key_file)
    problem = ssh_name_problem(target)  # before `Match exec %h` in the config sees the name
    if problem:
        raise TargetError(target.name, problem)
    entry = config.lookup(target.hostname or target.name)
    files = [os.path.expanduser(f) for f in entry.get("identityfile", [])]
    if target.key_file:
        files.insert(0, os.path.expanduser(target.key_file))
    known = entry.get("userknownhostsfile", "~/.ssh/known_hosts").split()
    global_known = entry.get("globalknownhostsfile", GLOBAL_KNOWN_HOSTS).split()
    jump, command = entry.get("proxyjump"), entry.get("proxycommand")
    return HostConfig(
        alias=target.name,
        # as `ssh HOST`: the config entry for the host string may rename it (HostName)
        hostname=entry.get("hostname", target.hostname or target.name),
        port=int(target.port or entry.get("port") or 22),
        user=target.user or entry.get("user") or getpass.getuser(),
        identity_files=files,
        identities_only=entry.get("identitiesonly", "no").lower() == "yes",
        proxy_jump=None if jump in (None, "none") else jump,
        # OpenSSH takes whichever comes first; paramiko cannot say which did: ProxyJump wins
        proxy_command=None if command in (None, "none") or jump not in (None, "none")
        else command,
        connect_timeout=float(entry.get("connecttimeout", timeout)),
        keepalive=int(entry.get("serveraliveinterval", 30)),
        known_hosts=[os.path.expanduser(p) for p in known],
        global_known_hosts=[os.path.expanduser(p) for p in global_known],
        host_key_alias=entry.get("hostkeyalias"),
        strict_host_keys=entry.get("stricthostkeychecking", "").lower(),
    )


def parse_hop(spec: str) -> HostTarget:
    """One ProxyJump hop, ``[user@]host[:port]``."""
    user, _, rest = spec.rpartition("@")
    host, _, port = rest.partition(":")
    if not user and not port:
        return HostTarget(name=host)
    return HostTarget(name=spec, hostname=host, user=user or None, port=int(port) if port else None)
