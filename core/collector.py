"""Pausing Python's cyclic garbage collector around allocation-heavy work.

A bulk create allocates hundreds of thousands of objects (the parsed body, the validated
rows, the answer), all alive until it is done: every pass of the collector meanwhile walks
them and finds no garbage. Measured in-process (without the start-up heap a worker freezes,
which makes each pass cheaper there), those passes were half of a bulk's CPU.

The collector is one per process, and a worker serves several requests at once (granian's
blocking threads), so pauses are counted: it is off while any pause is open, and the last
one to close turns it back on. A request's pause (`until_next_request=True`, the bulk
view's) leaves that to the next request to start instead (`resume_collector`, called
first thing by core.middleware and storage.frontdoor): the ending bulk's objects (its
parsed body, its answer) are still alive when its view returns, and a collector resumed
then would walk all of them once more (a tenth of a bulk's time, measured); by the next
request they are gone, and CPython, which counts deallocations against allocations, has
nothing left to collect for them. A worker that serves nothing allocates next to nothing,
so a resume that waits for the next request loses nothing. Outside requests (commands)
pauses resume at once.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_open = 0
_was_enabled = False
_resume_pending = False


@contextmanager
def collector_paused(*, until_next_request: bool = False) -> Iterator[None]:
    global _open, _was_enabled, _resume_pending
    with _lock:
        if _open == 0:
            if not _resume_pending:
                _was_enabled = gc.isenabled()
            _resume_pending = False
            gc.disable()
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1
            if _open == 0 and _was_enabled:
                if until_next_request:
                    _resume_pending = True
                else:
                    gc.enable()


def resume_collector() -> None:
    """Turn the collector back on if a pause ended since (see the module's docstring)."""
    global _resume_pending
    if not _resume_pending:  # the common case, without the lock
        return
    with _lock:
        if _resume_pending and _open == 0:
            _resume_pending = False
            gc.enable()
