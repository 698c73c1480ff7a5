"""The screen's writer thread: output keeps its order, waits for a slow screen only past its
budget, reaches a pipe promptly without a caller's flush, and a closed screen is reported; a step
is not held up by a terminal that is slow to read (a real `runbook run` on a real pty)."""

from __future__ import annotations

import io
import os
import select
import sys
import threading
import time
from pathlib import Path

import pexpect
import pytest
from ptyrun import read_to_end

from runbook_engine.ui.screen import ScreenWriter

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120"}


def pipe_file() -> tuple[int, io.TextIOWrapper]:
    reader, writer = os.pipe()
    return reader, io.TextIOWrapper(io.FileIO(writer, "w"), encoding="utf-8")


def read_all(fd: int, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        got += os.read(fd, 1 << 20)
    return bytes(got)


def test_a_caller_waits_only_when_the_screen_is_a_budget_behind() -> None:
    reader, file = pipe_file()  # nobody reads yet: the pipe takes 64 KB, then writing blocks
    screen = ScreenWriter(file, terminal=True, flush_s=0.1, budget=200_000)
    chunks = [c * 150_000 for c in "abc"]
    screen.write(chunks[0])
    screen.write(chunks[1])  # 150,000 pending, under the budget: queued at once
    third = threading.Thread(target=screen.write, args=(chunks[2],))
    third.start()
    third.join(0.5)
    assert third.is_alive()  # 300,000 pending: this one waits for the screen
    data = read_all(reader, 450_000)
    third.join(5)
    assert not third.is_alive()
    screen.drain()
    assert data == "".join(chunks).encode()  # in the order written, nothing lost
    file.close()
    os.close(reader)


def test_output_into_a_pipe_shows_within_the_flush_delay_without_a_flush() -> None:
    reader, file = pipe_file()
    screen = ScreenWriter(file, terminal=False, flush_s=0.1)
    started = time.monotonic()
    screen.write("one line\n")  # far less than the file's buffer: only a flush sends it
    ready, _, _ = select.select([reader], [], [], 5)
    assert ready and os.read(reader, 100) == b"one line\n"
    assert time.monotonic() - started < 2
    file.close()
    os.close(reader)


def test_a_closed_screen_is_reported_to_the_caller() -> None:
    reader, file = pipe_file()
    os.close(reader)
    screen = ScreenWriter(file, terminal=True, flush_s=0.1)
    screen.write("x" * 100_000)
    with pytest.raises(BrokenPipeError):
        screen.drain()
    screen.write("later\n")  # reported once; a later write is tried again
    with pytest.raises(BrokenPipeError):
        screen.drain()


def test_a_step_is_not_held_up_by_a_terminal_slow_to_read(tmp_path: Path) -> None:
    # 3 MB at once while the terminal reads nothing for 3 s: the step must end before the
    # terminal reads again (its output waits for the screen in our memory, not in its full pipe)
    book = tmp_path / "book.md"
    book.write_text("# Slow screen\n\n```bash {#burst}\nhead -c 3000000 /dev/zero | tr '\\0' x\n"
                    "date +%s.%N > ended; echo; echo DONE\n```\n")
    child = pexpect.spawn(sys.executable, ["-m", "runbook_engine", "run", str(book), "--yes",
                                           "--transcript", str(tmp_path / "t.jsonl")],
                          cwd=str(tmp_path), env=ENV, timeout=120, dimensions=(40, 120))
    child.expect("1. Slow screen")  # the step starts now; its output is not read for 3 s
    time.sleep(3)
    reading = time.time()
    received = read_to_end(child)
    assert child.exitstatus == 0
    assert b"x" * 3_000_000 + b"\r\nDONE" in received
    assert float((tmp_path / "ended").read_text()) < reading


class CountingFile(io.TextIOWrapper):
    """A real pipe's text file that counts the writes and flushes that reach it."""

    writes = flushes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_many_short_texts_into_a_pipe_are_flushed_together_by_the_flush_delay() -> None:
    # a run of short steps writes a few lines each: into a pipe they go out together, in a
    # write or two and at most one flush per flush delay (not a wake-up and a write per line:
    # unbuffered, as with PYTHONUNBUFFERED, each write is a system call), none lost or reordered
    reader, writer = os.pipe()
    file = CountingFile(io.FileIO(writer, "w"), encoding="utf-8")
    screen = ScreenWriter(file, terminal=False, flush_s=0.1)
    got = bytearray()
    started = time.monotonic()
    for i in range(2000):
        screen.write(f"line {i}\n")
        if i % 100 == 0:
            time.sleep(0.01)  # a few steps' time
    elapsed = time.monotonic() - started
    screen.drain()
    file.close()
    while chunk := os.read(reader, 1 << 16):
        got += chunk
    os.close(reader)
    assert got == "".join(f"line {i}\n" for i in range(2000)).encode()
    assert 1 <= file.flushes <= elapsed / 0.1 + 3
    assert 1 <= file.writes <= 2 * (elapsed / 0.1 + 3)
