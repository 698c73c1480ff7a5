"""Step output at volume: every byte arrives, in order, piped and on a real pty, in the terminal
and the transcript; a fast step is not timed out by our reading; chunks keep their layout."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
from ptyrun import read_to_end

from runbook_engine.events import Output, StepFinished
from runbook_engine.ui.display import shape_output

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120"}
LINES = 50_000


def write_book(tmp_path: Path, code: str, attrs: str = "") -> Path:
    book = tmp_path / "book.md"
    book.write_text(f"# Volume\n\n```bash {{#big{attrs}}}\n{code}\n```\n")
    return book


def run_piped(tmp_path: Path, book: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                           "--transcript", str(tmp_path / "t.jsonl")],
                          capture_output=True, env=ENV, cwd=str(tmp_path), timeout=300)


def events(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]


def recorded_output(tmp_path: Path) -> str:
    """The step's stdout as the transcript keeps it: inline events, then the side file."""
    text = "".join(e["text"] for e in events(tmp_path)
                   if e["event"] == "output" and e["stream"] == "stdout")
    side = [e["file"] for e in events(tmp_path) if e["event"] == "output_spilled"]
    return text + "".join((tmp_path / name).read_text() for name in side)


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM: since its exec, unlike wait4's maxrss,
    which counts the pytest process it was forked from)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # it has just ended
        return 0
    return next((int(line.split()[1]) for line in status.splitlines()
                 if line.startswith("VmHWM:")), 0)


def numbered(count: int) -> str:
    return "".join(f"line {n}\n" for n in range(1, count + 1))


def test_many_short_lines_arrive_whole_and_in_order_piped(tmp_path: Path) -> None:
    done = run_piped(tmp_path, write_book(tmp_path, f"seq {LINES} | sed 's/^/line /'"))
    assert done.returncode == 0, done.stderr
    expected = numbered(LINES)
    assert expected in done.stdout.decode()
    assert recorded_output(tmp_path) == expected


def test_a_line_less_blob_arrives_whole_piped(tmp_path: Path) -> None:
    # 8 MB in one line: it goes out in pieces, and both the screen and the transcript (1 MB
    # inline, the rest in a side file) keep every byte
    size = 8_000_000
    done = run_piped(tmp_path, write_book(tmp_path, f"head -c {size} /dev/zero | tr '\\0' x"))
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    start = out.index("x")
    assert out[start:start + size + 1] == "x" * size + "\n"  # our next line starts on its own
    assert recorded_output(tmp_path) == "x" * size


def test_a_fast_step_is_not_timed_out_by_our_reading(tmp_path: Path) -> None:
    # 60 MB written as fast as the step can: reading it must keep up well inside 10 s
    book = write_book(tmp_path, "head -c 60000000 /dev/zero | tr '\\0' y | fold -w 100",
                      " timeout=10s")
    done = run_piped(tmp_path, book)
    assert done.returncode == 0, done.stderr
    finished = [e for e in events(tmp_path) if e["event"] == "step_finished"]
    assert finished[-1]["status"] == "ok"
    side = [e for e in events(tmp_path) if e["event"] == "output_tail"]
    inline = sum(len(e["text"]) for e in events(tmp_path) if e["event"] == "output")
    # 600,000 lines of 100 and a newline (the last one has none)
    assert inline + side[-1]["chars"] == 60_599_999


def test_memory_stays_bounded_whatever_the_output_size(tmp_path: Path) -> None:
    # 200 MB through the runbook process: its peak RSS stays far below the output's size
    book = write_book(tmp_path, "set +o pipefail; yes \"$(printf '%099d' 0)\" | head -c 200000000")
    reader, writer = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "runbook_engine", "run", str(book), "--yes",
                             "--transcript", str(tmp_path / "t.jsonl")],
                            stdout=writer, env=ENV, cwd=str(tmp_path))
    os.close(writer)
    received, carry, line, peak = 0, b"", b"0" * 99 + b"\n", 0
    while data := os.read(reader, 1 << 20):
        data = carry + data
        cut = data.rfind(b"\n") + 1  # whole lines only: one may be split across reads
        received += data[:cut].count(line)
        carry = data[cut:]
        peak = max(peak, peak_rss_kib(proc.pid))
    os.close(reader)
    assert proc.wait() == 0
    assert received == 2_000_000  # every line shown
    assert 0 < peak < 100 * 1024


def test_output_on_a_real_terminal_arrives_whole(tmp_path: Path) -> None:
    book = write_book(tmp_path, f"seq {LINES} | sed 's/^/line /'; head -c 3000000 /dev/zero "
                                "| tr '\\0' z; echo; echo END-OF-STEP")
    child = pexpect.spawn(sys.executable, ["-m", "runbook_engine", "run", str(book), "--yes",
                                           "--transcript", str(tmp_path / "t.jsonl")],
                          cwd=str(tmp_path), env=ENV, timeout=120, dimensions=(40, 120))
    received = read_to_end(child)
    assert child.exitstatus == 0
    screen = received.replace(b"\r\n", b"\n").decode()
    expected = numbered(LINES) + "z" * 3_000_000 + "\nEND-OF-STEP\n"
    assert hashlib.sha256(expected.encode()).hexdigest() == hashlib.sha256(
        screen[screen.index("line 1\n"):screen.index("END-OF-STEP\n") + 12].encode()).hexdigest()


def test_chunks_keep_host_prefixes_and_colours_on_every_line() -> None:
    assert shape_output("a\nb\n", "", "", False, False) == "a\nb\n"
    assert shape_output("a\nb\n", "web1 | ", "", False, False) == "web1 | a\nweb1 | b\n"
    # an unfinished line goes on without a second prefix
    assert shape_output("rest\nc", "web1 | ", "", False, True) == "rest\nweb1 | c"
    coloured = shape_output("e1\ne2\n", "h | ", "red", True, False)
    assert coloured == ("\x1b[2mh | \x1b[0m\x1b[31me1\x1b[0m\n"  # the host dim, not magenta
                        "\x1b[2mh | \x1b[0m\x1b[31me2\x1b[0m\n")


def test_an_unfinished_line_is_ended_before_the_next_thing_shown() -> None:
    import io

    from rich.console import Console

    from runbook_engine.ui.display import TerminalDisplay

    out = io.StringIO()
    display = TerminalDisplay(Console(file=out, force_terminal=False, no_color=True),
                              unattended=True)
    display(Output(step="s", stream="stdout", text="part one "))
    display(Output(step="s", stream="stdout", text="part two"))
    display(Output(step="s", stream="stderr", text="oops\n"))
    display(StepFinished(step="s", status="ok", exit_code=0))
    display.pause()
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["part one part two", "oops"]
    assert lines[2].startswith("✓ s ok")
