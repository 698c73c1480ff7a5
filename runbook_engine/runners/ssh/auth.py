"""Authentication on one transport: keys (agent, files), keyboard-interactive, password."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import paramiko

from ..base import TargetError
from .config import HostConfig, Prompt
from .hostkeys import fingerprint

DEFAULT_KEYS = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
KBD = "keyboard-interactive"

_key_cache: dict[str, paramiko.PKey] = {}  # decrypted identities, so a fleet asks once per key
_key_lock = threading.Lock()


@dataclass(frozen=True)
class Prompts:
    """How to ask the operator: ``password`` only with --ask-pass; ``interactive`` answers the
    server's keyboard-interactive prompts (PAM, one-time codes), asked each time the server asks."""

    password: Prompt | None = None
    passphrase: Prompt | None = None
    interactive: Prompt | None = None


def authenticate(cfg: HostConfig, transport: paramiko.Transport, prompts: Prompts) -> None:
    """Keys first, then keyboard-interactive, then a password, as the server allows (as ssh)."""
    tried: list[str] = []
    allowed: list[str] | None = None  # what the server still takes; None: not told yet
    for label, key in _keys(cfg, prompts.passphrase):
        tried.append(label)
        try:
            allowed = list(transport.auth_publickey(cfg.user, key))
        except paramiko.BadAuthenticationType as exc:
            allowed = list(exc.allowed_types)
            break
        except paramiko.AuthenticationException:
            continue
        if transport.is_authenticated():
            return
        break  # partial success: the key counted, another method must follow (a code, ...)
    if allowed is None:
        allowed = _allowed(cfg, transport)
        if transport.is_authenticated():
            return
    if KBD in allowed and prompts.interactive is not None:
        tried.append(KBD)
        if _interactive(cfg, transport, prompts.interactive):
            return
    if prompts.password is not None and ("password" in allowed or not allowed):
        tried.append("password")
        password = prompts.password(f"{cfg.user}@{cfg.hostname}'s password: ")
        with contextlib.suppress(paramiko.AuthenticationException):
            transport.auth_password(cfg.user, password)
        if transport.is_authenticated():
            return
    how = ", ".join(tried) or "no keys found"
    offers = f"; the server takes {', '.join(allowed)}" if allowed else ""
    raise TargetError(cfg.alias, f"authentication failed for user {cfg.user} (tried {how}){offers}")


def _allowed(cfg: HostConfig, transport: paramiko.Transport) -> list[str]:
    """The methods the server offers, from a "none" request (which may itself succeed)."""
    try:
        transport.auth_none(cfg.user)
    except paramiko.BadAuthenticationType as exc:
        return list(exc.allowed_types)
    except paramiko.SSHException:
        pass
    return []


def _interactive(cfg: HostConfig, transport: paramiko.Transport, ask: Prompt) -> bool:
    """Answer the server's prompts on our terminal, each once. paramiko calls the handler on its
    own thread: a prompt that cannot be asked is raised here, in the caller's."""
    failed: list[BaseException] = []

    def handler(title: str, instructions: str, prompts: Sequence[tuple[str, bool]]) -> list[str]:
        answers: list[str] = []
        head = "\n".join(text.strip() for text in (title, instructions) if text.strip())
        for text, _echo in prompts:  # asked hidden even when the server would echo it
            lead, _, last = text.strip("\n").rpartition("\n")  # PAM's messages, then the prompt
            lead = "\n".join(x for x in (head if not answers else "", lead) if x)
            shown = f"({cfg.user}@{cfg.alias}) {last.lstrip()}"
            try:
                answers.append(ask(f"{lead}\n{shown}" if lead else shown))
            except BaseException as exc:  # noqa: BLE001 (re-raised in the caller's thread)
                failed.append(exc)
                raise
        return answers

    try:
        transport.auth_interactive(cfg.user, handler)
    except paramiko.AuthenticationException:
        pass
    except paramiko.SSHException:
        if not failed:
            raise
    if failed:
        raise failed[0]
    return transport.is_authenticated()


def _keys(cfg: HostConfig, passphrase: Prompt | None) -> list[tuple[str, paramiko.PKey]]:
    keys: list[tuple[str, paramiko.PKey]] = []
    if not cfg.identities_only:
        agent = paramiko.Agent()
        keys += [(f"agent key {fingerprint(k)}", k) for k in agent.get_keys()]
    files = cfg.identity_files or [os.path.expanduser(p) for p in DEFAULT_KEYS]
    for path in files:
        key = _load_key(path, passphrase)
        if key is not None:
            keys.append((path, key))
    return keys


def _load_key(path: str, passphrase: Prompt | None) -> paramiko.PKey | None:
    with _key_lock:  # one passphrase prompt per key file for the whole fleet
        if path in _key_cache:
            return _key_cache[path]
        if not os.path.exists(path):
            return None
        try:
            key = paramiko.PKey.from_path(path)
        except (paramiko.PasswordRequiredException, TypeError):  # TypeError: cryptography's
            if passphrase is None:
                return None
            phrase = passphrase(f"Enter passphrase for key '{path}': ")
            try:
                # the stubs say str; paramiko hands it to cryptography, which wants bytes
                key = paramiko.PKey.from_path(path, password=phrase.encode())  # type: ignore[arg-type]
            except (paramiko.SSHException, ValueError, TypeError):
                return None
        except (paramiko.SSHException, OSError, ValueError):
            return None
        _key_cache[path] = key
        return key
