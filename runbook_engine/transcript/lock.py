"""One writer per transcript: an exclusive ``flock`` held while a run writes it, and who holds it.

The lock lives on the transcript's own open file (never unlinked, so there is no race between a
lock file's removal and a new holder). A run's local process reaper inherits that open file and
keeps the lock until the steps of a run that died are stopped, so ``--resume`` cannot start a step
that may still be running. The holder is found in ``/proc/locks`` (Linux; the pid that took it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path

from ..model import RunbookError

#: how long to wait for the lock when its holder has died (its reaper is stopping its steps)
DEAD_HOLDER_WAIT_S = 10.0
_POLL_S = 0.05


def lock(fd: int, path: Path) -> None:
    """Hold the transcript's exclusive lock, or refuse with one line naming the holder. A holder
    that died leaves its reaper stopping its steps: wait for that (a few seconds) first."""
    deadline: float | None = None
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        except OSError:  # a file system without locks: one writer is then up to the operator
            return
        pid = holder(fd)
        if pid is not None and _alive(pid):
            break
        # a dead holder's reaper (or one /proc/locks does not show): wait a little for it
        deadline = deadline or time.monotonic() + DEAD_HOLDER_WAIT_S
        if time.monotonic() >= deadline:
            if pid is None:
                break
            raise RunbookError(f"still locked by the steps of a run that died (runbook pid {pid} "
                               f"on {socket.gethostname()}); check that they are stopped",
                               str(path))
        time.sleep(_POLL_S)
    who = f"runbook pid {pid} on {socket.gethostname()}" if pid else "a run on another machine"
    raise RunbookError(f"in use by another run ({who}); wait for it to end, or write another "
                       "transcript", str(path))


def check_free(path: str | Path) -> None:
    """Refuse (as ``lock`` does) a transcript another run is writing; waits for a dead run's
    steps to be stopped. Checked before resuming, so nothing is said or asked first."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return  # reading it says why, in its own words
    try:
        lock(fd, Path(path))
    finally:
        os.close(fd)  # the lock goes with it; the writer takes it again


def holder(fd: int) -> int | None:
    """The pid that holds a flock on the file open at ``fd`` (None when not known here)."""
    stat = os.fstat(fd)
    wanted = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    with contextlib.suppress(OSError):
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            # "1: FLOCK  ADVISORY  WRITE 12345 fe:00:2146825 0 EOF" (blocked waiters: "->")
            if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == wanted:
                with contextlib.suppress(ValueError):
                    return int(fields[4])
    return None


def _alive(pid: int) -> bool:
    """Running (a zombie, killed and not yet reaped by its parent, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        return stat[stat.rfind(b")") + 2:][:1] != b"Z"
    return True
