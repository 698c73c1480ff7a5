"""Host key checking against known_hosts: fingerprints, lookup, and accept-new."""

from __future__ import annotations

import base64
import hashlib
import os

import paramiko

from ..base import TargetError
from .config import HostConfig


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def check_host_key(
    cfg: HostConfig, key: paramiko.PKey, known: dict[str, paramiko.PKey] | None, accept_new: bool
) -> None:
    """Pass a known matching key; refuse a changed or (without accept_new) unknown one."""
    shown = f"{key.get_name()} {fingerprint(key)}"
    if known:
        if key.get_name() in known and known[key.get_name()] == key:
            return
        raise TargetError(
            cfg.alias,
            f"host key CHANGED for {cfg.known_hosts_name} (now {shown}; see "
            f"{cfg.known_hosts[0]}): possible man-in-the-middle, refusing to connect",
        )
    if not accept_new:
        raise TargetError(
            cfg.alias,
            f"unknown host key ({shown}); pass --accept-new-host-keys to trust it",
        )
    append_known(cfg, key)


def load_known(cfg: HostConfig) -> dict[str, paramiko.PKey] | None:
    """Known keys (by type) for this host from every UserKnownHostsFile; hashed entries work."""
    found: dict[str, paramiko.PKey] = {}
    for path in cfg.known_hosts:
        if not os.path.exists(path):
            continue
        keys = paramiko.HostKeys(path).lookup(cfg.known_hosts_name)
        if keys:
            found.update({name: keys[name] for name in keys})
    return found or None


def append_known(cfg: HostConfig, key: paramiko.PKey) -> None:
    path = cfg.known_hosts[0]
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as handle:
        handle.write(f"{cfg.known_hosts_name} {key.get_name()} {key.get_base64()}\n")
