"""Faults around files: one writer per transcript, unique names, 0600 everywhere, a full disk,
wrong-typed transcripts, stale private folders, an interactive step with nobody there."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from faultkit import run, runbook, text, wait_for

from runbook_engine.runners.reaper import STALE_S


def write(tmp_path: Path, body: str, name: str = "book.md") -> Path:
    book = tmp_path / name
    book.write_text(body)
    return book


def test_a_second_resume_of_a_transcript_being_written_is_refused(tmp_path: Path) -> None:
    book = write(tmp_path, "# L\n\n```bash {#slow}\necho start >> log\nsleep 30\n```\n\n"
                           "```bash {#next}\necho next >> log\n```\n")
    first = runbook("run", str(book), "--yes", "--transcript", "t.jsonl", cwd=tmp_path)
    assert wait_for(lambda: "start" in text(tmp_path / "log"))
    try:
        second = run("run", str(book), "--yes", "--resume", "t.jsonl", cwd=tmp_path)
    finally:
        first.kill()
        first.communicate()
    assert second.returncode == 2
    assert second.stderr.strip() == (f"t.jsonl: in use by another run (runbook pid {first.pid} "
                                     f"on {socket.gethostname()}); wait for it to end, or "
                                     "write another transcript")
    assert text(tmp_path / "log") == "start\n"  # the second one ran nothing


def test_concurrent_runs_each_get_their_own_default_transcript(tmp_path: Path) -> None:
    book = write(tmp_path, "# Same second\n\n```bash\ntrue\n```\n")
    procs = [runbook("run", str(book), "--yes", cwd=tmp_path) for _ in range(12)]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    assert all(code == 0 for code, _ in results), [err for code, err in results if code]
    names = os.listdir(tmp_path / "transcripts")
    assert len(names) == 12
    assert all((tmp_path / "transcripts" / n).stat().st_size for n in names)


def test_a_refused_run_leaves_no_reserved_transcript(tmp_path: Path) -> None:
    book = write(tmp_path, "# R\n\n```bash\ntrue\n```\n")
    result = run("run", str(book), "--yes", "--inventory", "missing.ini", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert not os.listdir(tmp_path / "transcripts")


def test_every_file_written_is_0600(tmp_path: Path) -> None:
    book = write(tmp_path, "# M\n\n```bash {#sh}\nexport DB_PASSWORD=hunter2\n"
                           "stat -c '%a %n' \"$(dirname \"$RUNBOOK_OUTPUT\")\"/*\n```\n")
    result = run("run", str(book), "--yes", "--transcript", "t.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = dict(reversed(line.split(" ", 1)) for line in result.stdout.splitlines()
                  if re.match(r"\d+ /.*/runbook-\d+-", line))
    names = {os.path.basename(path) for path in listed}
    assert {"state", "output", "script", "alive"} <= names, result.stdout
    assert set(listed.values()) == {"600"}, listed
    os.umask(0o022)
    report, junit = tmp_path / "report.md", tmp_path / "junit.xml"
    report.write_text("old")
    report.chmod(0o644)
    assert run("transcript", "t.jsonl", "-o", str(report), cwd=tmp_path).returncode == 0
    assert run("test", str(book), "--junit", str(junit), cwd=tmp_path).returncode == 0
    for path in (tmp_path / "t.jsonl", report, junit):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_private_folders_of_dead_runs_are_removed_by_the_next_run(tmp_path: Path) -> None:
    base = os.environ.get("XDG_RUNTIME_DIR") or "/dev/shm"
    if not os.access(base, os.W_OK):
        base = tempfile.gettempdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = Path(tempfile.mkdtemp(prefix=f"runbook-{dead.pid}-", dir=base))
    (stale / "script").write_text("export DB_PASSWORD=hunter2\n")
    recent = Path(tempfile.mkdtemp(prefix=f"runbook-{dead.pid}-", dir=base))
    old = time.time() - STALE_S - 5
    os.utime(stale, (old, old))
    ours = Path(tempfile.mkdtemp(prefix=f"runbook-{os.getpid()}-", dir=base))
    os.utime(ours, (old, old))
    try:
        book = write(tmp_path, "# S\n\n```bash\ntrue\n```\n")
        assert run("run", str(book), "--yes", "--transcript", "t.jsonl",
                   cwd=tmp_path).returncode == 0
        assert not stale.exists()
        assert recent.exists() and ours.exists()  # its reaper may be at work; a live run's
    finally:
        for folder in (stale, recent, ours):
            if folder.exists():
                for child in folder.iterdir():
                    child.unlink()
                folder.rmdir()


def test_an_interactive_step_under_yes_is_left_to_do_by_hand(tmp_path: Path) -> None:
    book = write(tmp_path, "# I\n\n```bash {#ask interactive=true}\nread -r x\necho \"got $x\"\n"
                           "```\n\n```bash {#after}\necho after\n```\n")
    proc = runbook("run", str(book), "--yes", "--transcript", "t.jsonl", cwd=tmp_path,
                   stdin=subprocess.PIPE)  # open, and nobody ever types
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "interactive=true needs the operator's terminal: not run unattended" in out
    assert "open item: ask" in out and "after" in out and "got" not in out


def test_a_full_disk_names_the_transcript(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        book = write(tmp_path, "# F\n\n```bash {#big}\nhead -c 300000 /dev/zero | tr '\\0' x\n"
                               "```\n")
        result = run("run", str(book), "--yes", "--transcript", str(mount / "t.jsonl"),
                     cwd=tmp_path)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)
    assert result.returncode == 2
    assert f"{mount}/t.jsonl: cannot write: No space left on device" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_report_to_a_full_device_is_one_line(tmp_path: Path) -> None:
    book = write(tmp_path, "# D\n\n```bash\necho hi\n```\n")
    assert run("run", str(book), "--yes", "--transcript", "t.jsonl", cwd=tmp_path).returncode == 0
    mode = os.stat("/dev/full").st_mode
    result = run("transcript", "t.jsonl", "-o", "/dev/full", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, "/dev/full: cannot write: No space left "
                                                     "on device\n")
    assert os.stat("/dev/full").st_mode == mode  # a device's mode is never touched


def test_wrong_typed_fields_never_crash_the_report_or_resume(tmp_path: Path) -> None:
    book = write(tmp_path, "# W\n\n```bash {#one}\necho hi\n```\n\n```bash {#two}\ntrue\n```\n")
    assert run("run", str(book), "--yes", "--transcript", "t.jsonl", cwd=tmp_path).returncode == 0
    events = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    events[0]["plan"][0]["section"] = [None, 5]  # a null among strings
    for event in events:
        if event["event"] == "step_started":
            event["section"] = [None]
    lines = [json.dumps(e) for e in events]
    broken = next(i for i, e in enumerate(events) if e["event"] == "step_finished")
    lines[broken] = lines[broken].replace('"duration_s": ', '"duration_s": NaN, "x": ')
    (tmp_path / "w.jsonl").write_text("\n".join(lines) + "\n")
    for fmt in ("markdown", "html", "json"):
        result = run("transcript", "w.jsonl", "--format", fmt, cwd=tmp_path)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert f"w.jsonl:{broken + 1}: not a valid event (corrupt line); ignored" in \
            result.stdout
    resumed = run("run", str(book), "--yes", "--resume", "w.jsonl", cwd=tmp_path)
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr
