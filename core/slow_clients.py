"""Slow clients: what keeps a server process answering while clients take their time.

Under granian's WSGI interface a request's thread reads the body and writes a streamed
answer itself, blocking inside the server for as long as the client takes; neither the
read nor the write can be given a deadline from Python. 40 anonymous clients sending a
body a byte at a time, or 10 that stopped reading an export, held every thread of every
worker, health checks included (issue 15). Three rules keep threads for everyone else:

1. Credentials before bodies. Nothing reads a body before the request is authenticated:
   core.middleware only wraps the stream (CappedInput below), DRF authenticates before it
   parses, the records front door checks the token first (but for a PUT/PATCH of a token
   it found lately to hold write and read on the storage: storage.frontdoor._update). An
   anonymous slow body is answered 401 at once and never waited for.
2. Streamed answers (exports) are bounded: each holds a *slot* until it ends (see
   HeldWhileStreaming), and a process has EXPORT_CONCURRENCY slots, by default its threads
   less one. A client that stops reading holds one slot, never the process; an export
   that finds no slot answers 503 with Retry-After at once.
3. A body slower than the network allows reaches the application only where no
   buffering proxy stands in front: docker-compose runs nginx, which receives bodies and
   sends answers with deadlines of its own (docs/operations.md).

Measured and not taken: serving RSGI and running the WSGI application in a thread pool
behind an asyncio gate gives deadlines on every read and write, but the thread hop cost
17 % of record reads and 65 % of the trivial-app ceiling; reading bodies in a pool of
reader threads with a deadline froze granian's worker outright (its input may only be read
from its own threads).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from core import errors

_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None


class Slot:
    """One of the process's slots for a streamed answer; release() is idempotent."""

    def __init__(self, semaphore: threading.BoundedSemaphore) -> None:
        self._semaphore: threading.BoundedSemaphore | None = semaphore

    def release(self) -> None:
        semaphore, self._semaphore = self._semaphore, None
        if semaphore is not None:
            semaphore.release()


def take_slot() -> Slot:
    """A free slot, without waiting (a waiting request would hold the very thread the
    slots keep free). Raises errors.ServerBusy."""
    semaphore = _semaphore()
    if not semaphore.acquire(blocking=False):
        raise errors.ServerBusy(
            "This server process is streaming as many exports as it may at once; retry shortly."
        )
    return Slot(semaphore)


class HeldWhileStreaming:
    """A streamed answer's chunks that hold `slot` until they end or the answer is closed.
    A class, not a generator: a generator closed before its first chunk (the client left
    at once) never runs its `finally`, and the slot would leak."""

    def __init__(self, chunks: Iterable[bytes], slot: Slot) -> None:
        self._chunks = iter(chunks)
        self._slot = slot

    def __iter__(self) -> HeldWhileStreaming:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._slot.release()
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class CappedInput:
    """A chunked body's input (its size is announced nowhere): reads pass through, and
    more than `limit` bytes in all raise errors.PayloadTooLarge as they arrive."""

    def __init__(self, raw: Any, *, limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self._received = 0

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read() if size is None or size < 0 else self._raw.read(size)
        return self._count(data)

    def readline(self, size: int | None = -1) -> bytes:
        return self._count(self._raw.readline())

    def _count(self, data: bytes) -> bytes:
        self._received += len(data)
        if self._received > self._limit:
            raise errors.PayloadTooLarge.body(self._limit)
        return data


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    if _slots is None:
        with _lock:
            if _slots is None:
                _slots = threading.BoundedSemaphore(max(1, settings.EXPORT_CONCURRENCY))
    return _slots


def _reset(*, setting: str, **kwargs: Any) -> None:
    global _slots
    if setting == "EXPORT_CONCURRENCY":
        _slots = None


setting_changed.connect(_reset)
