"""The body-ended record: a local step's shell notes that its body ended, for ``--resume``.

A step's result is recorded by ``runbook`` just after the step ends; a kill in between would run
the step again on resume. So the step's own EXIT trap (``script.wrap``), first thing after the
body, writes one record over the start of the run's record file (a side file of the
transcript, 0600)::

    runbook-ended 1 <attempt id> <exit status> <EPOCHREALTIME> NUL <cwd> NUL

with builtins only (no fork on the step's way), and only while the run's private folder says
``alive`` (not empty): the reaper empties it before it stops the steps of a run that died, so a
body the reaper stopped (its own TERM trap included) is never taken for one that ended. The attempt
id is the one its ``step_started`` recorded, so a record of an earlier attempt never counts for a
later one. Exported values are left out on purpose: the file is on disk, and they may be secrets.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

MAGIC = b"runbook-ended 1 "


@dataclass(frozen=True)
class BodyEnded:
    """What the record says about the attempt whose body ended."""

    attempt_id: str
    exit_code: int
    ended: float | None  # seconds since the epoch, when the shell had it
    cwd: str | None


def record_command(path: str, alive: str, attempt_id: str) -> str:
    """The trap's line writing the record (``$__rb_rc``, ``$__rb_wd``: the exit status and the
    next step's cwd, set by the trap before it). Written over the last one in place (``1<>``),
    not truncated: ext4 flushes a file truncated and written again as it is closed (some 0.25 ms
    a step here); what an earlier, longer record leaves after the second NUL is not read."""
    return (f"[[ -s {shlex.quote(alive)} ]] && {{ umask 077; printf 'runbook-ended 1 %s %s %s"
            f"\\0%s\\0' {shlex.quote(attempt_id)} \"$__rb_rc\" \"${{EPOCHREALTIME-}}\" "
            f"\"$__rb_wd\" 2>/dev/null 1<>{shlex.quote(path)}; }}")


def create(path: str) -> None:
    """The record file, made empty and 0600 before a step may write it (and so never another
    umask's mode); an existing one (of an earlier session) is emptied only by a step's record."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def read_ended(path: str, attempt_id: str) -> BodyEnded | None:
    """The record at ``path`` when it is whole and of this very attempt; else None."""
    if not attempt_id:
        return None
    try:
        with open(path, "rb") as file:
            data = file.read(1 << 16)
    except OSError:
        return None
    if not data.startswith(MAGIC) or data.count(b"\0") < 2:
        return None  # none, another kind of file, or torn by a kill as it was written
    head, cwd, _ = data[len(MAGIC):].split(b"\0", 2)
    words = head.decode("ascii", errors="replace").split(" ")
    if len(words) != 3 or words[0] != attempt_id or not words[1].isdigit():
        return None
    try:
        ended: float | None = float(words[2].replace(",", "."))  # a locale's decimal comma
    except ValueError:
        ended = None
    return BodyEnded(attempt_id, int(words[1]), ended,
                     cwd.decode("utf-8", errors="surrogateescape") or None)
