"""Host key checking against known_hosts (user and global files): every key type OpenSSH reads,
``@revoked`` lines, fingerprints, and accept-new (only when our flag says so)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence

import paramiko

from ..base import TargetError
from .config import HostConfig, parsed_file

#: a known key's type -> the host key algorithms that prove it (an RSA key signs with SHA-2)
ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256")}
#: StrictHostKeyChecking values weaker than refusing unknown keys: not followed without our flag
_WEAKER = ("no", "off", "accept-new", "ask")


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def wanted_algorithms(known: dict[str, paramiko.PKey] | None, supported: Sequence[str]
                      ) -> list[str]:
    """Host key algorithms to ask for first: those proving a key we know, as OpenSSH does."""
    names = [alg for kind in (known or {}) for alg in ALGORITHMS.get(kind, (kind,))]
    return [alg for alg in dict.fromkeys(names) if alg in supported]


def check_host_key(
    cfg: HostConfig, key: paramiko.PKey, known: dict[str, paramiko.PKey] | None, accept_new: bool
) -> None:
    """Pass a known matching key; refuse a revoked or changed one, and an unknown one unless
    ``accept_new`` (our flag) and the config does not pin the host (StrictHostKeyChecking yes)."""
    shown = f"{key.get_name()} {fingerprint(key)}"
    if is_revoked(cfg, key):
        raise TargetError(cfg.alias, f"host key {shown} is marked @revoked in known_hosts; "
                                     "refusing to connect")
    mine = (known or {}).get(key.get_name())
    if mine is not None:
        if mine == key:
            return
        raise TargetError(
            cfg.alias,
            f"host key CHANGED for {cfg.known_hosts_name} (now {shown}; see "
            f"{cfg.known_hosts[0]}): possible man-in-the-middle, refusing to connect",
        )
    others = f"; known keys of other types: {', '.join(known)}" if known else ""
    if not accept_new or cfg.strict_host_keys == "yes" or known:
        raise TargetError(cfg.alias, f"unknown host key ({shown}){others}; {_advice(cfg, known)}")
    append_known(cfg, key)


def _advice(cfg: HostConfig, known: dict[str, paramiko.PKey] | None) -> str:
    if known:
        return f"check it and add it to {cfg.known_hosts[0]} if it is right"
    if cfg.strict_host_keys == "yes":
        return f"the ssh config says StrictHostKeyChecking yes: add it to {cfg.known_hosts[0]}"
    if cfg.strict_host_keys in _WEAKER:
        return (f"the ssh config's StrictHostKeyChecking {cfg.strict_host_keys} is not followed "
                "here; pass --accept-new-host-keys to trust it")
    return "pass --accept-new-host-keys to trust it"


def load_known(cfg: HostConfig) -> dict[str, paramiko.PKey] | None:
    """Known keys (by type) for this host from the user's and the global known_hosts files;
    hashed entries work; lines paramiko cannot read (other key types, markers) are skipped."""
    found: dict[str, paramiko.PKey] = {}
    for path in [*cfg.global_known_hosts, *cfg.known_hosts]:  # the user's files win
        if not os.path.isfile(path):
            continue
        try:
            keys = parsed_file(path, _read_known).lookup(cfg.known_hosts_name)
        except OSError as exc:
            raise TargetError(cfg.alias, f"cannot read {path}: {exc.strerror or exc}") from None
        if keys:
            found.update({name: keys[name] for name in keys})
    return found or None


def _read_known(path: str) -> paramiko.HostKeys:
    """A known_hosts file as OpenSSH reads it: lines it cannot use (markers such as @revoked
    and @cert-authority, key types paramiko lacks, broken lines) are skipped, not fatal."""
    keys = paramiko.HostKeys()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.strip()
            if not line or line.startswith(("#", "@")):
                continue
            try:
                entry = paramiko.hostkeys.HostKeyEntry.from_line(line, number)
            except (paramiko.hostkeys.InvalidHostKey, paramiko.SSHException, ValueError,
                    TypeError, IndexError):
                continue
            if entry is not None:
                for name in entry.hostnames:
                    keys.add(name, entry.key.get_name(), entry.key)
    return keys


def is_revoked(cfg: HostConfig, key: paramiko.PKey) -> bool:
    """Whether any known_hosts file lists this key after ``@revoked`` (any host pattern)."""
    blob = key.asbytes()
    for path in [*cfg.global_known_hosts, *cfg.known_hosts]:
        try:
            if blob in parsed_file(path, _revoked):
                return True
        except OSError:
            continue
    return False


def _revoked(path: str) -> frozenset[bytes]:
    """The keys a known_hosts file marks ``@revoked``."""
    found = set()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for fields in (ln.split() for ln in handle if ln.startswith("@revoked")):
            try:
                if len(fields) >= 4:
                    found.add(base64.b64decode(fields[3]))
            except (binascii.Error, ValueError):
                continue
    return frozenset(found)


def append_known(cfg: HostConfig, key: paramiko.PKey) -> None:
    path = cfg.known_hosts[0]
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as handle:
        handle.write(f"{cfg.known_hosts_name} {key.get_name()} {key.get_base64()}\n")
