"""Connecting: TCP or a ProxyJump channel, the SSH handshake, host key check, and auth."""

from __future__ import annotations

import contextlib
import logging
import shlex
import socket

import paramiko

from ...model import HostTarget
from ..base import TargetError
from .auth import Prompts, authenticate
from .config import HostConfig, host_config, parse_hop
from .hostkeys import check_host_key, load_known, wanted_algorithms

# paramiko logs its reader thread's tracebacks; with no handler Python prints them on stderr.
# Every failure reaches the user as one TargetError line instead.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False


def _silent(timeout: float) -> str:
    return f"no SSH answer within {timeout:g}s (not an SSH server, or one too busy to answer)"


def _reason(exc: BaseException, timeout: float) -> str:
    """One line for paramiko's exceptions (some glue a second message onto the first)."""
    text = str(exc).strip() or type(exc).__name__
    if text.startswith("Error reading SSH protocol banner"):
        return _silent(timeout)
    return text.splitlines()[0]


class Connector:
    """Opens authenticated transports: TCP (or a jump channel), host key check, auth."""

    def __init__(
        self, config: paramiko.SSHConfig, *, accept_new: bool, prompts: Prompts, timeout: float,
    ) -> None:
        self.config = config
        self.accept_new = accept_new
        self.prompts = prompts
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
        link = sock if sock is not None else self._link(cfg)
        transport = _Transport(link)
        transport.banner_timeout = cfg.connect_timeout
        try:
            known = load_known(cfg)
        except BaseException:
            transport.close()
            raise
        options = transport.get_security_options()
        # Ask for the key types we already know, as OpenSSH does, so a known host is not "unknown".
        wanted = wanted_algorithms(known, options.key_types)
        options.key_types = wanted + [t for t in options.key_types if t not in wanted]
        try:
            transport.start_client(timeout=cfg.connect_timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            transport.close()
            why = _reason(exc, cfg.connect_timeout)
            raise TargetError(cfg.alias, f"SSH handshake failed: {why}") from None
        if not transport.is_active() or not transport.initial_kex_done:
            # start_client returns quietly on its timeout, or after the reader thread failed
            got = transport.get_exception()
            reason = _reason(got, cfg.connect_timeout) if got else (
                _silent(cfg.connect_timeout) if transport.is_active()
                else "the server closed the connection")
            transport.close()
            raise TargetError(cfg.alias, f"SSH handshake failed: {reason}")
        try:
            check_host_key(cfg, transport.get_remote_server_key(), known, self.accept_new)
            authenticate(cfg, transport, self.prompts)
        except BaseException:
            transport.close()
            raise
        transport.set_keepalive(cfg.keepalive)
        return transport

    def _link(self, cfg: HostConfig) -> socket.socket | paramiko.ProxyCommand:
        """A TCP connection, or the ProxyCommand's stdin/stdout (run by sh, as ssh does)."""
        if not cfg.proxy_command:
            return self._tcp(cfg)
        try:
            return paramiko.ProxyCommand(f"/bin/sh -c {shlex.quote('exec ' + cfg.proxy_command)}")
        except (paramiko.SSHException, OSError) as exc:
            raise TargetError(cfg.alias, f"ProxyCommand failed to start: {exc}") from None

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
        acking = _AckingSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        acking.settimeout(cfg.connect_timeout)
        _quickack(acking)
        return acking


def hang_up(transport: paramiko.Transport) -> None:
    """Close a transport and wake its reader thread now. paramiko only closes the socket, which
    does not wake a ``recv`` already waiting in the reader: it ends at its 0.1 s timeout, then
    needs the GIL; 200 such threads still waking made a fleet run's exit take a second."""
    sock = transport.sock
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # the reader's recv returns at once (end of stream)
    transport.close()


def _quickack(sock: object) -> None:
    """Send the pending ACK now (Linux); harmless elsewhere and on jump channels."""
    if isinstance(sock, socket.socket) and hasattr(socket, "TCP_QUICKACK"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


class _AckingSocket(socket.socket):
    """Acks each read at once (TCP_QUICKACK does not stick): sshd sends a step's answer in
    several small writes and, Nagle on (no pty), holds the rest until the first is acked; a
    delayed ACK here would add up to 40 ms to a step on a real link."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        _quickack(self)
        return data


class _Transport(paramiko.Transport):
    """After auth, sshd sends a global request (hostkeys-00) that needs no reply, then holds the
    next packet (Nagle) until it is acked; our delayed ACK made the first channel wait 40 ms.

    The reader thread's socket timeout is how often it wakes with nothing to read, to see
    whether it was closed (paramiko's 0.1 s): 200 hosts made 2,000 wake-ups a second, each
    taking the GIL from the threads doing the work. A hang-up wakes it at once (``hang_up``);
    keepalives are still sent to the second."""

    _active_check_timeout = 1.0

    def _parse_global_request(self, m: paramiko.Message) -> None:
        super()._parse_global_request(m)  # type: ignore[misc]  # private hook the stubs omit
        _quickack(self.sock)
