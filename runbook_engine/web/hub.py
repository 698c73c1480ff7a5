"""Between the run and its pages: the live model every page starts from, the numbered messages
each page follows (server-sent events), and the operator's pending question."""

from __future__ import annotations

import json
import queue
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..events import DocShown, Event, Invalid, Output
from .live import LiveRun

#: what is kept for pages that reconnect (messages, and characters of them); a page further
#: behind reloads the whole state instead
HISTORY = 20_000
HISTORY_CHARS = 32 * 1024 * 1024

Message = tuple[int, str, str]  # number, name, JSON data


@dataclass(frozen=True)
class Verdict:
    """What the controller made of a reply: taken (``ok``), or a message to show and ask again."""

    ok: bool
    message: str = ""


class Prompt:
    """A question the engine waits on. Replies come from the operator's page (HTTP threads), one
    at a time; the controller (the engine's thread) reads each and gives its verdict."""

    def __init__(self, kind: str, view: dict[str, Any]) -> None:
        self.id = secrets.token_hex(8)
        self.kind = kind
        self.view = view
        self.closed = False
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._verdicts: queue.Queue[Verdict] = queue.Queue()
        self._offer = threading.Lock()  # one reply at a time, each with its own verdict

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, **self.view}

    # the page's side
    def offer(self, reply: dict[str, Any], timeout: float = 30.0) -> Verdict:
        with self._offer:
            if self.closed:
                return Verdict(False, "this question was answered already")
            self._replies.put(reply)
            try:
                return self._verdicts.get(timeout=timeout)
            except queue.Empty:
                return Verdict(False, "the run did not take the answer")

    # the controller's side
    def next_reply(self) -> dict[str, Any]:
        return self._replies.get()  # in the main thread: Ctrl-C interrupts it, as at a prompt

    def verdict(self, verdict: Verdict) -> None:
        if verdict.ok:
            self.closed = True
        self._verdicts.put(verdict)


class Hub:
    """The live run's model (applied to every event, in emit order) and the numbered messages
    pages follow: ``output`` lines, a ``step``'s view after it changed, the ``run``'s view, the
    ``prompt`` (or null), an ``invalid`` answer."""

    def __init__(self, live: LiveRun | None = None, history: int = HISTORY,
                 history_chars: int = HISTORY_CHARS) -> None:
        self.live = live or LiveRun()
        self._cond = threading.Condition()
        self._seq = 0
        self._log: deque[Message] = deque()
        self._history = history
        self._history_chars = history_chars
        self._chars = 0
        self.prompt: Prompt | None = None
        self.closed = False
        # what a page asks of the run beyond answering: set by the session that runs now
        self.note: Callable[[str, str | None], None] | None = None
        self.interrupt: Callable[[], bool] | None = None
        self.resume_wanted = threading.Event()
        self.finished = threading.Event()

    # -- from the run ---------------------------------------------------------------------

    def observe(self, event: Event) -> None:
        """The run's display: every event, masked, as it is emitted."""
        with self._cond:
            self.live.apply(event)
            if isinstance(event, Output):
                self._publish("output", {"step": event.step, "host": event.host,
                                         "stream": event.stream, "text": event.text})
            elif isinstance(event, Invalid):
                self._publish("invalid", {"text": event.text})
            elif isinstance(event, DocShown):
                return
            step = self.live.touched(event)
            if step is not None:
                self._publish("step", self.live.step_view(step))
            if self.live.changes_run(event):
                self._publish("run", self.run_view())

    def ask(self, kind: str, view: dict[str, Any]) -> Prompt:
        prompt = Prompt(kind, view)
        with self._cond:
            self.prompt = prompt
            self._publish("prompt", prompt.public())
            self._publish("run", self.run_view())
        return prompt

    def answered(self, prompt: Prompt) -> None:
        prompt.closed = True
        with self._cond:
            if self.prompt is prompt:
                self.prompt = None
                self._publish("prompt", None)
                self._publish("run", self.run_view())

    def session_ended(self) -> None:
        with self._cond:
            self.finished.set()
            self._publish("run", self.run_view())

    def problem(self, text: str) -> None:
        """Something the operator must know that is no event (the run cannot resume)."""
        with self._cond:
            self._publish("problem", {"text": text})

    # -- from the pages -------------------------------------------------------------------

    def reply(self, prompt_id: str, reply: dict[str, Any]) -> Verdict:
        with self._cond:
            prompt = self.prompt
        if prompt is None or prompt.id != prompt_id:
            return Verdict(False, "this question was answered already")
        return prompt.offer(reply)

    def snapshot(self) -> dict[str, Any]:
        """Everything a page needs to draw the run as it is, and the number it continues from."""
        with self._cond:
            return {"seq": self._seq, "run": self.run_view(),
                    "steps": {step: self.live.step_view(step) for step in self.live.step_ids()},
                    "prompt": self.prompt.public() if self.prompt else None}

    def since(self, after: int, timeout: float) -> list[Message] | None:
        """Messages numbered above ``after`` (waiting up to ``timeout`` for one); None when the
        page is too far behind to catch up (it reloads the state)."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self.closed, timeout)
            if self._log and after < self._log[0][0] - 1:
                return None
            return [m for m in self._log if m[0] > after]

    def run_view(self) -> dict[str, Any]:
        view = self.live.run_view()
        view["waiting"] = self.prompt is not None
        view["ended"] = self.finished.is_set()
        return view

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def _publish(self, name: str, data: Any) -> None:
        self._seq += 1
        text = json.dumps(data, ensure_ascii=False, default=str)
        self._log.append((self._seq, name, text))
        self._chars += len(text)
        while len(self._log) > 1 and (len(self._log) > self._history
                                      or self._chars > self._history_chars):
            self._chars -= len(self._log.popleft()[2])
        self._cond.notify_all()
