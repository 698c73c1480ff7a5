"""Pause cyclic garbage collection while building large, acyclic structures (plans, graphs)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Parsing and planning allocate many small objects and free none until the end: cyclic GC
    passes over them only cost time, and more per object as the runbook grows (non-linear)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
