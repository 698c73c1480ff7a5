"""The run and its local steps die together: a small bash reaper stops them when runbook dies.

``runbook`` holds the only write end of a pipe (close-on-exec, so no step inherits it) whose read
end is the reaper's stdin; nothing is ever written to it. When ``runbook`` ends in any way (its
own close, an exception, SIGKILL, a closed terminal), the pipe reaches end of file and the reaper:

1. empties ``alive`` in the runner's private folder, with a builtin, at once (a step forked
   after this point sees it empty and does not run, and a step it stops writes no body-ended
   record: see ``ended.py``),
2. sends SIGTERM to every process group registered in the folder (``pg.<pgid>``, written by the
   step itself before its code runs, so no start can slip between), then SIGKILL to those still
   there after ``GRACE_S`` (background jobs included),
3. removes the private folder (exported secrets, scripts, state files), and exits.

A group is unregistered when its step has ended (``forget``), so a later pid reuse is never hit.
The reaper also keeps ``hold`` open (the transcript, whose ``flock`` it thereby holds) until the
steps are gone, so a ``--resume`` waits for them instead of running a step twice at once.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import time

#: seconds between SIGTERM and SIGKILL for the steps of a run that died
GRACE_S = 2.0
#: how long ``close`` waits for the reaper's clean-up (it has nothing to stop after a normal run)
CLOSE_WAIT_S = GRACE_S + 1.0
#: folders of runs that died more than this long ago are removed by the next run (their reaper
#: was killed too); a younger one may still be its reaper's work in progress
STALE_S = 60.0

ALIVE = "alive"

_REAPER = r"""trap '' INT HUP
read -r _
__d=$1
: >"$__d/alive"
shopt -s nullglob
__g=("$__d"/pg.*)
__g=("${__g[@]##*/pg.}")
if (( ${#__g[@]} )); then
  for __p in "${__g[@]}"; do kill -TERM -- "-$__p"; done 2>/dev/null
  for (( __i = 0; __i < __TICKS; __i++ )); do
    __a=0
    for __p in "${__g[@]}"; do kill -0 -- "-$__p" 2>/dev/null && __a=1; done
    (( __a )) || break
    sleep 0.1
  done
  for __p in "${__g[@]}"; do kill -KILL -- "-$__p"; done 2>/dev/null
fi
rm -rf -- "$__d"
"""



def register_line(folder: str) -> str:
    """A step's first words, in its own shell however it starts: register its group, and run only
    while the run is alive (its shell leads the group, so its pid is the group's). The marker is
    made 0600 like every file of ours; the step then gets our umask back."""
    quoted = shlex.quote(folder)
    return (f"umask 077; : >{quoted}/pg.$BASHPID 2>/dev/null && [[ -s {quoted}/{ALIVE} ]] || "
            f"exit 125; umask {_UMASK:04o}")


def _current_umask() -> int:
    mask = os.umask(0o077)  # reading it means setting it: put it back at once
    os.umask(mask)
    return mask


_UMASK = _current_umask()


class Reaper:
    """The reaper of one runner's private folder (see the module docstring)."""

    def __init__(self, folder: str, hold: tuple[int, ...] = ()) -> None:
        self.folder = folder
        fd = os.open(os.path.join(folder, ALIVE), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, b"1\n")  # alive while it is not empty
        finally:
            os.close(fd)
        read, self._lifeline = os.pipe()  # both close-on-exec; the reaper gets ``read`` as stdin
        try:
            self.proc = subprocess.Popen(
                ["bash", "-c", _REAPER, "reaper", folder], stdin=read,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=hold,
                start_new_session=True,  # a Ctrl-C or a hang-up of our terminal is not its own
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                     "__TICKS": str(int(GRACE_S * 10))})
        except BaseException:
            os.close(self._lifeline)
            raise
        finally:
            os.close(read)

    def forget(self, pgid: int) -> None:
        """The step of this group has ended: it is no longer ours to stop."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.folder, f"pg.{pgid}"))

    def close(self) -> None:
        """End the reaper now: it stops what is still registered and removes the folder."""
        if self._lifeline < 0:
            return
        os.close(self._lifeline)
        self._lifeline = -1
        with contextlib.suppress(subprocess.TimeoutExpired):  # else it goes on by itself
            self.proc.wait(CLOSE_WAIT_S)
        shutil.rmtree(self.folder, ignore_errors=True)


def sweep_stale(base: str, prefix: str) -> None:
    """Remove private folders of runs that died long ago (``<prefix><pid>-*``, ours only)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(base):
            pid = _owner_pid(entry.name, prefix)
            if pid is None or _running(pid):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if info.st_uid == os.getuid() and now - info.st_mtime > STALE_S:
                    shutil.rmtree(entry.path, ignore_errors=True)


def _owner_pid(name: str, prefix: str) -> int | None:
    if not name.startswith(prefix):
        return None
    digits = name[len(prefix):].split("-", 1)[0]
    return int(digits) if digits.isdigit() else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
