"""LocalRunner: each step in bash with set -eo pipefail, own process group, session carry-over."""

from __future__ import annotations

import contextlib
import os
import pwd
import select
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ..outputs import StepOutput, parse_outputs
from .base import GRACE_S, POLL_S, Command, OutputCallback, Result, Runner, Stream
from .script import next_session, wrap

DRAIN_S = 0.5  # how long to keep reading after the step exited while a background job holds a pipe

# The shell server: one bash per runner that forks a subshell per step (fork without exec saves
# most of the per-step cost). ``set -m`` gives each step its own process group. Per step it reads
# "N S" (S=1: stdin from the stdin file), runs the wrapped script with stdout/stderr on the FIFOs
# out.N/err.N, and answers two lines: the step's pid, then its exit status.
_SERVER = r"""set -m
__rb_dir=$1; shift
while IFS=' ' read -r __rb_n __rb_in; do
  if [[ $__rb_in == 1 ]]; then __rb_src=$__rb_dir/stdin; else __rb_src=/dev/null; fi
  ( set +m; . "$__rb_dir/script" ) >"$__rb_dir/out.$__rb_n" 2>"$__rb_dir/err.$__rb_n" \
    <"$__rb_src" &
  printf '%s\n' "$!"
  wait "$!"
  printf '%s\n' "$?"
done
"""


def _private_tmp() -> str:
    """A 0700 directory, on tmpfs when there is one: the per-step files are written every step."""
    for base in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if base and os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            with contextlib.suppress(OSError):
                return tempfile.mkdtemp(prefix="runbook-", dir=base)
    return tempfile.mkdtemp(prefix="runbook-")


class LocalRunner(Runner):
    """Runs commands on this machine; ``session`` carries cwd and exported env between steps.

    Plain bash steps run in a subshell forked by a long-lived bash (``use_server``); interactive
    steps, other shells and interpreters with a shell other than bash start their own process.
    Inside a served step ``$$`` is the server's pid (``$BASHPID`` is the step's).
    """

    name = "local"

    def __init__(
        self,
        base_env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        spill_dir: str | None = None,
        use_server: bool = True,
    ) -> None:
        super().__init__()
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.workdir = workdir
        self.spill_dir = spill_dir
        self.use_server = use_server
        self._tmp: str | None = None
        self._server: _ShellServer | None = None
        self._spills = 0

    # -- temp files, one private directory reused for every step --------------------------------

    def _dir(self) -> str:
        if self._tmp is None or not os.path.isdir(self._tmp):
            self._tmp = _private_tmp()
        return self._tmp

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _spill(self, command: Command) -> Callable[[str], str | None]:
        def path(stream: str) -> str | None:
            if self.spill_dir is None:
                return None
            self._spills += 1
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in command.step_id)
            return os.path.join(self.spill_dir, f"{safe}-{self._spills}.{stream}")

        return path

    # -- running ----------------------------------------------------------------------------------

    def run(self, command: Command, on_output: OutputCallback, cancel: threading.Event) -> Result:
        folder = self._dir()
        state_path = os.path.join(folder, "state")
        output_path = os.path.join(folder, "output")
        stdin_path = os.path.join(folder, "stdin")
        # Truncating existing files is cheaper than unlink + create; an empty state = none written.
        for path in (state_path, output_path):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        if command.interactive and command.interpreter:
            # the terminal is the step's stdin when interactive: feed the code from its file
            feed = f"{command.interpreter} < {shlex.quote(stdin_path)}"
            command = replace(command, interpreter=feed)
        script = wrap(command, self.session, state_path=state_path, output_path=output_path)
        if command.interpreter:
            with open(stdin_path, "w", encoding="utf-8") as handle:
                handle.write(command.code)
        start = time.monotonic()
        if command.interactive:
            argv = [*_sudo_prefix(command), command.shell or "bash", "-c", script]
            code, how = _run_interactive(argv, self.base_env, self.workdir, command, cancel)
            pump = None
        else:
            pump = _Pump(on_output, self._spill(command))
            try:
                code, how = self._run_captured(command, script, stdin_path, pump, cancel)
            except OSError as exc:
                pump.close()
                return Result(None, "error", time.monotonic() - start, error=str(exc))
            pump.close()
        duration = time.monotonic() - start
        self._update_session(state_path, command)
        out, err = (pump.buffers["stdout"], pump.buffers["stderr"]) if pump else (None, None)
        return Result(
            exit_code=code,
            status=how or ("ok" if code == 0 else "failed"),
            duration_s=duration,
            stdout=out.text() if out else "",
            stderr=err.text() if err else "",
            stdout_truncated=out.truncated if out else 0,
            stderr_truncated=err.truncated if err else 0,
            outputs=_read_outputs(output_path),
        )

    def _run_captured(
        self, command: Command, script: str, stdin_path: str, pump: _Pump,
        cancel: threading.Event,
    ) -> tuple[int | None, str | None]:
        prefix = _sudo_prefix(command)
        if self.use_server and (command.shell or "bash") == "bash" and not prefix:
            if self._server is None or not self._server.alive():
                self._server = _ShellServer(self.base_env, self.workdir, self._dir())
            with open(os.path.join(self._dir(), "script"), "w", encoding="utf-8") as handle:
                handle.write(script)
            return self._server.run(bool(command.interpreter), pump, command, cancel)
        argv = [*prefix, command.shell or "bash", "-c", script]
        if not command.interpreter:
            return _run_popen(argv, subprocess.DEVNULL, self, command, pump, cancel)
        with open(stdin_path, "rb") as stdin:
            return _run_popen(argv, stdin, self, command, pump, cancel)

    def _update_session(self, state_path: str, command: Command) -> None:
        with open(state_path, "rb") as handle:
            data = handle.read()
        if data:  # empty: exec'd away, own EXIT trap, or killed: the session stays as it was
            self.session = next_session(data, self.base_env, command, self.session)


class _ShellServer:
    """The long-lived bash that forks one subshell per step (see ``_SERVER``)."""

    def __init__(self, env: Mapping[str, str], workdir: str | None, folder: str) -> None:
        self.folder = folder
        self.proc = subprocess.Popen(
            ["bash", "-c", _SERVER, "bash", folder], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(env), cwd=workdir,
            start_new_session=True, close_fds=False,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.ctl = self.proc.stdout.fileno()
        os.set_blocking(self.ctl, False)
        self._pending = b""
        self.count = 0
        self.eof = False

    def alive(self) -> bool:
        return not self.eof and self.proc.poll() is None

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def _read_line(self, timeout: float | None) -> str | None:
        """The next reply line; None on timeout or EOF (``self.eof``: the server died)."""
        end = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = None if end is None else max(0.0, end - time.monotonic())
            ready, _, _ = select.select([self.ctl], [], [], left)
            if not ready:
                return None
            data = os.read(self.ctl, 4096)
            if not data:
                self.eof = True
                return None
            self._pending += data
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode("ascii", errors="replace")

    def run(self, with_stdin: bool, pump: _Pump, command: Command,
            cancel: threading.Event) -> tuple[int | None, str | None]:
        self.count += 1
        fifos = [os.path.join(self.folder, f"{name}.{self.count}") for name in ("out", "err")]
        fds: list[int] = []
        try:
            for path in fifos:
                os.mkfifo(path, 0o600)
                fds.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            assert self.proc.stdin is not None
            self.proc.stdin.write(f"{self.count} {int(with_stdin)}\n".encode())
            self.proc.stdin.flush()
            pid_line = self._read_line(10.0)
            if pid_line is None or not pid_line.isdigit():
                self.proc.kill()
                raise OSError("the local shell server did not start the step")
            pid = int(pid_line)
            pump.add(fds[0], "stdout")
            pump.add(fds[1], "stderr")
            status: list[str | None] = []

            def on_ctl(key: selectors.SelectorKey) -> None:
                line = self._read_line(0)
                if line is not None or self.eof:
                    status.append(line)
                    pump.sel.unregister(self.ctl)

            def exited(wait: float) -> bool:
                # The status line may have come in the same read as the pid line.
                if not status and b"\n" in self._pending:
                    status.append(self._read_line(0))
                    pump.sel.unregister(self.ctl)
                return bool(status)

            pump.sel.register(self.ctl, selectors.EVENT_READ, "ctl")
            how = _pump_loop(pump, command, cancel, exited,
                             lambda: _stop_group(pid, lambda: _pid_gone(pid)), on_ctl)
            if not status:
                status.append(self._read_line(GRACE_S * 3))
            if status[0] is None:
                self.proc.kill()  # out of step with us: start a fresh server next time
                return None, how
            code = int(status[0])
            return (None if how and code > 128 else code), how
        finally:
            for fd in fds:
                os.close(fd)
            for path in fifos:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)


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


def _read_outputs(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    return parse_outputs(text) if text else {}


class _Pump:
    """Pumps a step's stdout and stderr to ``on_output`` (decoded incrementally) and buffers."""

    def __init__(self, on_output: OutputCallback, spill: Callable[[str], str | None]) -> None:
        self.output = StepOutput(on_output, spill)  # type: ignore[arg-type]
        self.buffers = self.output.buffers
        self.sel = selectors.DefaultSelector()
        self.open: dict[int, Stream] = {}

    def add(self, fd: int, stream: Stream) -> None:
        self.sel.register(fd, selectors.EVENT_READ, stream)
        self.open[fd] = stream

    def handle(self, fd: int, stream: Stream) -> None:
        data = os.read(fd, 65536)
        if not data:
            self.sel.unregister(fd)
            del self.open[fd]
        self.output.feed(stream, data, final=not data)

    def close(self) -> None:
        self.sel.close()
        self.output.close()


def _pump_loop(
    pump: _Pump,
    command: Command,
    cancel: threading.Event,
    exited: Callable[[float], bool],
    stop: Callable[[], None],
    other: Callable[[selectors.SelectorKey], None] | None = None,
) -> str | None:
    """Read until EOF on both streams and exit; on timeout or cancel ``stop``. Returns the cause.

    ``exited(wait)`` may block up to ``wait`` seconds; ``other`` handles extra registered fds.
    """
    deadline = None if command.timeout is None else time.monotonic() + command.timeout
    exited_at: float | None = None
    while pump.open or exited_at is None:
        now = time.monotonic()
        if cancel.is_set():
            stop()
            return "interrupted"
        if deadline is not None and now >= deadline:
            stop()
            return "timeout"
        wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - now))
        if exited_at is None and exited(0.0 if pump.open or other else wait):
            exited_at = now
            continue
        if exited_at is not None and now - exited_at > DRAIN_S:
            break  # a background job keeps the pipe open: do not wait for it
        if pump.open or other:
            for key, _ in pump.sel.select(wait):
                if key.data in ("stdout", "stderr"):
                    pump.handle(key.fd, key.data)
                elif other is not None:
                    other(key)
    return None


def _exited(proc: subprocess.Popen[bytes], wait: float) -> bool:
    if wait <= 0:
        return proc.poll() is not None
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        return False
    return True


def _run_popen(
    argv: list[str], stdin: Any, runner: LocalRunner, command: Command, pump: _Pump,
    cancel: threading.Event,
) -> tuple[int | None, str | None]:
    proc = subprocess.Popen(
        argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=runner.base_env, cwd=runner.workdir, start_new_session=True,
        close_fds=False,  # every fd Python opens is non-inheritable; much faster
    )
    assert proc.stdout is not None and proc.stderr is not None
    pump.add(proc.stdout.fileno(), "stdout")
    pump.add(proc.stderr.fileno(), "stderr")
    try:
        how = _pump_loop(pump, command, cancel, lambda wait: _exited(proc, wait),
                         lambda: _stop_group(proc.pid, lambda: proc.poll() is not None))
    finally:
        proc.stdout.close()
        proc.stderr.close()
    code = proc.wait()
    return (code if code >= 0 else None), how


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_group(pgid: int, leader_done: Callable[[], bool]) -> None:
    """SIGINT the process group, then SIGTERM, then SIGKILL, each after a grace period."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            leader_done()
            return
        end = time.monotonic() + (GRACE_S if sig != signal.SIGKILL else 1.0)
        while time.monotonic() < end:
            # Once the leader is gone after SIGINT, what is left are background jobs, which a
            # non-interactive bash started with SIGINT ignored: go on to SIGTERM at once.
            if leader_done() and sig == signal.SIGINT:
                break
            if not _group_alive(pgid):
                return
            time.sleep(0.02)


def _run_interactive(
    argv: list[str],
    env: Mapping[str, str],
    workdir: str | None,
    command: Command,
    cancel: threading.Event,
) -> tuple[int | None, str | None]:
    """Hand the terminal to the step: its own process group in the foreground, no capture."""
    tty = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
    preexec: Callable[[], None] | None = None
    if tty is not None:
        fd = tty

        def preexec() -> None:  # runs in the child, before exec
            old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
            os.tcsetpgrp(fd, os.getpgrp())
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    proc = subprocess.Popen(argv, env=env, cwd=workdir, process_group=0, preexec_fn=preexec)
    deadline = None if command.timeout is None else time.monotonic() + command.timeout
    how: str | None = None
    try:
        while proc.poll() is None:
            if cancel.is_set():
                how = "interrupted"
            elif deadline is not None and time.monotonic() >= deadline:
                how = "timeout"
            if how is not None:
                _stop_group(proc.pid, lambda: proc.poll() is not None)
                break
            time.sleep(POLL_S)
    finally:
        if tty is not None:
            _take_terminal_back(tty)
    code = proc.wait()
    return (code if code >= 0 else None), how


def _take_terminal_back(tty: int) -> None:
    # Blocking SIGTTOU (per thread, so this works from the engine's worker thread) lets a
    # background process group take the terminal back without being stopped.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(tty, os.getpgrp())
    except OSError:
        pass
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
