"""A small thread-safe least-recently-used cache (per process)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    def __init__(self, max_size: Callable[[], int]) -> None:
        # A callable, so that a changed setting (tests, reconfiguration) takes effect.
        self._max_size = max_size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        # Counted for the metrics (core.metrics): plain ints, under the lock already held.
        self.hits = self.misses = self.evictions = 0

    def get_or_create(self, key: Hashable, create: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self.hits += 1
                self._items.move_to_end(key)
                return self._items[key]
            self.misses += 1
        # Built outside the lock: two threads may build the same value once each, which
        # is harmless (pure builders) and keeps a slow build from blocking other keys.
        value = create()
        with self._lock:
            value = self._items.setdefault(key, value)
            self._items.move_to_end(key)
            self._trim()
        return value

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            self._trim()

    def _trim(self) -> None:
        while len(self._items) > max(1, self._max_size()):
            self._items.popitem(last=False)
            self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items
