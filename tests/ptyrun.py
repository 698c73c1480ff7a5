"""Helpers for the interactive tests: `runbook run` in a real pty (pexpect), the runbook written
to a temporary folder, the transcript's events read back."""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pexpect

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120", "EDITOR": "",
       "TERM": "dumb"}
STEP_PROMPT = r"\[y/n/e/a/q/\?\]"
FAIL_PROMPT = r"\[r/e/s/q/\?\]"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def spawn(book: Path, *args: str, tmp_path: Path, env: dict[str, str | None] | None = None,
          command: str = "run", timeout: int = 20) -> pexpect.spawn:
    """``runbook run BOOK`` (or another command) in a 40x120 pty, the transcript in tmp_path;
    ``env`` adds to the environment (None: unset)."""
    full = {k: v for k, v in {**ENV, **(env or {})}.items() if v is not None}
    extra = ["--transcript", str(tmp_path / "t.jsonl")] if command == "run" else []
    child = pexpect.spawn(sys.executable, ["-m", "runbook_engine", command, str(book), *extra,
                                           *args],
                          cwd=str(tmp_path), env=full, encoding="utf-8",
                          timeout=timeout, dimensions=(40, 120))
    child.logfile_read = io.StringIO()  # everything it showed: see shown()
    return child


def shown(child: pexpect.spawn) -> str:
    """Everything the pty showed so far, as ``screen`` text."""
    return screen(child.logfile_read.getvalue())


def book(tmp_path: Path, text: str, name: str = "book.md") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def events(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]


def finished(tmp_path: Path) -> dict[str, str]:
    return {e["step"]: e["status"] for e in events(tmp_path) if e["event"] == "step_finished"}


def screen(text: str) -> str:
    """What a pty showed, without colours and with the pty's CRLF as LF."""
    return ANSI.sub("", text).replace("\r\n", "\n")


def dialog(child: pexpect.spawn, *turns: tuple[str, str]) -> None:
    """Answer each expected prompt (a regex) with its line, in order."""
    for prompt, answer in turns:
        child.expect(prompt)
        child.sendline(answer)


def read_to_end(child: pexpect.spawn) -> bytes:
    """Everything a bytes-mode child writes until it closes the pty, in big reads (as a terminal
    reads a fast stream); then the child is reaped (``child.exitstatus`` is set)."""
    received = bytearray()
    while True:
        try:
            received += child.read_nonblocking(1 << 20, timeout=120)
        except pexpect.EOF:
            break
    child.close()
    return bytes(received)
