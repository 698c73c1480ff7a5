"""Connecting: TCP or a ProxyJump channel, the SSH handshake, host key check, and auth."""

from __future__ import annotations

import contextlib
import os
import socket
import threading

import paramiko

from ...model import HostTarget
from ..base import TargetError
from .config import HostConfig, Prompt, host_config, parse_hop
from .hostkeys import check_host_key, fingerprint, load_known

DEFAULT_KEYS = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")

_key_cache: dict[str, paramiko.PKey] = {}  # decrypted identities, so a fleet asks once per key
_key_lock = threading.Lock()


class Connector:
    """Opens authenticated transports: TCP (or a jump channel), host key check, auth."""

    def __init__(
        self, config: paramiko.SSHConfig, *, accept_new: bool, ask_pass: Prompt | None,
        passphrase_prompt: Prompt | None, timeout: float,
    ) -> None:
        self.config = config
        self.accept_new = accept_new
        self.ask_pass = ask_pass
        self.passphrase_prompt = passphrase_prompt
        self.timeout = timeout

    def open(self, target: HostTarget) -> list[paramiko.Transport]:
        """Transports for each ProxyJump hop, then the target's (last)."""
        cfg = host_config(target, self.config, self.timeout)
        chain: list[paramiko.Transport] = []
        sock: paramiko.Channel | None = None
        hops = [parse_hop(h) for h in cfg.proxy_jump.split(",")] if cfg.proxy_jump else []
        try:
            for hop in hops:
                hop_cfg = host_config(hop, self.config, self.timeout)
                chain.append(self._transport(hop_cfg, sock))
                sock = self._jump(chain[-1], hop_cfg, cfg)
            chain.append(self._transport(cfg, sock))
        except BaseException:
            for transport in chain:
                transport.close()
            raise
        return chain

    def _jump(self, via: paramiko.Transport, hop: HostConfig, dest: HostConfig) -> paramiko.Channel:
        try:
            return via.open_channel(
                "direct-tcpip", (dest.hostname, dest.port), ("127.0.0.1", 0),
                timeout=dest.connect_timeout,
            )
        except (paramiko.SSHException, OSError) as exc:
            raise TargetError(
                dest.alias, f"jump host {hop.alias} cannot reach {dest.hostname}:{dest.port}: {exc}"
            ) from None

    def _transport(self, cfg: HostConfig, sock: paramiko.Channel | None) -> paramiko.Transport:
        link = sock if sock is not None else self._tcp(cfg)
        transport = _Transport(link)
        transport.banner_timeout = cfg.connect_timeout
        known = load_known(cfg)
        wanted = [k.get_name() for k in known.values()] if known else []
        options = transport.get_security_options()
        # Ask for the key type we already know, as OpenSSH does, so a known host is not "unknown".
        options.key_types = wanted + [t for t in options.key_types if t not in wanted]
        try:
            transport.start_client(timeout=cfg.connect_timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            transport.close()
            reason: object = exc or type(exc).__name__
            raise TargetError(cfg.alias, f"SSH handshake failed: {reason}") from None
        if not transport.is_active() or not transport.initial_kex_done:
            # start_client returns quietly on its timeout, or after the reader thread failed
            reason = transport.get_exception() or (
                f"timed out after {cfg.connect_timeout:g}s" if transport.is_active()
                else "the server closed the connection")
            transport.close()
            raise TargetError(cfg.alias, f"SSH handshake failed: {reason}")
        try:
            check_host_key(cfg, transport.get_remote_server_key(), known, self.accept_new)
            self._auth(cfg, transport)
        except BaseException:
            transport.close()
            raise
        transport.set_keepalive(cfg.keepalive)
        return transport

    def _tcp(self, cfg: HostConfig) -> socket.socket:
        where = f"{cfg.hostname}:{cfg.port}"
        try:
            sock = socket.create_connection((cfg.hostname, cfg.port), timeout=cfg.connect_timeout)
        except socket.gaierror:
            raise TargetError(cfg.alias, f"cannot resolve host name {cfg.hostname!r}") from None
        except ConnectionRefusedError:
            raise TargetError(cfg.alias, f"connection refused ({where})") from None
        except TimeoutError:
            raise TargetError(
                cfg.alias, f"connection timed out after {cfg.connect_timeout:g}s ({where})"
            ) from None
        except OSError as exc:
            why = exc.strerror or exc
            raise TargetError(cfg.alias, f"cannot connect to {where}: {why}") from None
        # Nagle's algorithm costs ~40 ms per small request/response exchange on a channel.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _quickack(sock)
        return sock

    def _auth(self, cfg: HostConfig, transport: paramiko.Transport) -> None:
        tried: list[str] = []
        for label, key in self._keys(cfg):
            tried.append(label)
            try:
                transport.auth_publickey(cfg.user, key)
            except paramiko.BadAuthenticationType:
                break
            except paramiko.AuthenticationException:
                continue
            if transport.is_authenticated():
                return
        if self.ask_pass is not None:
            tried.append("password")
            password = self.ask_pass(f"{cfg.user}@{cfg.hostname}'s password: ")
            with contextlib.suppress(paramiko.AuthenticationException):
                transport.auth_password(cfg.user, password)
            if transport.is_authenticated():
                return
        how = ", ".join(tried) or "no keys found"
        raise TargetError(cfg.alias, f"authentication failed for user {cfg.user} (tried {how})")

    def _keys(self, cfg: HostConfig) -> list[tuple[str, paramiko.PKey]]:
        keys: list[tuple[str, paramiko.PKey]] = []
        if not cfg.identities_only:
            agent = paramiko.Agent()
            keys += [(f"agent key {fingerprint(k)}", k) for k in agent.get_keys()]
        files = cfg.identity_files or [os.path.expanduser(p) for p in DEFAULT_KEYS]
        for path in files:
            key = self._load_key(path)
            if key is not None:
                keys.append((path, key))
        return keys

    def _load_key(self, path: str) -> paramiko.PKey | None:
        with _key_lock:  # one passphrase prompt per key file for the whole fleet
            if path in _key_cache:
                return _key_cache[path]
            if not os.path.exists(path):
                return None
            try:
                key = paramiko.PKey.from_path(path)
            except (paramiko.PasswordRequiredException, TypeError):  # TypeError: cryptography's
                if self.passphrase_prompt is None:
                    return None
                phrase = self.passphrase_prompt(f"Enter passphrase for key '{path}': ")
                try:
                    # the stubs say str; paramiko hands it to cryptography, which wants bytes
                    key = paramiko.PKey.from_path(path, password=phrase.encode())  # type: ignore[arg-type]
                except (paramiko.SSHException, ValueError, TypeError):
                    return None
            except (paramiko.SSHException, OSError, ValueError):
                return None
            _key_cache[path] = key
            return key


def _quickack(sock: object) -> None:
    """Send the pending ACK now (Linux); harmless elsewhere and on jump channels."""
    if isinstance(sock, socket.socket) and hasattr(socket, "TCP_QUICKACK"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


class _Transport(paramiko.Transport):
    """After auth, sshd sends a global request (hostkeys-00) that needs no reply, then holds the
    next packet (Nagle) until it is acked; our delayed ACK made the first channel wait 40 ms."""

    def _parse_global_request(self, m: paramiko.Message) -> None:
        super()._parse_global_request(m)  # type: ignore[misc]  # private hook the stubs omit
        _quickack(self.sock)
