"""The fan-out's worker threads: a step runs on each host in one of them, up to ``--forks`` at once.

Like ``concurrent.futures.ThreadPoolExecutor`` (futures, threads started as needed), except at the
end: its workers are daemon threads that ``close`` stops all at once. The executor's workers are
joined at interpreter exit, each woken by the one before it: 200 idle workers added about half a
second to the end of a 200-host run on a busy machine. No step is left running by then (the engine
waits for every attempt's hosts, Ctrl-C included), so nothing is cut off.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
_Work = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class FanOut:
    """Runs submitted calls on up to ``workers`` daemon threads; ``close`` cancels what has not
    started and lets every idle worker end."""

    def __init__(self, workers: int) -> None:
        self._most = max(1, workers)
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # workers waiting for work
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, call: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the fan-out is closed")
            self._work.put((future, call, args))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._most:
                worker = threading.Thread(target=self._serve, daemon=True,
                                          name=f"fanout-{len(self._threads)}")
                worker.start()
                self._threads.append(worker)
        return future

    def _serve(self) -> None:
        while (item := self._work.get()) is not None:
            future, call, args = item
            if future.set_running_or_notify_cancel():
                try:
                    result = call(*args)
                except BaseException as exc:  # noqa: BLE001 - handed to the waiter, as the executor
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del item, future, call, args  # finished work is not kept alive while idle
            self._idle.release()

    def close(self, wait: float = 1.0) -> None:
        """Cancel the calls that have not started; every worker ends when it is idle (waited
        for ``wait`` seconds at most)."""
        with self._lock:
            self._closed = True
            while True:
                try:
                    item = self._work.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
            for _ in self._threads:
                self._work.put(None)
        until = time.monotonic() + wait
        for worker in self._threads:  # idle ones end now, each without waiting its turn for
            worker.join(max(0.0, until - time.monotonic()))  # the GIL behind our own work
