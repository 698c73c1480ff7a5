"""Regexes a runbook brings (``pattern``, ``expect``, ``extract``), matched with a deadline.

Python's ``re`` backtracks: ``(a+)+$`` against forty ``a`` and a ``!`` runs for hours and cannot
be interrupted from another thread. A pattern that cannot backtrack (no repetition, no
alternation) is matched here; any other is matched in a forked child that is killed at the
deadline, so a hostile pattern costs at most ``MAX_SECONDS`` and one line saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import time

MAX_SECONDS = 1.0
_BACKTRACKS = re.compile(r"[*+?{|]")


class PatternTimeout(Exception):
    """The pattern did not finish matching within the deadline (catastrophic backtracking)."""

    def __init__(self, pattern: str, seconds: float) -> None:
        super().__init__(f"regular expression {pattern!r} takes too long to match "
                         f"(over {seconds:g} s; it backtracks: simplify it)")


def search(pattern: str, text: str, flags: int = 0, whole: bool = False,
           seconds: float = MAX_SECONDS) -> str | None:
    """What ``pattern`` finds in ``text`` (group 1 when it has groups, else the match; ``""``
    for an empty or unmatched group), or None when it does not match.

    ``whole``: the pattern must match all of ``text`` (``re.fullmatch``). Raises ``re.error``
    for a bad pattern and ``PatternTimeout`` past the deadline."""
    compiled = re.compile(pattern, flags)
    if not _BACKTRACKS.search(pattern):
        return _found(compiled, text, whole)
    return _in_child(compiled, text, whole, seconds)


def _found(compiled: re.Pattern[str], text: str, whole: bool) -> str | None:
    match = compiled.fullmatch(text) if whole else compiled.search(text)
    if match is None:
        return None
    return (match.group(1) if compiled.groups else match.group(0)) or ""


def _in_child(compiled: re.Pattern[str], text: str, whole: bool, seconds: float) -> str | None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: match, write the answer, leave at once (no cleanup, no imports)
        status = 0
        try:
            os.close(read_end)
            data = json.dumps([_found(compiled, text, whole)]).encode()
            while data:
                data = data[os.write(write_end, data):]
        except BaseException:  # noqa: BLE001 - the parent sees a short answer
            status = 1
        os._exit(status)
    os.close(write_end)
    try:
        answer = _read_until(read_end, time.monotonic() + seconds)
    finally:
        os.close(read_end)
        _reap(pid)
    if answer is None:
        raise PatternTimeout(compiled.pattern, seconds)
    try:
        found: list[str | None] = json.loads(answer)
        return found[0]
    except (ValueError, IndexError):  # the child failed (memory): match here, it is not slow
        return _found(compiled, text, whole)


def _read_until(fd: int, deadline: float) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _reap(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)  # done or not: a child never outlives its match
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except ChildProcessError:
            return
        except InterruptedError:
            continue
