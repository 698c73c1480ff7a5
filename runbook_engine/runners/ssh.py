"""SSHRunner: steps on a remote host over one paramiko connection, same semantics as local."""

from __future__ import annotations

import base64
import codecs
import contextlib
import getpass
import hashlib
import os
import secrets
import select
import shlex
import shutil
import socket
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field

import paramiko

from ..model import HostTarget
from ..outputs import OutputBuffer, parse_outputs
from ..targets import parse_spec
from .base import Command, OutputCallback, Result, Runner, Session, TargetError
from .script import next_session, wrap

Prompt = Callable[[str], str]
GRACE_S = 2.0  # between SIGINT, SIGTERM and SIGKILL, as the local runner
POLL_S = 0.05
DRAIN_S = 0.5  # keep reading this long after exit while a background job holds the channel open
DEFAULT_KEYS = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")

_key_cache: dict[str, paramiko.PKey] = {}  # decrypted identities, so a fleet asks once per key
_key_lock = threading.Lock()


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
    known_hosts: list[str] = field(default_factory=list)
    host_key_alias: str | None = None

    @property
    def known_hosts_name(self) -> str:
        host = self.host_key_alias or self.hostname
        return host if self.port == 22 else f"[{host}]:{self.port}"


def read_config(path: str | None) -> paramiko.SSHConfig:
    path = os.path.expanduser(path or "~/.ssh/config")
    return paramiko.SSHConfig.from_path(path) if os.path.exists(path) else paramiko.SSHConfig()


def host_config(target: HostTarget, config: paramiko.SSHConfig, timeout: float) -> HostConfig:
    """Merge ssh config for the target's host with the target's explicit fields (which win)."""
    if target.hostname is None:
        target = parse_spec(target.name)  # user@host:port written straight into a HostTarget
    entry = config.lookup(target.hostname or target.name)
    files = [os.path.expanduser(f) for f in entry.get("identityfile", [])]
    if target.key_file:
        files.insert(0, os.path.expanduser(target.key_file))
    known = entry.get("userknownhostsfile", "~/.ssh/known_hosts").split()
    jump = entry.get("proxyjump")
    return HostConfig(
        alias=target.name,
        # as `ssh HOST`: the config entry for the host string may rename it (HostName)
        hostname=entry.get("hostname", target.hostname or target.name),
        port=int(target.port or entry.get("port", 22)),
        user=target.user or entry.get("user") or getpass.getuser(),
        identity_files=files,
        identities_only=entry.get("identitiesonly", "no").lower() == "yes",
        proxy_jump=None if jump in (None, "none") else jump,
        connect_timeout=float(entry.get("connecttimeout", timeout)),
        keepalive=int(entry.get("serveraliveinterval", 30)),
        known_hosts=[os.path.expanduser(p) for p in known],
        host_key_alias=entry.get("hostkeyalias"),
    )


def parse_hop(spec: str) -> HostTarget:
    """One ProxyJump hop, ``[user@]host[:port]``."""
    user, _, rest = spec.rpartition("@")
    host, _, port = rest.partition(":")
    if not user and not port:
        return HostTarget(name=host)
    return HostTarget(name=spec, hostname=host, user=user or None, port=int(port) if port else None)


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


# -- connecting -------------------------------------------------------------------------------


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
        known = _load_known(cfg)
        wanted = [k.get_name() for k in known.values()] if known else []
        options = transport.get_security_options()
        # Ask for the key type we already know, as OpenSSH does, so a known host is not "unknown".
        options.key_types = wanted + [t for t in options.key_types if t not in wanted]
        try:
            transport.start_client(timeout=cfg.connect_timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            transport.close()
            reason = exc or type(exc).__name__
            raise TargetError(cfg.alias, f"SSH handshake failed: {reason}") from None
        if not transport.is_active() or not transport.initial_kex_done:
            # start_client returns quietly on its timeout, or after the reader thread failed
            reason = transport.get_exception() or (
                f"timed out after {cfg.connect_timeout:g}s" if transport.is_active()
                else "the server closed the connection")
            transport.close()
            raise TargetError(cfg.alias, f"SSH handshake failed: {reason}")
        try:
            self._check_host_key(cfg, transport.get_remote_server_key(), known)
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

    def _check_host_key(
        self, cfg: HostConfig, key: paramiko.PKey, known: dict[str, paramiko.PKey] | None
    ) -> None:
        shown = f"{key.get_name()} {fingerprint(key)}"
        if known:
            if key.get_name() in known and known[key.get_name()] == key:
                return
            raise TargetError(
                cfg.alias,
                f"host key CHANGED for {cfg.known_hosts_name} (now {shown}; see "
                f"{cfg.known_hosts[0]}): possible man-in-the-middle, refusing to connect",
            )
        if not self.accept_new:
            raise TargetError(
                cfg.alias,
                f"unknown host key ({shown}); pass --accept-new-host-keys to trust it",
            )
        _append_known(cfg, key)

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
                    key = paramiko.PKey.from_path(path, password=phrase.encode())
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
        super()._parse_global_request(m)
        _quickack(self.sock)


def _load_known(cfg: HostConfig) -> dict[str, paramiko.PKey] | None:
    """Known keys (by type) for this host from every UserKnownHostsFile; hashed entries work."""
    found: dict[str, paramiko.PKey] = {}
    for path in cfg.known_hosts:
        if not os.path.exists(path):
            continue
        keys = paramiko.HostKeys(path).lookup(cfg.known_hosts_name)
        if keys:
            found.update({name: keys[name] for name in keys})
    return found or None


def _append_known(cfg: HostConfig, key: paramiko.PKey) -> None:
    path = cfg.known_hosts[0]
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as handle:
        handle.write(f"{cfg.known_hosts_name} {key.get_name()} {key.get_base64()}\n")


# -- the remote side of one step ----------------------------------------------------------------


def _outer(script: str, mark: str, tmp: str, prefix: str) -> str:
    """The one command a step sends: report $$, run the wrapper, then the state framed on stderr.

    sshd makes the login shell a session leader, so $$ is the step's process group. The trap keeps
    this shell alive through SIGINT/SIGTERM long enough to report the state the wrapper wrote.
    """
    st, out = shlex.quote(f"{tmp}/state"), shlex.quote(f"{tmp}/output")
    quoted = shlex.quote(script)
    inner = f"{prefix}bash -c {quoted}" if prefix else f"( eval {quoted} )"
    return (
        f"trap : INT TERM; printf '{mark}P%s\\n' $$ >&2; : > {st}; : > {out}\n{inner}\n"
        f"__rb_rc=$?; printf '{mark}S' >&2\n"
        f"if [ -s {st} ]; then mapfile -t -d '' __rb_s < {st}\n"
        f"  printf '%s\\0' \"${{__rb_s[@]}}\" >&2; fi\n"
        f"printf '{mark}O' >&2; IFS= read -r -d '' __rb_o < {out}; printf '%s' \"$__rb_o\" >&2\n"
        f"printf '{mark}E' >&2; exit $__rb_rc\n"
    )


def _stopper(pid: int) -> str:
    """Remote escalation, in one channel: SIGINT the group, then SIGTERM, then SIGKILL."""
    ticks = int(GRACE_S / 0.05)
    wait = (f"__w() {{ i=0; while kill -0 $1 2>/dev/null && [ $i -lt {ticks} ]; "
            "do sleep 0.05; i=$((i+1)); done; }")
    return (
        f"{wait}; kill -INT -- -{pid} 2>/dev/null || exit 0; __w {pid}; "
        f"kill -TERM -- -{pid} 2>/dev/null || exit 0; __w -{pid}; kill -KILL -- -{pid} 2>/dev/null"
    )


class _Frames:
    """Separates our framed records (pid first, state and outputs last) from the user's stderr."""

    def __init__(self, mark: bytes) -> None:
        self.mark = mark
        self.pid: int | None = None
        self.post: bytes | None = None
        self._pending = b""
        self._started = False

    def feed(self, data: bytes) -> bytes:
        buf, self._pending = self._pending + data, b""
        if self.post is not None:
            self.post += buf
            return b""
        if not self._started:
            head = self.mark + b"P"
            partial = head.startswith(buf) if len(buf) < len(head) else buf.startswith(head)
            if partial and b"\n" not in buf:
                self._pending = buf
                return b""
            self._started = True
            if buf.startswith(head):
                line, _, buf = buf.partition(b"\n")
                self.pid = int(line[len(head):] or 0) or None
        end = self.mark + b"S"
        at = buf.find(end)
        if at >= 0:
            self.post = buf[at + len(end):]
            return buf[:at]
        # Hold back a tail that could be the start of the marker split across two packets.
        for size in range(min(len(end) - 1, len(buf)), 0, -1):
            if end.startswith(buf[-size:]):
                self._pending = buf[-size:]
                return buf[:-size]
        return buf

    def flush(self) -> bytes:
        rest, self._pending = self._pending, b""
        return rest if self.post is None else b""

    def state_and_outputs(self) -> tuple[bytes, bytes] | None:
        """(state, outputs) when the step's epilogue finished, else None (killed, lost)."""
        post = self.post or b""
        state, sep, rest = post.partition(self.mark + b"O")
        outputs, sep2, _ = rest.partition(self.mark + b"E")
        return (state, outputs) if sep and sep2 else None


class SSHRunner(Runner):
    """Runs commands on one remote host over a single SSH connection kept for the whole run."""

    def __init__(
        self,
        target: HostTarget,
        *,
        ssh_config_path: str | None = None,
        accept_new_host_keys: bool = False,
        ask_pass: Prompt | None = None,
        passphrase_prompt: Prompt | None = None,
        sudo_password_prompt: Prompt | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self.target = target
        self.name = target.name
        self.sudo_password_prompt = sudo_password_prompt
        self._connector = Connector(
            read_config(ssh_config_path), accept_new=accept_new_host_keys, ask_pass=ask_pass,
            passphrase_prompt=passphrase_prompt, timeout=connect_timeout,
        )
        self._chain: list[paramiko.Transport] = []
        self._janitor: paramiko.Channel | None = None
        token = secrets.token_hex(8)  # per runner: user output cannot forge our frames
        self._mark = "\\036\\037rb" + token + "\\037"  # as printf escapes
        self._mark_bytes = b"\x1e\x1frb" + token.encode() + b"\x1f"
        self.tmp = ""
        self.base_env: dict[str, str] = {}
        self._login_bash = True
        self._sudo: dict[str, str | None] = {}  # user -> password ("" none needed)

    # -- connection ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return bool(self._chain) and self._chain[-1].is_active()

    def connect(self) -> None:
        """Connect (through ProxyJump hops), authenticate, make the remote temp dir. TargetError."""
        if self.connected:
            return
        self._drop()
        self._chain = self._connector.open(self.target)
        try:
            records = self._setup()
        except (paramiko.SSHException, OSError, EOFError, ValueError) as exc:
            self._drop()
            raise TargetError(self.name, f"remote setup failed: {exc}") from None
        self.tmp, shell = records[0], records[1]
        self._login_bash = os.path.basename(shell) == "bash"
        self.base_env = dict(r.split("=", 1) for r in records[2:] if "=" in r)

    def _setup(self) -> list[str]:
        """Temp dir, login shell and base environment, in one round trip.

        The channel stays open as a janitor: when the connection ends (close, or lost), its
        ``read`` sees EOF and removes the temp dir, so close() needs no round trip of its own.
        """
        chan = self._chain[-1].open_session(timeout=self._connector.timeout)
        chan.exec_command(
            "exec bash -c 'd=$(mktemp -d) || exit 1; printf \"%s\\0%s\\0\" \"$d\" \"$0\"; "
            "for n in $(compgen -e); do printf \"%s=%s\\0\" \"$n\" \"${!n}\"; done; "
            "printf \"\\0\"; exec >&- 2>&-; read -r _; rm -rf -- \"$d\"' \"$SHELL\""
        )
        data = b""
        while not data.endswith(b"\0\0"):  # an empty record ends the list
            chunk = chan.recv(65536)
            if not chunk:
                raise ValueError(chan.recv_stderr(4096).decode(errors="replace").strip()[:200])
            data += chunk
        self._janitor = chan
        return data[:-2].decode("utf-8", errors="surrogateescape").split("\0")

    def _exec(self, command: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
        """Run a small helper command and wait for it (setup, cleanup, sudo check)."""
        chan = self._chain[-1].open_session(timeout=self._connector.timeout)
        chan.exec_command(command)
        if stdin:
            chan.sendall(stdin)
        chan.shutdown_write()
        out, err = chan.makefile("rb").read(), chan.makefile_stderr("rb").read()
        code = chan.recv_exit_status()
        chan.close()
        return code, out, err

    def _drop(self) -> None:
        for transport in reversed(self._chain):
            transport.close()
        self._chain = []

    def close(self) -> None:
        self._drop()  # the janitor channel removes the remote temp dir

    # -- running ------------------------------------------------------------------------------

    def run(self, command: Command, on_output: OutputCallback, cancel: threading.Event) -> Result:
        start = time.monotonic()
        try:
            self.connect()  # reconnects when a retry follows a lost connection
            prefix, stdin = self._sudo_prefix(command)
        except TargetError as exc:
            return Result(None, "error", time.monotonic() - start, error=exc.message)
        script = wrap(
            command, self.session, state_path=f"{self.tmp}/state", output_path=f"{self.tmp}/output"
        )
        outer = _outer(script, self._mark, self.tmp, prefix)
        if not self._login_bash:
            outer = f"exec bash -c {shlex.quote(outer)}"
        if command.interpreter:
            stdin += command.code.encode()
        try:
            chan = self._chain[-1].open_session(timeout=self._connector.timeout)
            if command.interactive:
                return self._interactive(chan, outer, command, on_output, cancel, start)
            chan.exec_command(outer)
            if stdin:
                chan.sendall(stdin)
            chan.shutdown_write()
            return _Step(self, chan, command, on_output, cancel, start).pump()
        except (paramiko.SSHException, OSError, EOFError):
            self._drop()
            return Result(None, "error", time.monotonic() - start, error="connection lost")

    def _sudo_prefix(self, command: Command) -> tuple[str, bytes]:
        if not (command.sudo or command.user):
            return "", b""
        user = command.user or "root"
        if user not in self._sudo:
            code, _, _ = self._exec(f"sudo -n -u {shlex.quote(user)} -- true")
            if code == 0:
                self._sudo[user] = ""
            elif self.sudo_password_prompt is None:
                raise TargetError(self.name, "sudo needs a password and none can be asked")
            else:
                self._sudo[user] = self.sudo_password_prompt(f"[sudo] password for {self.name}: ")
        password = self._sudo[user]
        if not password:
            return f"sudo -n -u {shlex.quote(user)} -- ", b""
        # The password goes on stdin (sudo -S reads one line), never on a command line or a log.
        return f"sudo -S -p '' -u {shlex.quote(user)} -- ", password.encode() + b"\n"

    def stop_remote(self, pid: int | None) -> paramiko.Channel | None:
        """Start the remote SIGINT/SIGTERM/SIGKILL escalation for a step's process group."""
        if pid is None or not self.connected:
            return None
        try:
            chan = self._chain[-1].open_session(timeout=self._connector.timeout)
            chan.exec_command(_stopper(pid))
            return chan
        except (paramiko.SSHException, OSError, EOFError):
            return None

    def finish(self, command: Command, frames: _Frames) -> dict[str, str]:
        """Update the session from the step's epilogue; return its $RUNBOOK_OUTPUT values."""
        got = frames.state_and_outputs()
        if got is None:
            return {}
        state, outputs = got
        if state:
            if command.sudo or command.user:
                # The sudo'd shell has another base environment: only the cwd carries over.
                cwd = state.split(b"\0", 1)[0].decode("utf-8", errors="surrogateescape")
                self.session = Session(cwd=cwd or self.session.cwd, env=dict(self.session.env))
            else:
                self.session = next_session(state, self.base_env, command, self.session)
        text = outputs.decode("utf-8", errors="replace")
        return parse_outputs(text) if text else {}

    def _interactive(
        self, chan: paramiko.Channel, outer: str, command: Command,
        on_output: OutputCallback, cancel: threading.Event, start: float,
    ) -> Result:
        """A remote pty; the local terminal in raw mode; bytes relayed both ways and recorded."""
        size = shutil.get_terminal_size()
        chan.get_pty(term=os.environ.get("TERM", "xterm"), width=size.columns, height=size.lines)
        # With a pty, stderr is merged into the terminal: the state is fetched afterwards instead,
        # and sudo asks on the remote terminal itself (echo off there).
        chan.exec_command(outer.replace(" >&2", " >/dev/null").replace("sudo -S -p '' ", "sudo "))
        if command.interpreter:
            chan.sendall(command.code.encode())
        out = OutputBuffer()
        how = _relay(chan, command, out, on_output, cancel, start)
        code = chan.recv_exit_status() if chan.exit_status_ready() else None
        chan.close()
        st, op = shlex.quote(f"{self.tmp}/state"), shlex.quote(f"{self.tmp}/output")
        mark = self._mark
        frames = _Frames(self._mark_bytes)
        frames.post = self._exec(f"cat {st}; printf '{mark}O'; cat {op}; printf '{mark}E'")[1]
        outputs = self.finish(command, frames)
        code = None if code is None or code < 0 or (how and code > 128) else code
        out.close()
        return Result(code, how or ("ok" if code == 0 else "failed"),  # type: ignore[arg-type]
                      time.monotonic() - start, stdout=out.text(),
                      stdout_truncated=out.truncated, outputs=outputs)


def _relay(
    chan: paramiko.Channel, command: Command, out: OutputBuffer, on_output: OutputCallback,
    cancel: threading.Event, start: float,
) -> str | None:
    """Terminal <-> channel until the remote exits; Ctrl-C/timeout send ^C, then hang up."""
    local = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
    saved = termios.tcgetattr(local) if local is not None else None
    if local is not None:
        tty.setraw(local)
    deadline = None if command.timeout is None else start + command.timeout
    how: str | None = None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    watch = [chan] if local is None else [chan, local]
    try:
        while not chan.exit_status_ready() or chan.recv_ready():
            expired = deadline is not None and time.monotonic() > deadline
            if how is None and (cancel.is_set() or expired):
                how = "interrupted" if cancel.is_set() else "timeout"
                chan.send(b"\x03")  # Ctrl-C on the remote terminal; closing it hangs up
                deadline = time.monotonic() + GRACE_S
            elif how is not None and expired:
                break
            ready, _, _ = select.select(watch, [], [], POLL_S)
            if chan.recv_ready():
                data = chan.recv(65536)
                out.write(data)
                os.write(sys.stdout.fileno(), data)
                on_output("stdout", decoder.decode(data))
            if local is not None and local in ready:
                chan.send(os.read(local, 1024))
            if chan.closed and not chan.exit_status_ready():
                raise EOFError("connection lost")
    finally:
        if saved is not None and local is not None:
            termios.tcsetattr(local, termios.TCSADRAIN, saved)
    return how


class _Step:
    """Pumps one step's channel: output, timeout/cancel, the epilogue, then the Result."""

    def __init__(
        self, runner: SSHRunner, chan: paramiko.Channel, command: Command,
        on_output: OutputCallback, cancel: threading.Event, start: float,
    ) -> None:
        self.runner, self.chan, self.command = runner, chan, command
        self.on_output, self.cancel, self.start = on_output, cancel, start
        self.frames = _Frames(runner._mark_bytes)
        self.buffers = {"stdout": OutputBuffer(), "stderr": OutputBuffer()}
        self.decoders = {
            s: codecs.getincrementaldecoder("utf-8")(errors="replace") for s in self.buffers
        }

    def _emit(self, stream: str, data: bytes, final: bool = False) -> None:
        if data:
            self.buffers[stream].write(data)
        text = self.decoders[stream].decode(data, final=final)
        if text:
            self.on_output(stream, text)  # type: ignore[arg-type]

    def _read(self) -> None:
        chan = self.chan
        while chan.recv_ready():
            self._emit("stdout", chan.recv(65536))
        while chan.recv_stderr_ready():
            self._emit("stderr", self.frames.feed(chan.recv_stderr(65536)))

    def pump(self) -> Result:
        chan, command = self.chan, self.command
        deadline = None if command.timeout is None else self.start + command.timeout
        how: str | None = None
        give_up: float | None = None
        exited: float | None = None
        stopper: paramiko.Channel | None = None
        lost = False
        while True:
            now = time.monotonic()
            if how is None and (self.cancel.is_set() or deadline is not None and now >= deadline):
                how = "interrupted" if self.cancel.is_set() else "timeout"
                give_up = now + 2 * GRACE_S + 2.0
            if how is not None and stopper is None and self.frames.pid is not None:
                stopper = self.runner.stop_remote(self.frames.pid)  # once the pid has arrived
            self._read()
            if chan.exit_status_ready():
                exited = exited or now
                if chan.eof_received or now - exited > DRAIN_S:
                    self._read()
                    break
            if chan.closed and not chan.recv_ready() and not chan.recv_stderr_ready():
                lost = not chan.exit_status_ready()
                break
            if give_up is not None and now > give_up:
                break
            if chan.eof_received:
                chan.status_event.wait(POLL_S)  # EOF came first: wait for the exit status only
            else:
                wait = POLL_S if deadline is None or how else max(0.0, min(POLL_S, deadline - now))
                select.select([chan], [], [], wait)
        self._emit("stderr", self.frames.flush(), final=True)
        self._emit("stdout", b"", final=True)
        code = chan.recv_exit_status() if chan.exit_status_ready() else None
        chan.close()
        if stopper is not None:
            stopper.close()
        for buffer in self.buffers.values():
            buffer.close()
        if how is None and code in (None, -1) and self.frames.state_and_outputs() is None:
            lost = lost or self._transport_died()  # no exit status and no epilogue
        duration = time.monotonic() - self.start
        if lost:
            self.runner._drop()
            return self._result(None, "error", duration, {}, error="connection lost")
        outputs = self.runner.finish(command, self.frames)
        code = None if code is None or code < 0 or (how and code > 128) else code
        return self._result(code, how or ("ok" if code == 0 else "failed"), duration, outputs)

    def _transport_died(self) -> bool:
        """The step ended without its epilogue: was it the connection (sshd killed) or a signal?"""
        transport = self.runner._chain[-1] if self.runner._chain else None
        end = time.monotonic() + 0.5
        while transport is not None and transport.is_active() and time.monotonic() < end:
            time.sleep(0.02)
        return transport is None or not transport.is_active()

    def _result(
        self, code: int | None, status: str, duration: float, outputs: dict[str, str],
        error: str | None = None,
    ) -> Result:
        out, err = self.buffers["stdout"], self.buffers["stderr"]
        return Result(
            exit_code=code, status=status, duration_s=duration,  # type: ignore[arg-type]
            stdout=out.text(), stderr=err.text(), stdout_truncated=out.truncated,
            stderr_truncated=err.truncated, outputs=outputs, error=error,
        )
