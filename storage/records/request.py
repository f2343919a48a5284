"""What the records operations are asked (RecordRequest) and what they answer (Answer),
without an HTTP framework: each adapter builds the one and renders the other."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from access.grants import Holder
from access.selectors import StorageRow
from storage.runtime import RecordRuntime


class Query(Protocol):
    """A request's query parameters, as Django's QueryDict gives them (a name may repeat)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def lists(self) -> Iterable[tuple[str, list[str]]]: ...

    def __contains__(self, key: object) -> bool: ...


@dataclass(frozen=True, slots=True)
class KnownRecord:
    """A record read along with the token (access.selectors.token_lookup), for the storage
    version the caller guessed (`runtime`): trusted only when that is the version served."""

    runtime: RecordRuntime
    row: Any  # None: no record with that key

    def serves(self, storage: StorageRow | None) -> bool:
        """Whether `storage` (the row read with the token) serves the guessed version."""
        runtime = self.runtime
        return (
            storage is not None
            and storage.id == runtime.storage_id
            and storage.serving_version == runtime.version
        )


@dataclass(frozen=True, slots=True)
class RecordRequest:
    """One records request, as an adapter describes it.

    `principal` is who asks, authenticated by the adapter (None: nobody). `storage` is the
    storage's row when it came with the token (`storage_known`); otherwise it is read.
    `body` reads and parses the body: the operations call it only once the grant is
    checked, so an unauthorised client's body is never waited for (core.slow_clients; the
    front door's one-statement update reads it first for tokens it found lately that they
    may write and read the storage, see storage.frontdoor._update).
    """

    name: str
    principal: Holder | None
    query: Query
    path: str  # the request's path, for the links of a page
    absolute: Callable[[str], str]  # a path as an absolute URL (the request's host, scheme)
    key: str | None = None  # the record's key as the URL spells it
    body: Callable[[], Any] = lambda: None
    if_match: str | None = None
    if_none_match: str | None = None
    prefer: str | None = None  # the Prefer header: resolution=... makes a create an upsert
    storage: StorageRow | None = None
    storage_known: bool = False
    known: KnownRecord | None = None
    # A guarded UPDATE of this key (storage.frontdoor) matched nothing on this (storage
    # id, version) although its token and grant held: the record is why (404 or 412).
    missed: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete answer: status, headers and the body's data (None: no body), or a
    `stream` of bytes (an export)."""

    status: int
    data: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"
    stream: Iterator[bytes] | None = None
    bulk: bool = False  # many records: the adapter lets go of them as soon as it can
