"""The bash session wrapper shared by the local and SSH runners: restore a Session, run, dump state.

Wire format of the state file written by the wrapper's EXIT trap (``state_path``)::

    <cwd> NUL <output of bash's ``export -p``>

The cwd is the working directory the next step should start in: ``$PWD`` at exit, except that when
the step had its own ``cwd`` and is still in it, the session directory from before the step is
written (a step-level ``cwd`` does not carry over). ``export -p`` prints one exported variable per
line as ``declare -x NAME="value"`` (double quote, backslash, dollar and backquote escaped), or
``declare -x NAME=$'...'`` (ANSI-C escapes, used for any control character, so a value never spans
lines), or ``declare -x NAME`` (exported without a value); ``export NAME=...`` in POSIX mode.
Only builtins run in the trap (no fork: it is on the per-step hot path) and the step's exit code
is preserved. When the step replaces the shell (``exec``) or installs its own EXIT trap, no state
is written and the session is unchanged.

``parse_state`` turns that file into a ``Session`` relative to the runner's base environment:
changed or added variables map to their value, removed ones to ``None``; names in
``SHELL_OWNED_VARS`` and names that are not shell identifiers are ignored. ``next_session`` also
drops the step-level ``env`` (it applies to one step only) unless the step changed it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import replace

from .. import lazyre
from .base import SHELL_OWNED_VARS, Command, Session

_IDENT = lazyre.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# The EXIT trap. ``$?`` must be read first; everything after it is a builtin. The step's name is
# left out of the state (shell-owned, ignored), so a step that changes nothing writes the same
# state as the step before it, which ``StateCache`` then need not parse again.
_TRAP = r"""__rb_state() {
  local __rb_rc=$? __rb_wd=$PWD
  set +e
  if [[ -n ${__rb_step_dir-} && $PWD == "$__rb_step_dir" ]]; then __rb_wd=$__rb_base_dir; fi
  %(ended)s
  export -n RUNBOOK_STEP
  { printf '%%s\0' "$__rb_wd"; export -p; } 2>/dev/null >%(state)s
  exit $__rb_rc
}
trap __rb_state EXIT
"""


def _session_lines(session: Session) -> list[str]:
    lines: list[str] = []
    if session.cwd:
        lines.append(f"cd -- {shlex.quote(session.cwd)} || exit 1")
    for name, value in session.env.items():
        if not _IDENT.match(name):
            continue
        if value is None:
            lines.append(f"unset {name}")
        else:
            lines.append(f"export {name}={shlex.quote(value)}")
    return lines


def wrap(command: Command, session: Session, *, state_path: str, output_path: str,
         shell_words: bool = False, ended: str = "") -> str:
    """Build the bash script that runs ``command`` inside ``session`` and records the new state.
    ``shell_words``: the paths are shell words already (``"$__rb_d/state"``), not quoted again;
    ``ended``: the trap's line that records the body's end (``ended.record_command``), first."""
    if not shell_words:
        state_path, output_path = shlex.quote(state_path), shlex.quote(output_path)
    lines = _session_lines(session)
    lines.append("__rb_base_dir=$PWD")
    if command.cwd:
        lines.append(f"cd -- {shlex.quote(command.cwd)} || exit 1")
        lines.append("__rb_step_dir=$PWD")
    for name, value in command.env.items():
        if _IDENT.match(name):
            lines.append(f"export {name}={shlex.quote(value)}")
    lines.append(
        f"export RUNBOOK_STEP={shlex.quote(command.step_id)}"
        f" RUNBOOK_RUN_ID={shlex.quote(command.run_id)}"
        f" RUNBOOK_OUTPUT={output_path}"
    )
    lines.append(
        _TRAP % {"state": state_path, "ended": ended}
    )
    lines.append("set -eo pipefail")
    # The user's code runs in this shell (not a subshell) so that cd/export carry over.
    lines.append(command.interpreter if command.interpreter else command.code)
    return "\n".join(lines) + "\n"


#: bash's own error prefix for a line of the wrapper: ``…/script: line 14: `` (sourced by the
#: local shell server) or ``bash: line 16: `` (``bash -c``, sudo, a channel of its own)
_BASH_ERROR = lazyre.compile(r"^(?:[^\s:]*/script|bash): line (\d+): ", re.MULTILINE)


def code_first_line(command: Command, session: Session) -> int:
    """The wrapper's line the step's code starts on; 0 when bash does not run the code itself
    (it is fed to an interpreter, whose errors are its own)."""
    if command.interpreter:
        return 0
    head = wrap(replace(command, code=""), session, state_path="s", output_path="o")
    return head.count("\n")


def blame(text: str, first: int, where: Callable[[int], str]) -> str:
    """bash's errors in ``text`` (stderr lines) renamed from the wrapper's line to the step's
    own: ``where(n)`` names line ``n`` of the step's code (n < 1: the wrapper's set-up)."""
    if not first or ": line " not in text:
        return text
    return _BASH_ERROR.sub(lambda m: where(int(m.group(1)) - first + 1) + ": ", text)


def parse_state(data: bytes, base_env: Mapping[str, str]) -> Session:
    """Parse the wrapper's state file into a Session relative to ``base_env``."""
    cwd_bytes, sep, exports = data.partition(b"\0")
    if not sep:
        return Session()
    cwd = cwd_bytes.decode("utf-8", errors="surrogateescape") or None
    final: dict[str, str] = {}
    for line in exports.split(b"\n"):
        parsed = _LINES.get(line)
        if parsed is None:
            parsed = _parse_line(line)
            if len(_LINES) > 4096:  # the same lines come back every step: keep them, bounded
                _LINES.clear()
            _LINES[line] = parsed
        if parsed:
            final[parsed[0]] = parsed[1]
    env: dict[str, str | None] = {}
    for name, value in final.items():
        if name not in SHELL_OWNED_VARS and base_env.get(name) != value:
            env[name] = value
    for name in base_env:
        if name not in final and name not in SHELL_OWNED_VARS and _IDENT.match(name):
            env[name] = None
    return Session(cwd=cwd, env=env)


_DECLARE = lazyre.compile(rb"(?:declare"
                          rb"|export) (?:-[a-zA-Z]+ )?([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?\Z")
_DQ_ESCAPE = lazyre.compile(rb'\\([\\"$`])')
_ANSI_ESCAPE = lazyre.compile(
    rb"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{1,4})|U([0-9a-fA-F]{1,8})|c(.)|(.))",
    re.DOTALL,
)
_ANSI_SIMPLE = {b"a": b"\a", b"b": b"\b", b"e": b"\x1b", b"E": b"\x1b", b"f": b"\f", b"n": b"\n",
                b"r": b"\r", b"t": b"\t", b"v": b"\v"}


_LINES: dict[bytes, tuple[str, str] | tuple[()]] = {}


def _parse_line(line: bytes) -> tuple[str, str] | tuple[()]:
    match = _DECLARE.match(line)
    if match is None or (match.group(2) or b"").startswith(b"("):
        return ()  # not a declaration, or an array (arrays never reach the environment)
    return match.group(1).decode("ascii"), _unquote(match.group(2))


def _ansi_char(match: re.Match[bytes]) -> bytes:
    octal, hexa, uni, uni8, ctrl, other = match.groups()
    if octal:
        return bytes([int(octal, 8) & 0xFF])
    if hexa:
        return bytes([int(hexa, 16)])
    if uni or uni8:
        return chr(int(uni or uni8, 16)).encode("utf-8", errors="surrogateescape")
    if ctrl:
        return bytes([ctrl[0] & 0x1F])
    return _ANSI_SIMPLE.get(other, other)


def _unquote(raw: bytes | None) -> str:
    """A value as ``export -p`` quotes it: ``"..."``, ``$'...'`` or nothing at all."""
    if raw is None:
        return ""
    if raw.startswith(b"$'") and raw.endswith(b"'"):
        value = _ANSI_ESCAPE.sub(_ansi_char, raw[2:-1])
    elif raw.startswith(b'"') and raw.endswith(b'"'):
        value = _DQ_ESCAPE.sub(rb"\1", raw[1:-1])
    else:
        value = raw
    return value.decode("utf-8", errors="surrogateescape")


class StateCache:
    """The last state file parsed, for a runner whose steps mostly leave the session alone."""

    def __init__(self) -> None:
        self._last: tuple[bytes, Mapping[str, str], Session] | None = None

    def parse(self, data: bytes, base_env: Mapping[str, str]) -> Session:
        last = self._last
        if last is None or last[0] != data or last[1] is not base_env:
            last = self._last = (data, base_env, parse_state(data, base_env))
        return Session(cwd=last[2].cwd, env=dict(last[2].env))  # the caller may change it


def next_session(
    data: bytes, base_env: Mapping[str, str], command: Command, previous: Session,
    cache: StateCache | None = None,
) -> Session:
    """The session after ``command``: parse_state minus the step-level env it did not change."""
    session = cache.parse(data, base_env) if cache else parse_state(data, base_env)
    for name, value in command.env.items():
        if session.env.get(name, base_env.get(name)) != value:
            continue  # the step changed it itself: keep the change
        if name in previous.env:
            session.env[name] = previous.env[name]
        else:
            session.env.pop(name, None)
    return session
