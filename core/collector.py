"""Pausing Python's cyclic garbage collector around allocation-heavy work.

A bulk create allocates hundreds of thousands of objects (the parsed body, the validated
rows, the answer), all alive until it is done: every pass of the collector meanwhile walks
them and finds no garbage. Measured in a worker, those passes were half of a bulk's CPU.

The collector is one per process, and a worker serves several requests at once (granian's
blocking threads), so pauses are counted: it is off while any pause is open and resumes
when the last one closes, as it was before the first. Objects freed meanwhile are
forgotten by the collector too (CPython counts deallocations against allocations), so the
pass that follows a pause sees only what is still alive.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_open = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    global _open, _resume
    with _lock:
        if _open == 0:
            _resume = gc.isenabled()
            gc.disable()
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1
            if _open == 0 and _resume:
                gc.enable()
