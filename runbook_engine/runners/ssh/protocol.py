"""The remote shell protocol of one step: the outer command, frames on stderr, the signaller."""

from __future__ import annotations

import shlex


def outer_script(script: str, mark: str, tmp: str, prefix: str) -> str:
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


# Whether a process of group $pg still runs; zombies do not count (see process.group_alive).
_LIVE = r"""live() {
  kill -0 -- -$pg 2>/dev/null || return 1
  [ -r /proc/self/stat ] || return 0
  local f s
  for f in /proc/[0-9]*/stat; do
    read -r s < "$f" 2>/dev/null || continue
    set -- ${s##*) }
    [ "$3" = "$pg" ] && [ "$1" != Z ] && return 0
  done
  return 1
}
"""


def signaller_script(pgid: int, first: str) -> str:
    """Signals a step's remote process group: ``first`` at once, then each signal name read on
    stdin; exits (its exit status is the news) as soon as no process of the group runs."""
    return (
        f"pg={pgid}; kill -{first} -- -$pg 2>/dev/null\n{_LIVE}"
        "while live; do\n"
        "  if read -r -t 0.05 s; then kill -\"$s\" -- -$pg 2>/dev/null\n"
        "  elif [ $? -le 128 ]; then sleep 0.05; fi\n"  # stdin at its end: poll without it
        "done\n"
    )


def epilogue(post: bytes, mark: bytes) -> tuple[bytes, bytes] | None:
    """(state, outputs) from what follows the step's output, or None when it is incomplete."""
    state, sep, rest = post.partition(mark + b"O")
    outputs, sep2, _ = rest.partition(mark + b"E")
    return (state, outputs) if sep and sep2 else None


class Frames:
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
        return epilogue(self.post or b"", self.mark)
