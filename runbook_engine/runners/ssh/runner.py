"""SSHRunner: steps on a remote host over one paramiko connection, same semantics as local."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
from collections.abc import Callable
from typing import NoReturn

import paramiko

from ...model import HostTarget
from ...outputs import parse_outputs
from ..base import Command, Process, ProcessLost, Runner, Session, TargetError
from ..script import code_first_line, next_session, wrap
from .auth import Prompts
from .channel import FAULTS, LOST, ChannelProcess, PtyProcess, Signaller, wait_for
from .config import Prompt, read_config
from .connect import Connector, hang_up
from .protocol import Frames, epilogue, outer_script, signaller_script
from .shell import (
    SERVED_LINE_OFFSET,
    SERVED_OUTPUT,
    SERVED_STATE,
    SHELL_LOST,
    Remote,
    RemoteShell,
    ShellProcess,
    open_remote,
)

SUDO_S = "sudo -k -S -p ''"  # password from stdin, no prompt text on stderr


class SSHRunner(Runner):
    """Runs commands on one remote host over a single SSH connection kept for the whole run.

    Steps run in a persistent remote shell (``shell.py``: one round trip per step); interactive
    steps, sudo/user steps, code with NUL bytes, hosts without bash >= 4.4 (and
    ``persistent_shell=False``) take an exec channel of their own per step.
    """

    def __init__(
        self,
        target: HostTarget,
        *,
        ssh_config_path: str | None = None,
        accept_new_host_keys: bool = False,
        ask_pass: Prompt | None = None,
        passphrase_prompt: Prompt | None = None,
        sudo_password_prompt: Prompt | None = None,
        interactive_prompt: Prompt | None = None,
        connect_timeout: float = 10.0,
        persistent_shell: bool = True,
    ) -> None:
        super().__init__()
        self.persistent_shell = persistent_shell
        self.target = target
        self.name = target.name
        self.sudo_password_prompt = sudo_password_prompt
        self._connector = Connector(
            read_config(ssh_config_path), accept_new=accept_new_host_keys,
            prompts=Prompts(password=ask_pass, passphrase=passphrase_prompt,
                            interactive=interactive_prompt),
            timeout=connect_timeout,
        )
        self._chain: list[paramiko.Transport] = []
        self._remote: Remote | None = None  # its records are read by the first step (_settle)
        self._shell: RemoteShell | None = None
        self._serves = False  # the remote can keep a shell
        self._token = token = secrets.token_hex(8)  # per runner: user output cannot forge frames
        self._mark = "\\036\\037rb" + token + "\\037"  # as printf escapes
        self._mark_bytes = b"\x1e\x1frb" + token.encode() + b"\x1f"
        self.tmp = ""
        self.base_env: dict[str, str] = {}
        self._login_bash = True
        self._sudo: dict[str, bool] = {}  # quoted user -> whether sudo to them needs the password
        self._sudo_password: str | None = None  # asked once per host, kept only in memory

    # -- connection ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return bool(self._chain) and self._chain[-1].is_active()

    def connect(self) -> None:
        """Connect (through ProxyJump hops), authenticate, start the remote shell. TargetError."""
        if self.connected:
            return
        self._drop()
        self._chain = self._connector.open(self.target)
        self._open_remote()

    def _open_remote(self) -> None:
        """Start the temp dir, login shell, base environment and the persistent shell; what
        they are is read by ``_settle``, after the first step was sent (no round trip of its own).

        Its channel ends with the connection; then the remote side removes the temp dir, so
        close() needs no round trip of its own.
        """
        try:
            self._remote = open_remote(self._chain[-1], self._connector.timeout, self._token,
                                       stale=self.tmp, serve=self.persistent_shell)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self._setup_failed(exc)
        self._shell = RemoteShell(self._remote, self._mark_bytes)

    def _settle(self) -> None:
        """Read what the set-up learned (at once when it is known). TargetError when it failed."""
        remote = self._remote
        if remote is None or remote.settled:
            return
        try:
            remote.settle()
        except (paramiko.SSHException, OSError, EOFError, ValueError) as exc:
            self._setup_failed(exc)
        self.tmp = remote.tmp
        self._login_bash = os.path.basename(remote.login_shell) == "bash"
        self.base_env = remote.env
        self._serves = remote.serves

    def _setup_failed(self, exc: BaseException) -> NoReturn:
        self._drop()
        why = " ".join(str(exc).split()) or type(exc).__name__  # the remote's stderr: 1 line
        raise TargetError(self.name, f"remote setup failed: {why}") from None

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
            hang_up(transport)
        self._chain = []
        self._remote = self._shell = None

    def close(self) -> None:
        """The connection ends (and with it the remote shell, which removes the temp dir). Its
        reader thread is not woken, as a hang-up would: it ends at its next check, within a
        second; a fleet's 200 woken at once took the GIL from the end of the run for half a
        second (paramiko's own close works so)."""
        for transport in reversed(self._chain):
            transport.close()
        self._chain = []
        self._remote = self._shell = None

    def lost(self) -> None:
        """A lost shell is reopened by the next step; a lost connection is made again."""
        if not (self._shell is not None and self._shell.broken and self.connected):
            self._drop()

    # -- the process protocol -----------------------------------------------------------------

    def _as_bash(self, script: str) -> str:
        return script if self._login_bash else f"exec bash -c {shlex.quote(script)}"

    def start(self, command: Command) -> Process:
        self.connect()  # reconnects when a retry follows a lost connection
        if self._served(command):
            process = self._start_served(command)
            if process is not None:
                return process
        self._settle()
        try:
            prefix, stdin = self._sudo_prefix(command)
            script = wrap(command, self.session, state_path=f"{self.tmp}/state",
                          output_path=f"{self.tmp}/output")
            if command.interactive and stdin:
                return self._start_pty_sudo(command, script, prefix, stdin)
            outer = self._as_bash(outer_script(script, self._mark, self.tmp, prefix))
            chan = self._chain[-1].open_session(timeout=self._connector.timeout)
            if command.interactive:
                return self._start_pty(chan, outer, command)
            chan.exec_command(outer)
            if command.interpreter:
                stdin += command.code.encode()
            if stdin:
                chan.sendall(stdin)
            chan.shutdown_write()
        except FAULTS:
            raise ProcessLost(LOST) from None
        return ChannelProcess(chan, Frames(self._mark_bytes), self._signals(command))

    def _served(self, command: Command) -> bool:
        """Whether the step runs in the persistent shell (else a channel of its own); before
        the set-up's records came, whether it is sent there (they may still say no)."""
        unsettled = self._remote is not None and not self._remote.settled
        serves = self._serves or (unsettled and self.persistent_shell)
        return serves and not (command.interactive or command.sudo or command.user)

    def code_first_line(self, command: Command) -> int:
        first = code_first_line(command, self.session)
        # the persistent shell evals the script: bash numbers its lines from the eval's line
        return first + SERVED_LINE_OFFSET if first and self._served(command) else first

    def _start_served(self, command: Command) -> ShellProcess | None:
        """The step in the persistent shell; None when it must take a channel of its own."""
        script = wrap(command, self.session, state_path=SERVED_STATE, output_path=SERVED_OUTPUT,
                      shell_words=True).encode("utf-8", "surrogateescape")
        stdin = command.code.encode("utf-8", "surrogateescape") if command.interpreter else b""
        if b"\0" in script or b"\0" in stdin:
            return None
        for _ in range(2):
            if self._shell is None or not self._shell.usable():
                self._open_remote()  # it died (killed, out of memory) since the last step
            assert self._shell is not None
            shell = self._shell
            try:
                shell.send(script, stdin, command.more_follow)
            except ProcessLost:
                self._settle()  # a set-up that failed says why (TargetError)
                raise
            self._settle()  # the records came before the step's own answer
            if not self._serves:
                return None  # the remote read the step and dropped it: nothing ran
            process = shell.started(self._signals(command), self._connector.timeout)
            if process is not None:
                return process
        raise ProcessLost(SHELL_LOST)

    def _signals(self, command: Command) -> Signaller:
        return Signaller(self._chain[-1], self._signaller(command), self._connector.timeout)

    def _signaller(self, command: Command) -> Callable[[int, str], tuple[str, bytes]]:
        """How to start the signaller of a step: as the step's user, through the same sudo."""

        def start(pgid: int, first: str) -> tuple[str, bytes]:
            script = signaller_script(pgid, first)
            prefix, stdin = self._sudo_prefix(command)  # settled by the step: no round trip
            if prefix:
                script = f"{prefix}bash -c {shlex.quote(script)}"
            return self._as_bash(script), stdin

        return start

    def _start_pty(self, chan: paramiko.Channel, outer: str, command: Command) -> PtyProcess:
        """A remote pty; with it stderr is merged into the terminal, so the state is fetched
        afterwards (``finish``), and sudo asks on the remote terminal itself (echo off there)."""
        size = shutil.get_terminal_size()
        chan.get_pty(term=os.environ.get("TERM", "xterm"), width=size.columns, height=size.lines)
        chan.exec_command(outer.replace(" >&2", " >/dev/null").replace(SUDO_S, "sudo"))
        if command.interpreter:
            chan.sendall(command.code.encode())
        return PtyProcess(chan)

    def _start_pty_sudo(self, command: Command, script: str, prefix: str, password: bytes
                        ) -> PtyProcess:
        """A sudo step on a remote terminal with the password we already asked (once a host).

        The remote shell turns echo off and says so; only then the password is sent, read into
        a shell variable and piped to ``sudo -S`` (a builtin printf: never in an argv); the step
        itself reads the terminal again (``/dev/tty``)."""
        head = f"stty -echo; printf '{self._mark}W\\n'; IFS= read -r __rb_pw; stty echo\n"
        piped = "printf '%s\\n' \"$__rb_pw\" | "
        outer = head + outer_script("exec 0</dev/tty\n" + script, self._mark, self.tmp,
                                    piped + prefix)
        chan = self._chain[-1].open_session(timeout=self._connector.timeout)
        size = shutil.get_terminal_size()
        chan.get_pty(term=os.environ.get("TERM", "xterm"), width=size.columns, height=size.lines)
        chan.exec_command(self._as_bash(outer).replace(" >&2", " >/dev/null"))
        wait_for(chan, self._mark_bytes + b"W", self._connector.timeout)
        chan.sendall(password)
        if command.interpreter:
            chan.sendall(command.code.encode())
        return PtyProcess(chan)

    def finish(self, command: Command, process: Process) -> dict[str, str]:
        """Update the session from the step's epilogue; return its $RUNBOOK_OUTPUT values."""
        if isinstance(process, ShellProcess):
            got = process.state_and_outputs()
        elif isinstance(process, ChannelProcess):
            got = process.frames.state_and_outputs()
        else:
            st, op = shlex.quote(f"{self.tmp}/state"), shlex.quote(f"{self.tmp}/output")
            mark = self._mark
            try:
                post = self._exec(f"cat {st}; printf '{mark}O'; cat {op}; printf '{mark}E'")[1]
            except FAULTS:
                raise ProcessLost(LOST) from None
            got = epilogue(post, self._mark_bytes)
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

    def _sudo_prefix(self, command: Command) -> tuple[str, bytes]:
        """The sudo prefix for a sudo/user step and what goes first on its stdin (the password).

        ``-k`` ignores cached sudo credentials, so sudo always reads the password line we send and
        it can never be left on stdin for the step's own commands to read.
        """
        if not (command.sudo or command.user):
            return "", b""
        user = shlex.quote(command.user or "root")
        if user not in self._sudo:
            code, _, _ = self._exec(f"sudo -n -k -u {user} -- true")
            self._sudo[user] = code != 0
            if code != 0:
                try:
                    self._check_sudo_password(user)
                except BaseException:
                    del self._sudo[user]  # not settled: the next sudo step asks again
                    raise
        if not self._sudo[user]:
            return f"sudo -n -u {user} -- ", b""
        # The password goes on stdin (sudo -S reads one line), never on a command line or a log.
        return f"{SUDO_S} -u {user} -- ", (self._sudo_password or "").encode() + b"\n"

    def _check_sudo_password(self, user: str) -> None:
        """Ask the sudo password once per host, and try it at once so a wrong one fails clearly."""
        if self._sudo_password is None:
            if self.sudo_password_prompt is None:
                raise TargetError(self.name, "sudo needs a password and none can be asked")
            login = self.base_env.get("USER")
            who = f"{login}@{self.name}" if login else self.name
            self._sudo_password = self.sudo_password_prompt(f"[sudo] password for {who}: ")
        code, _, err = self._exec(f"{SUDO_S} -u {user} -- true",
                                  self._sudo_password.encode() + b"\n")
        if code != 0:
            self._sudo_password = None  # most likely mistyped: ask again next time
            lines = [ln.strip() for ln in err.decode(errors="replace").splitlines() if ln.strip()]
            why = lines[-1].removeprefix("sudo: ") if lines else f"exit status {code}"
            raise TargetError(self.name, f"sudo -u {user} on {self.name} refused: {why}")
