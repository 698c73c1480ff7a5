"""The persistent remote shell: one long-lived bash per host that forks a process group per step.

A step then costs one round trip (its request out, its output, status and state back) instead of
a channel open and an exec each. The server is also the connection's janitor: when its channel
ends it removes the remote temp dir.

Per step the client sends ``"<script bytes> <stdin bytes> <more>\\n"``, the script, then the stdin
bytes (an interpreter step's code); ``read -N`` under ``LC_ALL=C`` counts bytes, so neither may
hold a NUL byte (such steps take a channel of their own). The step runs in its own process group,
forked before it came (after the previous step, with its two relays: their start costs no time on
the step's way, which matters on a link of some RTT): that child reads the step, checks that the
server still runs, and runs it with stdout and stderr on two pipes; the relays copy the pipes
to the channel's stdout and stderr until every writer (the step and its background jobs) is
done: the same end of output a channel of its own gives. After a step whose ``more`` is 0 (no
later step of the plan runs on this host: the engine's hint) nothing is forked ahead, as it
would be for nothing: the server reads the next header itself (a retry's) and forks as it
comes, or ends at the channel's end. A relay is a fork of the server that
writes what the step writes first itself, up to 256 bytes, the end, or 50 ms after the first
byte, and starts ``cat`` for the rest only when more comes: most steps' output is short, and
``cat`` was the costliest process of a step (its ``exec``: two fifths of the remote side's CPU
in a 3-step run). A step with a longer output pays for reading the first 256 bytes a byte at a
time (``read`` must not read past the NUL it stops at), and a step still running after its
first bytes shows them 50 ms later. The pipes are new for every step: bash >= 5.1 makes them as
process substitutions (``exec 7> >(relay)``), which it can ``wait`` for by pid; bash 4.4 and
5.0 get FIFOs in the temp dir (``mkfifo``: one more process in the connection's
set-up), whose ends the server opens itself (a read-write open first, so no open ever blocks).
Either way the server holds the write ends only until it has handed them to the child: were it
killed at any moment, its own ends close; the child, finding it gone, runs nothing and exits (at
the next step, or at the connection's end), the relays end, and with them the channel.

On stderr, among the step's bytes, the child writes ``<mark>P<pid> <relay> <relay>\\n`` when the
step starts and the server ``<mark>X<status>\\n`` when it exits; once both relays ended,
``<mark>D`` on stdout and ``<mark>S<state><mark>O<outputs><mark>E`` on stderr (see
protocol.Frames). A background job that keeps the output open after the step's drain time is
cut off: the client kills the relays (``close``), and the next step has new pipes (FIFOs: the
server makes new ones), so the job's later output never reaches another step.
"""

from __future__ import annotations

import contextlib
import select
import shlex
import signal
import time

import paramiko

from ..base import Chunk, Process, ProcessLost
from ..script import parse_state
from .channel import FAULTS, LOST, Signaller, drain, transport_died
from .protocol import Frames, epilogue_script

SETTLE_S = 5.0  # how long a step's end may take to arrive after its relays were stopped
SHELL_LOST = "the remote shell ended unexpectedly (killed?); the next step starts a new one"
#: the bash (major * 100 + minor) whose relays are process substitutions; older ones use FIFOs
PIPES_FROM_BASH = 501

# $1: the login shell, $2: the frame token, $3: a temp dir left by a shell that died (removed),
# $4: 1 to serve steps. Records (NUL-terminated) first: temp dir, login shell, "1" when the server
# runs, the environment (``export -p``: a builtin, where a loop over $(compgen -e) forked). The
# client sends its first step without waiting for them (one round trip less to connect), so the
# steps name the temp dir as "$__rb_d". __rb_ok: 1 relays on pipes, 2 on FIFOs; 0 (no bash >= 4.4,
# no mkfifo, or not $4): it only keeps the temp dir until the connection ends, and reads (and
# drops) whatever comes: a step sent before the records said so runs nowhere, and every step
# takes a channel of its own.
_SERVER = r"""[[ -n $3 && -d $3 ]] && rm -rf -- "$3"
__rb_d=$(mktemp -d) || exit 1
__rb_ok=0
if [[ $4 == 1 ]] && (( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= @PIPES@ )); then __rb_ok=1
elif [[ $4 == 1 ]] && (( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 404 )) &&
   mkfifo -m 600 "$__rb_d/o0" "$__rb_d/e0" 2>/dev/null; then __rb_ok=2; fi
printf '%s\0%s\0%s\0' "$__rb_d" "$1" "$(( __rb_ok > 0 ))"
export -p; printf '\0'
trap 'rm -rf -- "$__rb_d"' EXIT
if (( ! __rb_ok )); then exec >&- 2>&-; cat >/dev/null; exit; fi
printf -v __rb_T '\036\037rb%s\037' "$2"
__rb_relay() {  # stdin to stdout, byte for byte: C locale (a byte a char), NUL the delimiter
  local LC_ALL=C a b r
  IFS= read -r -d '' -n 1 a || exit 0  # waits for the step's first byte; the end: no cat
  IFS= read -r -d '' -n 255 -t 0.05 b; r=$?
  if [[ -z $a ]]; then printf '\0%s' "$b"; else printf '%s%s' "$a" "$b"; fi
  if (( r == 1 )); then exit 0; fi  # the end came
  if (( r == 0 && ${#b} < 255 )); then printf '\0'; fi  # read stopped at a NUL
  exec cat
}
set -m --
exec 3>&1 4>&2 >/dev/null 2>&1
__rb_g=0 __rb_nx=1
while :; do
  __rb_sl=
  if (( ! __rb_nx )); then  # no step was announced: its processes are forked when it comes
    LC_ALL=C IFS=' ' read -r __rb_sl __rb_il __rb_nx || break
  fi
  if (( __rb_ok == 1 )); then
    exec 7> >(__rb_relay >&3 3>&- 4>&-)
    __rb_r1=$!
    exec 8> >(__rb_relay >&4 3>&- 4>&- 7>&-)
    __rb_r2=$!
  else
    __rb_o=$__rb_d/o$__rb_g __rb_e=$__rb_d/e$__rb_g
    exec 5<>"$__rb_o" 6<"$__rb_o"
    __rb_relay <&6 >&3 3>&- 4>&- 5>&- 6>&- &
    __rb_r1=$!
    exec 7>"$__rb_o" 5>&- 6<&- 5<>"$__rb_e" 6<"$__rb_e"
    __rb_relay <&6 >&4 3>&- 4>&- 5>&- 6>&- 7>&- &
    __rb_r2=$!
    exec 8>"$__rb_e" 5>&- 6<&-
  fi
  : >"$__rb_d/state"; : >"$__rb_d/output"; : >"$__rb_d/next"
  (
    __rb_in=/dev/null
    if ! { { [[ -n $__rb_sl ]] || LC_ALL=C IFS=' ' read -r __rb_sl __rb_il __rb_nx; } &&
           LC_ALL=C IFS= read -r -N "$__rb_sl" __rb_s &&
           { (( __rb_il == 0 )) || LC_ALL=C IFS= read -r -N "$__rb_il" __rb_x; } &&
           kill -0 $$ 2>/dev/null; }; then
      : >"$__rb_d/end"; exit
    fi
    (( __rb_nx )) || printf 0 >"$__rb_d/next"
    if (( __rb_il > 0 )); then
      printf '%s' "$__rb_x" >"$__rb_d/stdin"
      __rb_x= __rb_in=$__rb_d/stdin
    fi
    printf '%sP%s %s %s\n' "$__rb_T" "$BASHPID" "$__rb_r1" "$__rb_r2" >&4
    exec >&7 2>&8 <"$__rb_in" 3>&- 4>&- 7>&- 8>&-
    set +m; eval "$__rb_s"
  ) &
  __rb_p=$!
  exec 7>&- 8>&-
  wait "$__rb_p"; __rb_c=$?
  [[ -e $__rb_d/end ]] && break
  __rb_nx=1; [[ -s $__rb_d/next ]] && __rb_nx=0
  printf '%sX%s\n' "$__rb_T" "$__rb_c" >&4
  wait "$__rb_r1"; __rb_k=$?; wait "$__rb_r2"; __rb_k=$((__rb_k + $?))
  printf '%sD' "$__rb_T" >&3
  { @EPILOGUE@} >&4
  if (( __rb_k && __rb_ok == 2 )); then
    __rb_g=$((__rb_g + 1))
    mkfifo -m 600 "$__rb_d/o$__rb_g" "$__rb_d/e$__rb_g" || break
  fi
done
"""


#: how many lines bash's errors in a served step are off: eval numbers them from its own line
SERVED_LINE_OFFSET = next(n for n, line in enumerate(_SERVER.splitlines())
                          if 'eval "$__rb_s"' in line)


def server_command(token: str, stale: str, serve: bool) -> str:
    """The exec command that sets the connection up and then serves its steps."""
    epilogue = epilogue_script('"$__rb_T"', '"$__rb_d/state"', '"$__rb_d/output"')
    script = _SERVER.replace("@EPILOGUE@", epilogue).replace("@PIPES@", str(PIPES_FROM_BASH))
    return (f"exec bash -c {shlex.quote(script)} bash \"$SHELL\" {token} {shlex.quote(stale)} "
            f"{int(serve)}")


#: the temp dir's files as a served step names them: the server's own variable
SERVED_STATE, SERVED_OUTPUT = '"$__rb_d/state"', '"$__rb_d/output"'


class Remote:
    """The channel that holds a connection's set-up and its persistent shell; once ``settle``
    has read its records: the temp dir, the login shell, whether it serves, the base environment.
    """

    def __init__(self, chan: paramiko.Channel) -> None:
        self.chan = chan
        self.settled = False
        self.tmp = self.login_shell = ""
        self.serves = False  # the persistent shell runs; else the channel only removes tmp
        self.env: dict[str, str] = {}
        self.leftover = b""  # the first step's output, read with the records

    def settle(self) -> None:
        """Read the records (once). ValueError with the remote's reason when the set-up failed."""
        data = b""
        while not self.settled:
            chunk = self.chan.recv(65536)
            if not chunk:
                why = self.chan.recv_stderr(4096).decode(errors="replace").strip()[:200]
                status = self.chan.recv_exit_status()
                raise ValueError(why or (f"exit status {status}" if status >= 0 else
                                         "the server closed the channel"))
            data += chunk
            if data.count(b"\0") >= 4:
                tmp, shell, serves, exports, self.leftover = data.split(b"\0", 4)
                self.tmp, self.login_shell = _text(tmp), _text(shell)
                self.serves, self.settled = serves == b"1", True
                self.env = {k: v for k, v in parse_state(b"\0" + exports, {}).env.items()
                            if v is not None}


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def open_remote(transport: paramiko.Transport, timeout: float, token: str, *,
                stale: str = "", serve: bool = True) -> Remote:
    """Start the set-up and the persistent shell (temp dir, login shell, base environment) in
    one round trip, without waiting for its records: the first step goes out behind it."""
    chan = transport.open_session(timeout=timeout)
    try:
        exec_unanswered(chan, server_command(token, stale, serve))
    except BaseException:
        chan.close()
        raise
    return Remote(chan)


def exec_unanswered(chan: paramiko.Channel, command: str) -> None:
    """``exec_command`` without waiting for the server's answer, so that what follows (the
    first step) leaves in the same flight; a refusal closes the channel, which the records' read
    sees. paramiko has no public way to do this: where its internals differ, it waits."""
    pending = getattr(chan, "_event_pending", None)
    send = getattr(chan.get_transport(), "_send_user_message", None)
    if pending is None or send is None:
        chan.exec_command(command)
        return
    message = paramiko.Message()
    message.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    message.add_int(chan.remote_chanid)
    message.add_string("exec")
    message.add_boolean(True)  # the answer still comes: paramiko's reader thread takes it
    message.add_string(command)
    pending()
    send(message)


class RemoteShell:
    """The client side of the server: sends a step, hands out its Process."""

    def __init__(self, remote: Remote, mark: bytes) -> None:
        self.remote, self.chan, self.mark = remote, remote.chan, mark
        self.broken = False  # out of step with us: the next step opens a new shell

    def usable(self) -> bool:
        chan = self.chan
        return not (self.broken or chan.closed or chan.eof_received or chan.exit_status_ready())

    def discard(self) -> None:
        self.broken = True
        self.chan.close()

    def send(self, script: bytes, stdin: bytes, more: bool = True) -> None:
        """Send one step: ``"<script bytes> <stdin bytes> <more>\\n"``, the script, the stdin
        bytes; ``more``: another step is planned (the server forks its processes ahead)."""
        try:
            header = f"{len(script)} {len(stdin)} {int(more)}\n".encode()
            self.chan.sendall(header + script + stdin)
        except FAULTS:
            self.discard()
            raise ProcessLost(LOST) from None

    def started(self, signaller: Signaller, timeout: float) -> ShellProcess | None:
        """Wait for the sent step's pid: the server reads the step whole, then forks it.
        None when the shell had died before it read the step (nothing ran): start a new one."""
        process = ShellProcess(self, signaller)
        leftover, self.remote.leftover = self.remote.leftover, b""
        if leftover and (data := process.out.feed(leftover)):
            process.early.append(("stdout", data))
        try:
            end = time.monotonic() + timeout
            while process.err.pid is None:
                if self.chan.eof_received or self.chan.closed:
                    self.discard()
                    return None
                if time.monotonic() > end:
                    raise ProcessLost(f"the remote shell did not start the step in {timeout:g}s")
                process.wait_for_data(min(0.5, timeout))
        except FAULTS:
            self.discard()
            raise ProcessLost(LOST) from None
        except ProcessLost:
            self.discard()
            raise
        return process


class ShellProcess(Process):
    """One step of the persistent shell: its output up to the end marks, its records."""

    def __init__(self, shell: RemoteShell, signaller: Signaller) -> None:
        self.shell, self.chan, self.signaller = shell, shell.chan, signaller
        self.out = Frames(shell.mark, end=b"D")
        self.err = Frames(shell.mark, end=b"S")
        self.early: list[Chunk] = []  # output read while waiting for the pid

    @property
    def done(self) -> bool:
        """Both ends came and the epilogue is complete: the server waits for the next step."""
        return self.out.post is not None and self.err.state_and_outputs() is not None

    def wait_for_data(self, wait: float) -> None:
        """Up to ``wait`` s for the channel to have data; what came is kept for ``read``."""
        select.select([self.chan], [], [], wait)
        self.early += self._drain()

    def _drain(self) -> list[Chunk]:
        return drain(self.chan, self.out.feed, self.err.feed)

    def read(self, wait: float) -> list[Chunk]:
        try:
            ended = self.done
            chunks, self.early = self.early + self._drain(), []
            if not chunks and not self.done:
                if self.chan.eof_received or self.chan.closed:
                    self._lost()
                select.select([self.chan], [], [], wait)
                chunks = self._drain()
            elif not chunks and ended:
                # nothing new since the end: wait for the group's end, if we stop it (an end
                # that came just now returns at once: the step loop sees it and stops)
                self.signaller.wait(wait)
            self.signaller.send(self.err.pid)
        except FAULTS:
            raise ProcessLost(LOST) from None
        return chunks

    def _lost(self) -> None:
        self.shell.discard()
        raise ProcessLost(LOST if transport_died(self.chan) else SHELL_LOST)

    @property
    def reading(self) -> bool:
        """Until the epilogue is whole: its end mark may come a packet before the state."""
        return bool(self.early) or not self.done

    @property
    def relays_ended(self) -> bool:
        """The server writes its end marks only once both relays have ended."""
        return self.out.post is not None or self.err.post is not None

    def exited(self) -> bool:
        return "X" in self.err.records

    def returncode(self) -> int | None:
        status = self.err.records.get("X", "")
        return int(status) if status.isdigit() else None

    def signal(self, sig: signal.Signals) -> None:
        self.signaller.ask(sig, self.err.pid)

    def group_alive(self) -> bool:
        gone = self.signaller.group_gone()
        return not self.exited() if gone is None else not gone

    def state_and_outputs(self) -> tuple[bytes, bytes] | None:
        return self.err.state_and_outputs() if self.done else None

    def close(self) -> None:
        """Leave the server ready for the next step, or discard it when it cannot be."""
        self.signaller.close()
        if self.done or self.shell.broken:
            return
        try:
            if self.exited():
                if not self.relays_ended:  # a background job holds the output: stop them
                    self._stop_relays()
                end = time.monotonic() + SETTLE_S
                while not self.done and time.monotonic() < end:
                    if self.chan.eof_received or self.chan.closed:
                        break
                    select.select([self.chan], [], [], 0.05)
                    self._drain()
        except FAULTS:
            pass
        if not self.done:  # given up on a step that would not die, or the shell is gone
            self.shell.discard()

    def _stop_relays(self) -> None:
        relays = self.err.records.get("P", "").split()[1:]
        if not all(pid.isdigit() for pid in relays):
            return
        chan = self.chan.get_transport().open_session(timeout=self.signaller.open_timeout)
        with contextlib.closing(chan):
            chan.exec_command(f"kill {' '.join(relays)}")
            chan.status_event.wait(SETTLE_S)
