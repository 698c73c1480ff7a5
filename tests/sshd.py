"""A real OpenSSH sshd on 127.0.0.1 for tests and benchmarks: own host key, config, aliases."""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
TEST_USER = "rbtest"
#: a second user the test user may sudo to (``user=rbtest2`` steps)
SUDO_OTHER_USER = "rbtest2"
#: the test user's login password, which its sudo rule asks for (never NOPASSWD)
SUDO_PASSWORD = "rb-sudo-Pw-5d81c0e2"
SUDOERS_DROPIN = Path("/etc/sudoers.d/rbtest-runbook-test")
#: aliases written to the generated ssh config, all pointing at the one test sshd
WEB_ALIASES = tuple(f"web{i}" for i in range(1, 21))
FLEET_ALIASES = tuple(f"fleet{i}" for i in range(1, 101))


def unavailable_reason() -> str | None:
    """Why a test sshd cannot be started here, or None when it can."""
    if not Path(SSHD).exists():
        return f"{SSHD} not installed (apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "the test sshd needs root (to create the test user and run sshd)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen not installed"
    return None


def ensure_user(name: str = TEST_USER, password: str | None = None) -> None:
    """Create a system user with bash and a home, once; reuse it when it already exists."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], check=True)
    if password is not None:
        # A real password (sudo asks for it); sshd only takes keys, so logins stay key-only.
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n".encode(), check=True)
    else:
        # A locked account ("!" in shadow) is refused by sshd when UsePAM is off; "*" is not.
        subprocess.run(["usermod", "-p", "*", name], check=True)


def sudo_unavailable_reason() -> str | None:
    """Why sudo steps cannot be tested here, or None when they can."""
    if shutil.which("sudo") is None or shutil.which("visudo") is None:
        return "sudo not installed (apt-get install sudo)"
    if os.geteuid() != 0:
        return "setting up the sudo test user needs root"
    return None


def ensure_sudo(user: str = TEST_USER, other: str = SUDO_OTHER_USER) -> None:
    """Let ``user`` sudo to root and to ``other`` WITH its password (the prompt path). Idempotent.

    The drop-in is validated by ``visudo -cf`` before it is moved into place, so a bad rule can
    never lock sudo out on the machine running the tests.
    """
    ensure_user(user, SUDO_PASSWORD)
    ensure_user(other)
    rule = (f"# runbook-engine tests (tests/sshd.py): sudo with a password, never NOPASSWD\n"
            f"{user} ALL=(root,{other}) ALL\n")
    if SUDOERS_DROPIN.exists() and SUDOERS_DROPIN.read_text() == rule:
        return
    fd, tmp = tempfile.mkstemp(dir=SUDOERS_DROPIN.parent, prefix=".rbtest-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(rule)
        os.chmod(tmp, 0o440)
        subprocess.run(["visudo", "-cf", tmp], check=True, capture_output=True)
        os.replace(tmp, SUDOERS_DROPIN)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keygen(path: Path, comment: str, passphrase: str = "") -> str:
    """Make an ed25519 key pair; return the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)],
        check=True,
    )
    return path.with_suffix(".pub").read_text().strip()


def keygen_typed(path: Path, kind: str, comment: str) -> str:
    """Make a key pair of ``kind`` (ed25519, rsa, ecdsa); return the public key line."""
    size = {"rsa": ["-b", "3072"], "ecdsa": ["-b", "256"]}.get(kind, [])
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *size, "-N", "", "-C", comment, "-f",
                    str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def fingerprint(pub_line: str) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint of a public key line."""
    blob = base64.b64decode(pub_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, even by SIGKILL (no orphaned sshd)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _descendants(pid: int) -> list[int]:
    """All live descendants of ``pid`` (through /proc), children first found first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class SSHServer:
    """A running test sshd and the client-side files that reach it."""

    root: Path
    port: int
    user: str
    key_path: Path
    host_pub: str
    host_fingerprint: str
    known_hosts: Path
    ssh_config: Path
    proc: subprocess.Popen[bytes] | None = None
    aliases: tuple[str, ...] = field(default=WEB_ALIASES + FLEET_ALIASES)
    #: the sshd binary or a link to it: sshd names its PAM service after its own file name
    program: str = SSHD
    #: every host key's public line (the first is ``host_pub``)
    host_pubs: tuple[str, ...] = ()

    @property
    def sshd_config(self) -> Path:
        return self.root / "sshd_config"

    @property
    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {' '.join(self.host_pub.split()[:2])}\n"

    def start(self) -> None:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
        log = (self.root / "sshd.log").open("ab")
        self.proc = subprocess.Popen(
            [self.program, "-D", "-e", "-f", str(self.sshd_config)],
            stdout=log, stderr=log, start_new_session=True, preexec_fn=_die_with_parent,
        )
        self._wait_listening()

    def _wait_listening(self, limit: float = 10.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def kill(self) -> None:
        """SIGKILL sshd and every process it started (connections and their sessions)."""
        if self.proc is None:
            return
        victims = [self.proc.pid, *_descendants(self.proc.pid)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _sshd_config_text(root: Path, port: int, user: str, host_keys: tuple[str, ...] = ("ed25519",),
                      options: tuple[str, ...] = ()) -> str:
    # sshd takes the first value of a keyword: options given first override the defaults below
    return "\n".join([
        *options,
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        *(f"HostKey {root / f'host_{kind}'}" for kind in host_keys),
        f"PidFile {root / 'sshd.pid'}",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "StrictModes no",
        f"AuthorizedKeysFile {root / 'authorized_keys'}",
        f"AllowUsers {user}",
        "PermitRootLogin no",
        "AllowTcpForwarding yes",  # ProxyJump through this same server
        "MaxStartups 300",  # the fleet benchmark connects 100 aliases at once
        "MaxSessions 50",
        "UseDNS no",
        "PrintMotd no",
        "LogLevel ERROR",
        "",
    ])


def _ssh_config_text(server: SSHServer) -> str:
    names = " ".join(server.aliases)
    common = [
        "    HostName 127.0.0.1",
        f"    Port {server.port}",
        f"    User {server.user}",
        f"    IdentityFile {server.key_path}",
        "    IdentitiesOnly yes",
        f"    UserKnownHostsFile {server.known_hosts}",
    ]
    return "\n".join([
        f"Host {names} testhost", *common,
        "",
        "Host jumped", *common, "    ProxyJump web1",
        "",
    ])


def start_server(user: str = TEST_USER, *, host_keys: tuple[str, ...] = ("ed25519",),
                 options: tuple[str, ...] = (), pam_service: str | None = None) -> SSHServer:
    """Create keys, configs and the user; start sshd. Raises RuntimeError when it cannot.

    ``host_keys``: the host key types it offers (``("rsa",)`` for an RSA-only server, with
    ``options=("HostKeyAlgorithms rsa-sha2-512,rsa-sha2-256",)``); ``options``: sshd_config
    lines that win over the defaults; ``pam_service``: run sshd under that name, so PAM reads
    ``/etc/pam.d/<pam_service>`` (see ``ensure_pam_service``).
    """
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    # A known password for the sudo tests (sshd itself only takes keys).
    ensure_user(user, SUDO_PASSWORD)
    root = Path(tempfile.mkdtemp(prefix="rb-sshd-"))
    root.chmod(0o755)  # sshd reads authorized_keys as the test user
    client = root / "client"
    client.mkdir(mode=0o700)
    pubs = tuple(keygen_typed(root / f"host_{kind}", kind, "test-host") for kind in host_keys)
    host_pub = pubs[0]
    client_pub = keygen(client / "id_ed25519", "test-client")
    (root / "authorized_keys").write_text(client_pub + "\n")
    (root / "authorized_keys").chmod(0o644)
    port = free_port()
    (root / "sshd_config").write_text(_sshd_config_text(root, port, user, host_keys, options))
    program = SSHD
    if pam_service is not None:
        program = str(root / pam_service)
        os.symlink(SSHD, program)
    server = SSHServer(
        root=root, port=port, user=user, key_path=client / "id_ed25519", host_pub=host_pub,
        host_fingerprint=fingerprint(host_pub), known_hosts=client / "known_hosts",
        ssh_config=client / "config", program=program, host_pubs=pubs,
    )
    server.known_hosts.write_text(server.known_hosts_line)
    server.ssh_config.write_text(_ssh_config_text(server))
    server.start()
    return server


def ensure_pam_service(name: str, text: str) -> None:
    """Write ``/etc/pam.d/<name>`` (a PAM service only the test sshd of that name uses)."""
    path = Path("/etc/pam.d") / name
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
