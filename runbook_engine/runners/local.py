"""LocalRunner: each step in bash with set -eo pipefail, own process group, session carry-over."""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from typing import cast

from ..outputs import parse_outputs
from . import ended as body_ended
from .base import Command, Process, Runner
from .process import ChildProcess
from .reaper import ALIVE, Reaper, register_line, sweep_stale
from .script import StateCache, code_first_line, next_session, wrap
from .shell_server import ServedProcess, ShellServer, write_private

PREFIX = "runbook-"


def _private_tmp() -> str:
    """A 0700 directory, on tmpfs when there is one: the per-step files are written every step.
    Named after our pid, so a later run can tell (and remove) the folders of runs that died."""
    prefix = f"{PREFIX}{os.getpid()}-"
    for base in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm", tempfile.gettempdir()):
        if base and os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            sweep_stale(base, PREFIX)
            with contextlib.suppress(OSError):
                return tempfile.mkdtemp(prefix=prefix, dir=base)
    return tempfile.mkdtemp(prefix=prefix)


class LocalRunner(Runner):
    """Runs commands on this machine; ``session`` carries cwd and exported env between steps.

    Plain bash steps run in a subshell forked by a long-lived bash (``use_server``); interactive
    steps, other shells and sudo steps start their own process.
    Inside a served step ``$$`` is the server's pid (``$BASHPID`` is the step's).
    ``ended``: the run's body-ended record file (see ``ended.py``), written by each step's shell.
    """

    name = "local"

    def __init__(
        self,
        base_env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        spill_dir: str | None = None,
        use_server: bool = True,
        hold: tuple[int, ...] = (),
        ended: str | None = None,
    ) -> None:
        super().__init__()
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.workdir = workdir
        self.spill_dir = spill_dir
        self.use_server = use_server
        self._tmp: str | None = None
        self._server: ShellServer | None = None
        self._hold = hold  # kept open by the reaper until our steps are stopped (see reaper.py)
        self._reaper: Reaper | None = None
        self._states = StateCache()
        self._ended = ended  # removed by the run when it ends (runcmd.run_loaded)
        self._ended_made = False

    # -- temp files, one private directory reused for every step --------------------------------

    def _dir(self) -> str:
        if self._tmp is None or not os.path.isdir(self._tmp):
            if self._reaper is not None:
                self._reaper.close()
            self._tmp = _private_tmp()
            self._reaper = Reaper(self._tmp, self._hold)
        return self._tmp

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._reaper is not None:
            self._reaper.close()
            self._reaper = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- the process protocol -------------------------------------------------------------------

    def start(self, command: Command) -> Process:
        folder = self._dir()
        state_path, output_path, stdin_path = (os.path.join(folder, name)
                                               for name in ("state", "output", "stdin"))
        # Truncating existing files is cheaper than unlink + create; an empty state = none written.
        for path in (state_path, output_path):
            _empty(path)
        if command.interactive and command.interpreter:
            # the terminal is the step's stdin when interactive: feed the code from its file
            feed = f"{command.interpreter} < {shlex.quote(stdin_path)}"
            command = replace(command, interpreter=feed)
        prefix = _sudo_prefix(command)
        script = wrap(command, self.session, state_path=state_path, output_path=output_path,
                      ended=self._record_line(command, folder) if not prefix else "")
        if command.interpreter:
            write_private(stdin_path, command.code)
        argv = [*prefix, command.shell or "bash", "-c", script]
        env, cwd = self.base_env, self.workdir
        if self.use_server and not prefix and argv[0] == "bash" and not command.interactive:
            if self._server is None or not self._server.alive():
                if self._server is not None:
                    self._server.close()
                self._server = ShellServer(self.base_env, self.workdir, folder)
            # the step's subshell registers its own group with the reaper before anything runs;
            # on the script's first line, so bash's line numbers still match code_first_line
            served = f"{register_line(folder)}; {script}"
            return self._server.start(served, with_stdin=bool(command.interpreter))
        # a step started on its own registers itself, then becomes the step (same pid and group)
        argv = ["bash", "-c", f'{register_line(folder)}; exec "$@"', "runbook", *argv]
        if command.interactive:
            return ChildProcess(argv, env=env, cwd=cwd, terminal=True)
        if not command.interpreter:
            return ChildProcess(argv, env=env, cwd=cwd)
        with open(stdin_path, "rb") as stdin:
            return ChildProcess(argv, env=env, cwd=cwd, stdin=stdin)

    def _record_line(self, command: Command, folder: str) -> str:
        """The trap's line recording that this attempt's body ended (none as another user: it
        could not write our file)."""
        if not self._ended or not command.attempt_id:
            return ""
        if not self._ended_made:
            try:
                body_ended.create(self._ended)
            except OSError:  # the transcript's folder refuses it: at least once, as before
                self._ended = None
                return ""
            self._ended_made = True
        return body_ended.record_command(self._ended, os.path.join(folder, ALIVE),
                                         command.attempt_id)

    def code_first_line(self, command: Command) -> int:
        return code_first_line(command, self.session)

    def finish(self, command: Command, process: Process) -> dict[str, str]:
        if self._reaper is not None:
            self._reaper.forget(process.pgid if isinstance(process, ServedProcess)
                                else cast(ChildProcess, process).proc.pid)
        folder = self._dir()
        data = _read_file(os.path.join(folder, "state"))
        if data:  # empty: exec'd away, own EXIT trap, or killed: the session stays as it was
            self.session = next_session(data, self.base_env, command, self.session,
                                        self._states)
        text = _read_file(os.path.join(folder, "output"))  # by name: a step may replace it
        return parse_outputs(text.decode("utf-8", errors="replace")) if text else {}


def _sudo_prefix(command: Command) -> list[str]:
    """``sudo -u USER --`` for sudo/user steps (nothing when we already are that user).

    Without a terminal sudo cannot ask for a password: ``-n`` makes it fail at once, with its own
    message, instead of hanging. A step run as another user cannot write the session state into
    our private directory, so its cd/export do not carry over.
    """
    if not (command.sudo or command.user):
        return []
    user = command.user or "root"
    if (user == "root" and os.geteuid() == 0) or user == _current_user():
        return []
    return ["sudo", *([] if command.interactive else ["-n"]), "-u", user, "--"]


def _current_user() -> str | None:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # no passwd entry (containers): only "root" is known for uid 0
        return None


# The two files below are touched twice a step: plain os calls (3-4 system calls), not Python's
# buffered file objects (9 each: fstat twice, an ioctl, two seeks).

def _empty(path: str) -> None:
    """The 0600 file at ``path``, made empty (created when missing)."""
    try:
        os.truncate(path, 0)
    except FileNotFoundError:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))


def _read_file(path: str) -> bytes:
    """The whole file at ``path``; empty when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    try:
        parts = []
        while data := os.read(fd, 1 << 16):
            parts.append(data)
        return b"".join(parts)
    finally:
        os.close(fd)
