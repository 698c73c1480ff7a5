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
    framed = epilogue_script('"$__rb_T"', st, out)
    return (
        f"trap : INT TERM; printf -v __rb_T '{mark}'; printf '%sP%s\\n' \"$__rb_T\" $$ >&2\n"
        f": > {st}; : > {out}\n{inner}\n"
        f"__rb_rc=$?; {{ {framed}}} >&2; exit $__rb_rc\n"
    )


def epilogue_script(mark: str, state: str, output: str) -> str:
    """Bash that writes ``<mark>S<state><mark>O<outputs><mark>E`` (builtins only: no fork)."""
    return (
        f"printf '%sS' {mark}; if [ -s {state} ]; then mapfile -t -d '' __rb_a < {state}; "
        f"printf '%s\\0' \"${{__rb_a[@]}}\"; fi; printf '%sO' {mark}; "
        f"IFS= read -r -d '' __rb_v < {output}; printf '%s%sE' \"$__rb_v\" {mark}; "
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
    """Separates our records from the user's bytes on one stream.

    ``mark`` is random per runner, so the user's output cannot forge it. Line records
    ``<mark><letter><text>\n`` (P: the step's pid, X: its exit status) are each written in one
    write of less than PIPE_BUF bytes, so a pipe never splits one, but they may land anywhere in
    the user's bytes (between two of its writes). ``<mark><end>`` ends the user's bytes: what
    follows (``post``) is ours (the state and outputs epilogue on stderr, nothing on stdout).
    """

    def __init__(self, mark: bytes, end: bytes = b"S") -> None:
        self.mark = mark
        self.end = end
        self.records: dict[str, str] = {}
        self.post: bytes | None = None
        self._pending = b""

    @property
    def pid(self) -> int | None:
        words = self.records.get("P", "").split()
        return int(words[0]) if words and words[0].isdigit() else None

    def feed(self, data: bytes) -> bytes:
        """The user's bytes in ``data`` (ours taken out); a possible record start is held back."""
        buf, self._pending = self._pending + data, b""
        if self.post is not None:
            self.post += buf
            return b""
        mark, kept = self.mark, list[bytes]()
        while True:
            at = buf.find(mark)
            if at < 0:
                hold = _partial_tail(buf, mark)
                kept.append(buf[:len(buf) - hold])
                self._pending = buf[len(buf) - hold:]
                break
            kept.append(buf[:at])
            rest = buf[at + len(mark):]
            if rest[:1] == self.end:
                self.post = rest[1:]
                break
            line, newline, after = rest.partition(b"\n")
            if not newline:  # the record is not complete yet
                self._pending = buf[at:]
                break
            if line:
                self.records[chr(line[0])] = line[1:].decode("ascii", errors="replace")
            buf = after
        return b"".join(kept)

    def flush(self) -> bytes:
        """At the end of the stream: a held-back tail that was no record after all."""
        rest, self._pending = self._pending, b""
        return rest if self.post is None else b""

    def state_and_outputs(self) -> tuple[bytes, bytes] | None:
        """(state, outputs) when the step's epilogue finished, else None (killed, lost)."""
        return epilogue(self.post or b"", self.mark)


def _partial_tail(buf: bytes, mark: bytes) -> int:
    """How many bytes at the end of ``buf`` could begin ``mark`` (split across two reads)."""
    for size in range(min(len(mark) - 1, len(buf)), 0, -1):
        if mark.startswith(buf[-size:]):
            return size
    return 0
