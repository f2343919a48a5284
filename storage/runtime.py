"""What the records API needs to serve one storage version, compiled once and cached.

A request learns the storage's serving version with one indexed lookup in PostgreSQL (the
version that committed with its DDL is the truth), then takes the compiled runtime for
(storage id, version) from a per-process LRU cache. Keys use the storage's id, not its
name: a storage dropped and created again under the same name is another storage.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, models

from access.selectors import StorageRow
from core import metrics
from core.errors import DomainError, NotReady, RecordNotFound, StorageNotFound, Unavailable
from core.lru import LRUCache
from factory.models import StorageDefinition, StorageVersion
from factory.schema import distribution
from factory.schema.builder import build_model
from factory.schema.specs import StorageSpec
from storage.filters import RecordFilters, build_filters
from storage.serializers import RecordValidator, converters
from storage.sql import pages
from storage.sql.bulk import CopyInsert, copy_insert
from storage.sql.keyed import KeyedSelect, KeyedUpdate, keyed_select


@dataclass(frozen=True)
class RecordRuntime:
    storage_id: int
    name: str
    version: int
    ready_at: datetime.datetime | None
    definition: dict[str, Any]
    model: type[models.Model]
    validator: RecordValidator
    converters: list[tuple[str, Any]]
    filters: RecordFilters
    key_name: str
    select_by_key: KeyedSelect
    update_by_key: KeyedUpdate
    copy_insert: CopyInsert
    orderable: frozenset[str] = field(default_factory=frozenset)
    field_names: frozenset[str] = field(default_factory=frozenset)

    @property
    def distributed(self) -> bool:
        """Sharded across a Citus cluster (factory.schema.distribution): a statement that
        joins its table with the service's own tables becomes a multi-shard plan."""
        return distribution.is_distributed(self.definition)

    def record_not_found(self, key: Any) -> RecordNotFound:
        return RecordNotFound(f"No record with {self.key_name}={key} in '{self.name}'.")


_runtimes: LRUCache[RecordRuntime] = LRUCache(lambda: settings.MODEL_CACHE_SIZE)
# The runtime each storage name served last in this process: a guess, never the truth. The
# records front door (storage.frontdoor) builds its one statement from it, and the records
# operations check the storage row that comes back; a stale guess costs a second lookup.
_last_served: LRUCache[RecordRuntime] = LRUCache(lambda: settings.MODEL_CACHE_SIZE)


_cache_deltas = {
    result: metrics.CounterDelta(metrics.MODEL_CACHE_EVENTS.labels(result))
    for result in ("hit", "miss", "evicted")
}


def sample_model_cache() -> None:
    """This process's model cache, for the metrics (core.metrics.add_sampler)."""
    metrics.MODEL_CACHE_ENTRIES.set(len(_runtimes))
    _cache_deltas["hit"].update(_runtimes.hits)
    _cache_deltas["miss"].update(_runtimes.misses)
    _cache_deltas["evicted"].update(_runtimes.evictions)


def runtime_for(name: str, principal: Any = None) -> RecordRuntime:
    """The runtime of the version a storage serves now. Raises StorageNotFound, NotReady.

    The storage row usually came with the token (access.selectors.token_lookup, same
    request, same query); otherwise it is read here.
    """
    known = getattr(principal, "storages", {})
    return runtime_for_row(name, known[name] if name in known else storage_row(name))


def runtime_for_row(name: str, row: StorageRow | None) -> RecordRuntime:
    """The runtime of the version `row` (the storage as just read) says is served."""
    if row is None:
        raise StorageNotFound(f"No storage named '{name}'.")
    if row.serving_version is None:
        raise NotReady(
            f"Storage '{name}' has no table yet (status: {row.status}).",
            retry_after=5,
            storage_status=row.status,
        )
    try:
        runtime = _runtimes.get_or_create(
            (row.id, row.serving_version), lambda: compile_runtime(row.id, row.serving_version)
        )
    except StorageVersion.DoesNotExist:
        # The storage was dropped since `row` was read (its versions went with it): the
        # answer of a table dropped under a request, not a 500.
        raise storage_changed(name) from None
    _last_served.put(name, runtime)
    return runtime


def storage_changed(name: str) -> DomainError:
    """What answers a request whose statement met its storage's table dropped or declared
    again under it (factory.schema.ddl.table_changed): 404 when the storage is gone, else
    503 (it is another storage now, or cannot be read in the failed transaction). Nothing
    was written; the next request resolves the storage afresh."""
    try:
        row = storage_row(name)
    except DatabaseError:
        row = StorageRow(0, None, "unknown")
    if row is None:
        return StorageNotFound(f"No storage named '{name}'.")
    return Unavailable(
        f"Storage '{name}' was dropped or declared again while this request ran; nothing "
        "was written. Retry.",
        retry_after=1,
    )


def last_served(name: str) -> RecordRuntime | None:
    """The runtime this process last served for `name`, if any (see _last_served)."""
    return _last_served.get(name)


def storage_row(name: str) -> StorageRow | None:
    found = (
        StorageDefinition.objects.filter(name=name)
        .values_list("id", "serving_version", "status")
        .first()
    )
    return StorageRow(*found) if found else None


def compile_runtime(storage_id: int, number: int) -> RecordRuntime:
    version = StorageVersion.objects.select_related("storage").get(
        storage_id=storage_id, number=number
    )
    definition = version.definition
    model = build_model(storage_id=storage_id, version=number, definition=definition)
    key_name = definition["primary_key"]["name"]
    fields = {spec["name"] for spec in definition["fields"]}
    select_by_key = keyed_select(model)
    return RecordRuntime(
        storage_id=storage_id,
        name=version.storage.name,
        version=number,
        ready_at=version.ready_at,
        definition=definition,
        model=model,
        validator=RecordValidator(definition),
        converters=converters(definition),
        filters=build_filters(model, definition),
        key_name=key_name,
        select_by_key=select_by_key,
        update_by_key=KeyedUpdate(model, select_by_key),
        copy_insert=copy_insert(model),
        orderable=frozenset(StorageSpec.from_normal(definition).orderable),
        field_names=frozenset(fields | {key_name}),
    )


def clear_runtimes() -> None:
    """Forget every compiled version, and the list statements compiled for them."""
    _runtimes.clear()
    _last_served.clear()
    pages.clear()
