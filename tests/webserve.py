"""Helpers for the web tests: `runbook serve` in a real subprocess, plain HTTP to it (urllib),
and Debian's chromium driven by Playwright (skipped outside CI when either is missing)."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "EDITOR": ""}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def browser_unavailable_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class Served:
    """``runbook serve BOOK --transcript t.jsonl ARGS`` in ``cwd``; its two URLs once it listens."""

    started: list[Served] = []  # every server a test started: stopped after it (stop_all)

    def __init__(self, book: Path, cwd: Path, *args: str, transcript: str = "t.jsonl") -> None:
        Served.started.append(self)
        self.cwd = cwd
        self.transcript = cwd / transcript
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runbook_engine", "serve", str(book), "--transcript",
             transcript, *args], cwd=cwd, env=ENV, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True).start()
        self.operator = self.watcher = ""
        deadline = time.monotonic() + 60
        while not (self.operator and self.watcher):
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise AssertionError(f"serve did not start: {''.join(self.err)}") from None
            found = re.search(r"(operator|watchers): (http://\S+)", line)
            if found:
                setattr(self, "operator" if found.group(1) == "operator" else "watcher",
                        found.group(2))
        self.base = self.operator.rsplit("/", 2)[0]
        self.operator_token = self.operator.rstrip("/").rsplit("/", 1)[1]
        self.watcher_token = self.watcher.rstrip("/").rsplit("/", 1)[1]

    def _read(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)
            self.lines.put(line)

    def request(self, path: str, *, method: str = "GET", headers: dict[str, str] | None = None,
                body: bytes | None = None, timeout: float = 10) -> Reply:
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return Reply(response.status, {k.lower(): v for k, v in response.headers.items()},
                             response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:
            return Reply(error.code, {k.lower(): v for k, v in error.headers.items()},
                         error.read().decode("utf-8", "replace"))

    def post(self, token: str, path: str, payload: dict[str, Any], *,
             header: str | None = None) -> Reply:
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers["X-Runbook-Token"] = header
        return self.request(f"/{token}{path}", method="POST", headers=headers,
                            body=json.dumps(payload).encode())

    def sse(self, token: str, seconds: float, after: int = 0) -> str:
        """The raw bytes the live stream sends in ``seconds`` (from message ``after`` on)."""
        host, port = self.base.removeprefix("http://").rsplit(":", 1)
        chunks: list[bytes] = []
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(f"GET /{token}/api/events?after={after} HTTP/1.1\r\nHost: {host}\r\n"
                         f"Accept: text/event-stream\r\n\r\n".encode())
            conn.settimeout(0.2)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks).decode("utf-8", "replace")

    def prompt_or_none(self) -> str | None:
        """The id of the question the run waits on now, if any."""
        prompt = self.request(f"/{self.operator_token}/api/state").json()["prompt"]
        return None if prompt is None else str(prompt["id"])

    def prompt(self, timeout: float = 30) -> dict[str, Any]:
        """The question the run waits on (waiting for the run to ask it)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.request(f"/{self.operator_token}/api/state").json()
            if state["prompt"] is not None:
                return dict(state["prompt"])
            if time.monotonic() > deadline:
                raise AssertionError(f"no question asked: {state}")
            time.sleep(0.05)

    def wait_output(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in "".join(self.out):
            if time.monotonic() > deadline:
                raise AssertionError(f"serve never printed {text!r}: {''.join(self.out)}")
            time.sleep(0.05)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.transcript.read_text().splitlines() if line]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def stop_all() -> None:
    """Stop the servers a test left running (it failed before stopping them)."""
    while Served.started:
        Served.started.pop().stop()
