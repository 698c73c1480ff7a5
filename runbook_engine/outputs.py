"""Bounded step output (head and tail kept, middle counted or spilled); $RUNBOOK_OUTPUT parsing."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import BinaryIO

from . import lazyre

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 64 * 1024

_HEREDOC = lazyre.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)<<(.+)\Z")
_ASSIGN = lazyre.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)=(.*)\Z", re.DOTALL)


class OutputBuffer:
    """Keeps the first ``head`` and last ``tail`` bytes of a stream; the middle is counted.

    With ``spill_path`` the dropped middle is appended to that file, so nothing is lost while the
    memory used stays at most ``head + 2 * tail`` bytes whatever the stream's size.
    """

    def __init__(
        self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES, spill_path: str | None = None
    ) -> None:
        self._head_max = head
        self._tail_max = tail
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0
        self.omitted = 0
        self.spill_path = spill_path
        self._spill: BinaryIO | None = None

    def write(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_max - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        if len(data) >= self._tail_max:  # a big chunk: all that was kept before is middle now
            view = memoryview(data)
            if self._tail:
                self._drop(bytes(self._tail))
            cut = len(data) - self._tail_max
            if cut:
                self._drop(view[:cut])
            self._tail = bytearray(view[cut:])
            return
        self._tail += data
        # Trim lazily (at twice the size) so a stream of small chunks does not copy on every write.
        if len(self._tail) > 2 * self._tail_max:
            cut = len(self._tail) - self._tail_max
            self._drop(bytes(self._tail[:cut]))
            del self._tail[:cut]

    def _drop(self, middle: bytes | memoryview) -> None:
        self.omitted += len(middle)
        if self.spill_path is not None:
            if self._spill is None:
                self._spill = open(self.spill_path, "ab")  # noqa: SIM115 - kept open while streaming
            self._spill.write(middle)

    def close(self) -> None:
        """Trim the tail to its final size and close the spill file."""
        if len(self._tail) > self._tail_max:
            cut = len(self._tail) - self._tail_max
            self._drop(bytes(self._tail[:cut]))
            del self._tail[:cut]
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    @property
    def full(self) -> bool:
        """True when nothing was left out."""
        return self.omitted == 0 and len(self._tail) <= self._tail_max

    @property
    def truncated(self) -> int:
        """Bytes left out of ``text()``."""
        return self.omitted + max(0, len(self._tail) - self._tail_max)

    def text(self) -> str:
        """Head and tail, with a marker saying how many bytes were left out in between."""
        tail = bytes(self._tail[-self._tail_max :]) if self._tail_max else b""
        left_out = self.truncated
        if left_out == 0:
            return (bytes(self._head) + bytes(self._tail)).decode("utf-8", errors="replace")
        head = bytes(self._head).decode("utf-8", errors="replace")
        return f"{head}\n… {left_out} bytes omitted …\n{tail.decode('utf-8', errors='replace')}"


def parse_outputs(text: str) -> dict[str, str]:
    """Parse $RUNBOOK_OUTPUT: ``name=value`` lines and ``name<<DELIM`` … ``DELIM`` heredocs."""
    outputs: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        heredoc = _HEREDOC.match(line)
        if heredoc:
            name, delim = heredoc.group(1), heredoc.group(2)
            body: list[str] = []
            while i < len(lines) and lines[i] != delim:
                body.append(lines[i])
                i += 1
            i += 1  # skip the delimiter (or run past the end when it is missing)
            outputs[name] = "\n".join(body)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            outputs[assign.group(1)] = assign.group(2)
    return outputs


class StepOutput:
    """A step's two streams as every runner keeps them: bounded buffers, and UTF-8 decoded
    incrementally (a character split across reads stays whole) on its way to ``on_output``."""

    def __init__(self, on_output: Callable[[str, str], None],
                 spill: Callable[[str], str | None] = lambda stream: None) -> None:
        self.on_output = on_output
        self.buffers = {s: OutputBuffer(spill_path=spill(s)) for s in ("stdout", "stderr")}
        self.decoders = {s: codecs.getincrementaldecoder("utf-8")(errors="replace")
                         for s in self.buffers}

    def feed(self, stream: str, data: bytes, final: bool = False) -> None:
        if data:
            self.buffers[stream].write(data)
        text = self.decoders[stream].decode(data, final=final)
        if text:
            self.on_output(stream, text)

    def close(self) -> None:
        for buffer in self.buffers.values():
            buffer.close()


class LineBuffer:
    """Holds back a partial line so a secret split across chunks is masked whole.

    A line longer than ``limit`` is let out in pieces before it ends; ``safe_end`` (the
    redactor's) says how much of it can go without cutting a secret in two."""

    def __init__(self, limit: int = 4096, safe_end: Callable[[str], int] | None = None) -> None:
        self._limit = limit
        self._safe_end = safe_end
        self._parts: list[str] = []
        self._size = 0

    def feed(self, text: str) -> str:
        """Add a chunk; return the complete lines (or part of an over-long line) ready to emit."""
        cut = text.rfind("\n")
        if cut < 0:
            self._parts.append(text)
            self._size += len(text)
            return self._overflow() if self._size > self._limit else ""
        if self._parts:
            self._parts.append(text[: cut + 1])
            ready = "".join(self._parts)
        else:
            ready = text[: cut + 1]  # the chunk itself when it ends a line: no copy
        self._keep(text[cut + 1 :])
        return ready

    def _overflow(self) -> str:
        text = "".join(self._parts)
        end = len(text) if self._safe_end is None else self._safe_end(text)
        self._keep(text[end:])
        return text[:end]

    def _keep(self, rest: str) -> None:
        self._parts = [rest] if rest else []
        self._size = len(rest)

    def flush(self) -> str:
        """Everything held back (at the end of a step)."""
        text = "".join(self._parts)
        self._keep("")
        return text
