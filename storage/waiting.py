"""Long-polls of the change feed (`?wait=N`): a request with nothing new waits for a write
to its storage, without holding a database connection, up to N seconds.

PostgreSQL: one listener thread per process, on a connection of its own, LISTENs on the
feed's channel; a write NOTIFYs it with its storage's id while someone waits on that
storage anywhere (factory.schema.feed: a waiter's row in factory_feedwaiter asks for it).
The listener wakes this process's waiters of that storage. A waiter also looks again
every POLL_SECONDS whatever it heard: a write whose statement ran just before the waiter
asked for notifications, or a change that a long transaction elsewhere keeps below the
feed's bound, is found then, never lost. SQLite polls every SQLITE_POLL_SECONDS.

Waiters are bounded per process (FEED_MAX_WAITERS): each holds a server thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.errors import ServerBusy
from factory.models import FeedWaiter
from factory.schema import feed

logger = logging.getLogger("datastorage.feed")

POLL_SECONDS = 1.0
SQLITE_POLL_SECONDS = 0.25
# A notification that turned out to show nothing yet (a change still above the bound):
# look again soon, then less and less often.
RETRY_FIRST = 0.05
# How long a waiter's row outlives its wait: writes keep notifying a moment longer.
REGISTRATION_SLACK = timedelta(seconds=5)
LISTENER_BACKOFF_CAP = 10.0
# How often the listener looks whether anyone still waits (it closes when nobody does).
IDLE_CHECK_SECONDS = 1.0


class Waiter:
    """One long-poll: `wait()` until the storage may have changed or the time is up."""

    def __init__(self, storage_id: int, seconds: float) -> None:
        self.storage_id = storage_id
        self.deadline = time.monotonic() + seconds
        self.event = threading.Event()
        self.registered = False
        self.retry = 0.0

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def wait(self, *, soon: bool = False) -> bool:
        """Give the connection back, then wait for a notification or the next look;
        returns whether a notification came. `soon`: the last one showed nothing new yet
        (look again soon, then less and less often)."""
        if not self.registered:
            self._register()
        connection.close()  # back to the pool while this thread waits
        if soon:
            self.retry = min(max(self.retry * 2, RETRY_FIRST), POLL_SECONDS)
            pause = self.retry
        else:
            self.retry = 0.0
            listening = connection.vendor == "postgresql" and _listener.alive
            pause = POLL_SECONDS if listening else SQLITE_POLL_SECONDS
        remaining = self.deadline - time.monotonic()
        woken = remaining > 0 and self.event.wait(min(pause, remaining))
        self.event.clear()
        return woken

    def _register(self) -> None:
        self.registered = True
        if connection.vendor != "postgresql":
            return
        _listener.add(self)
        until = timezone.now() + timedelta(seconds=self.deadline - time.monotonic())
        FeedWaiter.objects.bulk_create(
            [FeedWaiter(storage_id=self.storage_id, until=until + REGISTRATION_SLACK)],
            update_conflicts=True,
            unique_fields=["storage"],
            update_fields=["until"],
        )

    def close(self) -> None:
        if self.registered and connection.vendor == "postgresql":
            _listener.remove(self)


class _Slots:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.taken = 0

    @contextlib.contextmanager
    def waiter(self, storage_id: int, seconds: float) -> Iterator[Waiter]:
        with self.lock:
            if self.taken >= settings.FEED_MAX_WAITERS:
                raise ServerBusy(
                    "Too many consumers are waiting on the change feed in this server "
                    "process; retry, or poll without `wait`.",
                    retry_after=1,
                )
            self.taken += 1
        waiter = Waiter(storage_id, seconds)
        try:
            yield waiter
        finally:
            waiter.close()
            with self.lock:
                self.taken -= 1


_slots = _Slots()


def waiter(storage_id: int, seconds: float) -> contextlib.AbstractContextManager[Waiter]:
    """A waiting slot for a long-poll of `storage_id`'s feed. Raises ServerBusy (503) when
    FEED_MAX_WAITERS already wait in this process."""
    return _slots.waiter(storage_id, seconds)


class _Listener:
    """The process's LISTEN connection, started by its first waiter, kept while the process
    lives (reconnecting with back-off after a database outage)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiters: dict[int, set[Waiter]] = {}
        self.thread: threading.Thread | None = None
        self.alive = False

    def add(self, waiter: Waiter) -> None:
        with self.lock:
            self.waiters.setdefault(waiter.storage_id, set()).add(waiter)
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, args=(connection.get_connection_params(),),
                    name="feed-listener", daemon=True,
                )  # fmt: skip
                self.thread.start()

    def remove(self, waiter: Waiter) -> None:
        with self.lock:
            waiting = self.waiters.get(waiter.storage_id, set())
            waiting.discard(waiter)
            if not waiting:
                self.waiters.pop(waiter.storage_id, None)

    def wake(self, storage_id: int) -> None:
        with self.lock:
            for waiting in self.waiters.get(storage_id, ()):
                waiting.event.set()

    def _run(self, params: dict) -> None:
        """Listen while anyone in this process waits; then close the connection and end
        (the next waiter starts a listener again)."""
        delay = 0.5
        while True:
            try:
                with psycopg.connect(**params, autocommit=True) as listening:
                    listening.execute(f"LISTEN {feed.CHANNEL}")
                    self.alive, delay = True, 0.5
                    while self._still_wanted():
                        for notice in listening.notifies(timeout=IDLE_CHECK_SECONDS):
                            if notice.payload.isdigit():
                                self.wake(int(notice.payload))
                    self.alive = False
                    return
            except Exception:  # noqa: BLE001 - any failure: reconnect, waiters poll meanwhile
                logger.warning("change feed listener lost its connection; reconnecting")
            self.alive = False
            time.sleep(delay)
            delay = min(delay * 2, LISTENER_BACKOFF_CAP)
            if not self._still_wanted():
                return

    def _still_wanted(self) -> bool:
        with self.lock:
            if self.waiters:
                return True
            self.thread = None  # the next waiter starts another
            return False


_listener = _Listener()
