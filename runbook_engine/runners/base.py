"""One Runner interface for every target: a command in, streamed output and a Result out."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Stream = Literal["stdout", "stderr"]
#: called for every chunk of output as it arrives (text decoded as UTF-8 with replacement)
OutputCallback = Callable[[Stream, str], None]

# How a step is stopped, for every runner: SIGINT, then SIGTERM, then SIGKILL, this far apart.
GRACE_S = 2.0
POLL_S = 0.05  # how often cancel is checked while a step runs quietly

# Names a shell sets by itself; they are never part of a session's carried environment.
SHELL_OWNED_VARS = frozenset(
    {"_", "PWD", "OLDPWD", "SHLVL", "BASH_EXECUTION_STRING", "RUNBOOK_STEP", "RUNBOOK_OUTPUT",
     "RUNBOOK_RUN_ID", "RUNBOOK_STATE"}
)


class TargetError(Exception):
    """A target cannot be reached or refused us; str() is one line starting with ``host: ``."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.message = message


@dataclass
class Session:
    """What carries over between steps on one target, like a terminal: cwd and exported env."""

    cwd: str | None = None
    # variables the steps exported (value) or unset (None), relative to the runner's base env
    env: dict[str, str | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"cwd": self.cwd, "env": dict(self.env)}


@dataclass(frozen=True)
class Command:
    """Everything a runner needs to run one step once."""

    code: str  # the rendered code
    step_id: str
    run_id: str
    shell: str = "bash"
    interpreter: str | None = None  # when set: run this shell command, feed ``code`` on stdin
    cwd: str | None = None  # step-level cwd (relative to the session cwd)
    env: Mapping[str, str] = field(default_factory=dict)  # step-level env, not carried over
    timeout: float | None = None
    interactive: bool = False  # hand the terminal over (pty)
    sudo: bool = False
    user: str | None = None


@dataclass
class Result:
    """What one attempt of a command produced."""

    exit_code: int | None  # None when killed before it exited
    status: Literal["ok", "failed", "timeout", "interrupted", "error"]
    duration_s: float
    stdout: str = ""  # head+tail kept in memory (see OutputBuffer); full text spilled to disk
    stderr: str = ""
    stdout_truncated: int = 0  # bytes left out of ``stdout`` (kept on disk when spilled)
    stderr_truncated: int = 0
    outputs: dict[str, str] = field(default_factory=dict)  # from $RUNBOOK_OUTPUT
    error: str | None = None  # one-line reason for status "error" (e.g. connection lost)


class Runner(ABC):
    """Runs commands on one target, keeping that target's Session between commands."""

    name: str = "local"

    def __init__(self) -> None:
        self.session = Session()

    def connect(self) -> None:  # noqa: B027 - optional hook
        """Open what the runner needs (SSH connection). Raises TargetError."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""

    @abstractmethod
    def run(
        self,
        command: Command,
        on_output: OutputCallback,
        cancel: threading.Event,
    ) -> Result:
        """Run once. Streams output through ``on_output``; updates ``self.session``.

        ``cancel`` set by another thread (Ctrl-C) stops the command's whole process group:
        SIGINT, then SIGTERM, then SIGKILL after a grace period; the Result is "interrupted".
        A timeout does the same and gives "timeout".
        """
