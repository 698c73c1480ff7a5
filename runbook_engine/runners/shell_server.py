"""The local persistent shell: one long-lived bash that forks a process group per step."""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import signal
import subprocess
import time
from collections.abc import Mapping

from .base import Chunk, Process, ProcessLost
from .process import Pipes, group_alive, signal_group

START_S = 10.0  # how long the server may take to report a step's pid

# One bash per runner forks a subshell per step (fork without exec saves most of the per-step
# cost). ``set -m`` gives each step its own process group. The subshell is forked before its step
# comes, while runbook is still recording the step before (the fork is off the step's way): it
# says its pid at once, then reads "N S" (S=1: stdin from the stdin file), puts stdout/stderr on
# the FIFOs out.N/err.N and runs the wrapped script; the server says its exit status. When the
# requests end (runbook closed the pipe, or died) the waiting subshell marks ``end.<name>`` (a
# name no other server of the folder has) and the server stops.
_SERVER = r"""set -m
__rb_dir=$1 __rb_end=$1/end.$2; shift 2
while :; do
  (
    IFS=' ' read -r __rb_n __rb_in || { : >"$__rb_end"; exit 0; }
    if [[ $__rb_in == 1 ]]; then __rb_src=$__rb_dir/stdin; else __rb_src=/dev/null; fi
    exec >"$__rb_dir/out.$__rb_n" 2>"$__rb_dir/err.$__rb_n" <"$__rb_src"
    set +m; . "$__rb_dir/script"
  ) &
  printf '%s\n' "$!"
  wait "$!"
  __rb_c=$?
  [[ -e $__rb_end ]] && break
  printf '%s\n' "$__rb_c"
done
"""
#: a name for each server, no two alike in this process (whose folders only it uses)
_NAMES = itertools.count(1)


class ShellServer:
    """The long-lived bash (see ``_SERVER``); ``folder`` holds the script and the FIFOs."""

    def __init__(self, env: Mapping[str, str], workdir: str | None, folder: str) -> None:
        self.folder = folder
        self.proc = subprocess.Popen(
            ["bash", "-c", _SERVER, "bash", folder, str(next(_NAMES))], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(env), cwd=workdir,
            start_new_session=True, close_fds=False,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.ctl = self.proc.stdout.fileno()
        os.set_blocking(self.ctl, False)
        self.pending = b""
        self.count = 0
        self.eof = False
        self.broken = False  # out of step with us: a fresh server is started for the next step

    def alive(self) -> bool:
        return not (self.eof or self.broken) and self.proc.poll() is None

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

    def discard(self) -> None:
        self.broken = True
        self.proc.kill()

    def read_line(self, timeout: float) -> str | None:
        """The next reply line; None on timeout or EOF (``self.eof``: the server died)."""
        end: float | None = None
        while b"\n" not in self.pending:
            try:  # non-blocking: what has come is read without asking select first
                data = os.read(self.ctl, 4096)
            except BlockingIOError:
                end = time.monotonic() + timeout if end is None else end
                left = end - time.monotonic()
                if left <= 0 or not select.select([self.ctl], [], [], left)[0]:
                    return None
                continue
            if not data:
                self.eof = True
                return None
            self.pending += data
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode("ascii", errors="replace")

    def start(self, script: str, with_stdin: bool) -> ServedProcess:
        """Ask for the next step running ``script``; raises OSError when the request cannot be
        written. The step's pid is read when it is needed (see ``ServedProcess``)."""
        write_private(os.path.join(self.folder, "script"), script)  # secrets in exports
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
        except BaseException:
            _release(fds, fifos)
            raise
        return ServedProcess(self, fds, fifos)


def write_private(path: str, text: str) -> None:
    """``text`` as the whole of the 0600 file at ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        data = memoryview(text.encode("utf-8", "surrogateescape"))
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


def _release(fds: list[int], fifos: list[str]) -> None:
    for fd in fds:
        os.close(fd)
    for path in fifos:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


class ServedProcess(Process):
    """One step forked by the ShellServer: its own process group. The server's two reply lines
    (the pid, then the exit status) are read as they come, in the loop that reads the output, so
    starting a step costs no round trip; the pid is waited for only when it is needed (a signal,
    the reaper), and a server that never sends it loses the step (ProcessLost)."""

    def __init__(self, server: ShellServer, fds: list[int], fifos: list[str]) -> None:
        self.server, self.fds, self.fifos = server, fds, fifos
        self.pipes = Pipes({fds[0]: "stdout", fds[1]: "stderr"}, server.ctl)
        self.pid: int | None = None
        self.status: str | None = None
        self.done = False
        self.asked = time.monotonic()

    @property
    def pgid(self) -> int:
        """The step's pid, which leads its process group (waited for, up to START_S)."""
        while self.pid is None:
            self._take(self.server.read_line(max(0.0, self.asked + START_S - time.monotonic())))
        return self.pid

    def _take(self, line: str | None) -> None:
        """A reply line (None: none came, or the server died): the pid first, then the status."""
        if self.pid is None:
            if line is None or not line.isdigit():
                self.server.discard()
                raise ProcessLost("the local shell server did not start the step")
            self.pid = int(line)
        elif line is not None or self.server.eof:
            self.status, self.done = line, True
            self.pipes.unwake()

    def _replies(self) -> None:
        """Take the reply lines that have come, without waiting."""
        while not self.done:
            line = self.server.read_line(0)
            if line is None and not self.server.eof:
                return
            self._take(line)

    def read(self, wait: float) -> list[Chunk]:
        chunks, woke = self.pipes.read(wait)
        if woke and not self.done:
            self._replies()
        return chunks

    @property
    def reading(self) -> bool:
        return bool(self.pipes.open)

    def exited(self) -> bool:
        # Reply lines may have come in an earlier read; a server that never answers is lost.
        if not self.done and (b"\n" in self.server.pending or self.server.eof):
            self._replies()
        if self.pid is None and time.monotonic() - self.asked > START_S:
            self._take(None)
        return self.done

    def returncode(self) -> int | None:
        return int(self.status) if self.status and self.status.isdigit() else None

    def signal(self, sig: signal.Signals) -> None:
        signal_group(self.pgid, sig)

    def group_alive(self) -> bool:
        return group_alive(self.pgid)

    def close(self) -> None:
        self.pipes.close()
        _release(self.fds, self.fifos)
        if not self.done or self.status is None:
            self.server.discard()  # its reply never came (or it died): do not reuse it
