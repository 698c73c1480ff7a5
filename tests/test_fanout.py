"""The fan-out's worker threads: results and errors through futures, at most N at once, and an
end that waits for no idle worker."""

from __future__ import annotations

import threading
import time

import pytest

from runbook_engine.fanout import FanOut


def test_results_and_errors_come_back_through_the_futures() -> None:
    pool = FanOut(4)

    def fail() -> None:
        raise ValueError("boom")

    done = [pool.submit(lambda n=n: n * n) for n in range(10)]
    failed = pool.submit(fail)
    assert [f.result(timeout=5) for f in done] == [n * n for n in range(10)]
    assert isinstance(failed.exception(timeout=5), ValueError)
    pool.close()


def test_no_more_than_the_workers_run_at_once_and_idle_ones_are_reused() -> None:
    pool = FanOut(3)
    running, most, lock = [0], [0], threading.Lock()

    def step() -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    for _ in range(3):  # three fan-outs, as three steps on a fleet
        for future in [pool.submit(step) for _ in range(9)]:
            future.result(timeout=5)
    assert most[0] == 3
    assert len(pool._threads) == 3 and all(t.daemon for t in pool._threads)
    pool.close()


def test_close_cancels_what_has_not_started_and_ends_every_worker() -> None:
    pool = FanOut(2)
    gate = threading.Event()
    started = [pool.submit(gate.wait, 5) for _ in range(2)]
    waiting = [pool.submit(time.sleep, 0) for _ in range(3)]
    time.sleep(0.1)
    pool.close()
    assert all(f.cancelled() for f in waiting)
    gate.set()
    assert all(f.result(timeout=5) for f in started)
    for worker in pool._threads:
        worker.join(timeout=5)
        assert not worker.is_alive()
    with pytest.raises(RuntimeError):
        pool.submit(time.sleep, 0)
