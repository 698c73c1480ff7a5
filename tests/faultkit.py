"""Helpers of the fault tests: runbook as a real process, the processes of a step, waiting."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "TERM": "dumb", "EDITOR": ""}


def runbook(*args: str, cwd: Path, **popen: object) -> subprocess.Popen[str]:
    """``runbook ARGS`` started (not waited for), its output captured."""
    options: dict[str, object] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE,
                                  "stdin": subprocess.DEVNULL, **popen}
    return subprocess.Popen([sys.executable, "-m", "runbook_engine", *args], env=ENV, cwd=cwd,
                            text=True, **options)  # type: ignore[call-overload]


def run(*args: str, cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", *args], env=ENV, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def wait_for(check: Callable[[], bool], limit: float = 30.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def running_with(token: str) -> list[int]:
    """Live (not zombie) processes whose command line holds ``token``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline and stat[stat.rfind(b")") + 2:][:1] != b"Z":
            found.append(int(entry))
    return found


def private_folders(pid: int) -> list[str]:
    """The private temp folders of the runbook process ``pid`` (see runners/local.py)."""
    found = []
    for base in {os.environ.get("XDG_RUNTIME_DIR") or "/dev/shm", "/dev/shm", "/tmp"}:
        if os.path.isdir(base):
            found += [os.path.join(base, n) for n in os.listdir(base)
                      if n.startswith(f"runbook-{pid}-")]
    return found
