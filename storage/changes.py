"""The change feed's reads: every record's latest state and every deletion, in feed order,
a page at a time (GET /api/v1/storage/{name}/changes/).

Positions are (transaction, sequence), written by the database itself on every write
(factory.schema.feed says how). A page serves only positions at or below the *bound*: the
highest position no transaction still running can come in under.
- PostgreSQL: every transaction whose id is below the reading snapshot's xmin has ended,
  and any later one gets a higher id, so the bound is (xmin - 1, the highest sequence).
- SQLite: writers draw their versions in their own transaction, one writer at a time, so
  the version counter's committed value is the bound, in transaction 0.
The bound is read before the page, so everything at or below it is visible to the page's
statements. A page that is not full has served everything up to the bound: its cursor
moves there, and the next poll starts from it (filtered-out records included).

A record appears once, at its latest position (a state feed, like CouchDB's `_changes`);
a tombstone for a key that exists again is left out (the record's own entry follows).
Records already in a table when the feed was installed sit in transaction 0 by their
`_version`; versions given before per-storage counters existed may repeat, so entries
tie-break on the key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import heapq
import hmac
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError

from core.errors import CursorExpired, FeedNotReady, ValidationFailed
from factory.models import FeedStatus, StorageDefinition
from factory.schema import names
from storage.runtime import RecordRuntime
from storage.selectors import RecordList, page_limit, projection
from storage.serializers import represent_all
from storage.sql import changes as sql
from storage.sql import pages
from storage.sql.changes import MAX_SEQ, Position

# What the feed reads from the query besides the storage's filters.
FEED_PARAMETERS = names.FEED_PARAMETERS


@dataclass(frozen=True)
class Cursor:
    """Where a consumer stands: after `position` (and, among records at that very position,
    after `key`; None after a tombstone or a bound)."""

    position: Position
    key: Any = None


START = Cursor(Position(-1, MAX_SEQ))  # before everything (no `after`)


@dataclass
class ChangesPage:
    entries: list[dict[str, Any]]
    next: str  # the cursor to come back with, present even when nothing changed


# --- cursors --------------------------------------------------------------------------


@functools.cache
def _signing_key(secret: str) -> bytes:
    return hashlib.sha256(b"datastorage.changes|" + secret.encode()).digest()


def _sign(payload: bytes) -> bytes:
    # Keyed BLAKE2b is a MAC by itself (no HMAC construction needed), in one C call.
    key = _signing_key(settings.SECRET_KEY)
    return hashlib.blake2b(payload, key=key, digest_size=12).digest()


def encode_cursor(storage_id: int, cursor: Cursor) -> str:
    """Opaque to clients: the position, signed, bound to its storage."""
    key = cursor.key
    payload = orjson.dumps(
        [storage_id, cursor.position.txid, cursor.position.seq, key], default=str
    )
    raw = base64.urlsafe_b64encode(payload + _sign(payload)).decode()
    return raw.rstrip("=")


def decode_cursor(raw: str, runtime: RecordRuntime) -> Cursor:
    invalid = ValidationFailed(
        {"after": ["Invalid cursor; use a page's `next` link or a list's `changes` link."]}
    )
    try:
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (ValueError, binascii.Error):
        raise invalid from None
    payload, signature = data[:-12], data[-12:]
    if len(data) <= 12 or not hmac.compare_digest(signature, _sign(payload)):
        raise invalid
    storage_id, txid, seq, key = orjson.loads(payload)
    if storage_id != runtime.storage_id:
        raise ValidationFailed({"after": ["This cursor belongs to another storage."]})
    if key is not None:
        field = runtime.model._meta.pk
        try:
            key = field.to_python(key)
        except (DjangoValidationError, ValueError, TypeError):
            raise invalid from None
    return Cursor(Position(txid, seq), key)


# --- reading a page ---------------------------------------------------------------------


@dataclass(frozen=True)
class FeedQuery:
    """A feed request's parameters, checked: where to start, what to show, how many."""

    cursor: Cursor
    pairs: list[tuple[str, Any]]
    limit: int
    queryset: Any  # the storage's filters applied
    shape: Any  # what decides the page's statement but the cursor (None: not to be kept)


def feed_query(*, runtime: RecordRuntime, params: Any) -> FeedQuery:
    """Raises ValidationFailed for a parameter (the cursor's freshness is feed_state's)."""
    filter_values = runtime.filters.values_key(params, FEED_PARAMETERS)
    raw = params.get("after")
    cursor = decode_cursor(raw, runtime) if raw is not None else START
    pairs = projection(runtime, params.get("fields"))
    limit = page_limit(params.get("limit"))
    shape = (runtime.storage_id, runtime.version, filter_values, tuple(pairs), limit)
    return FeedQuery(
        cursor=cursor,
        pairs=pairs,
        limit=limit,
        queryset=runtime.filters.apply(runtime.model.objects.all(), params, FEED_PARAMETERS),
        shape=shape if pages.keepable(filter_values) else None,
    )


def feed_state(runtime: RecordRuntime, query: FeedQuery) -> sql.FeedState:
    """What a feed request reads first (bound, high-water mark): raises FeedNotReady (503)
    and CursorExpired (410: tombstones past the query's cursor were pruned)."""
    if not feed_ready(runtime):  # the table may not have the feed's column yet
        raise FeedNotReady(
            f"The change feed of '{runtime.name}' is being installed by the worker (its "
            "table predates the feed); retry shortly.",
            retry_after=5,
        )
    state = sql.feed_state(runtime)
    if query.cursor is not START and query.cursor.position < state.pruned:
        raise CursorExpired(
            "Deletions after this cursor were pruned (FEED_TOMBSTONE_DAYS): take a fresh "
            "snapshot of the list and follow the feed from the cursor it gives.",
            list=f"/api/v1/storage/{runtime.name}/",
        )
    return state


def feed_tag(runtime: RecordRuntime, state: sql.FeedState) -> str:
    """The feed's ETag: its high-water mark below the bound, in the version's shape."""
    txid, seq = state.high_water
    return f'W/"{runtime.version}.{txid}.{seq}"'


def changes_page(*, runtime: RecordRuntime, query: FeedQuery, state: sql.FeedState) -> ChangesPage:
    """The changes after the query's cursor up to the state's bound, at most the query's
    limit, in feed order: exactly what the state's tag describes."""
    cursor, limit = query.cursor, query.limit
    bound = state.bound
    names_ = [name for name, _ in query.pairs]
    after = (cursor.position, cursor.key)
    live = sql.live_rows(runtime, query.queryset, query.shape, names_, after, bound, limit)
    gone = sql.tombstones(runtime, cursor.position, bound, limit)
    merged = list(heapq.merge(live, gone, key=lambda entry: entry.position))
    served = merged[:limit]
    records = iter(represent_all((e.row for e in served if not e.tombstone), query.pairs))
    entries = []
    last = cursor
    for entry in served:
        if entry.tombstone:
            last = Cursor(entry.position)
            shown = _tombstone(runtime, entry.row)
        else:
            last = Cursor(entry.position, entry.row[runtime.key_name])
            shown = next(records)
        shown["_position"] = f"{entry.position.txid}.{entry.position.seq}"
        entries.append(shown)
    if len(merged) <= limit:
        last = Cursor(bound)  # everything up to the bound is served
    return ChangesPage(entries, encode_cursor(runtime.storage_id, last))


def _tombstone(runtime: RecordRuntime, row: dict[str, Any]) -> dict[str, Any]:
    """A deleted record's entry, or a retention run's mark that records were removed
    wholesale: {"_removed": {"field": ..., "before": ...}} (partitions dropped)."""
    if row["removed"] is not None:
        return {"_removed": row["removed"]}
    return {runtime.key_name: row["key"], "_version": row["version"], "_deleted": True}


def feed_cursor(runtime: RecordRuntime, found: RecordList) -> str:
    """The cursor a consumer follows the feed from after taking a snapshot of the list:
    the bound as the snapshot's first page was read (in its statement, or before it), at
    or below every change that page did not see."""
    return encode_cursor(runtime.storage_id, Cursor(found.feed_bound))


# Storages whose feed this process saw ready: a feed never goes back to pending (a storage
# dropped and made again has another id), so remembering it costs no correctness.
_ready: set[int] = set()


def forget_ready() -> None:
    """Forget which feeds this process saw ready (tests that take a feed back)."""
    _ready.clear()


def feed_ready(runtime: RecordRuntime) -> bool:
    if runtime.storage_id in _ready:
        return True
    status = (
        StorageDefinition.objects.filter(pk=runtime.storage_id)
        .values_list("feed_status", flat=True)
        .first()
    )
    if status == FeedStatus.READY:
        _ready.add(runtime.storage_id)
    return status == FeedStatus.READY
