"""Ingest events: route each to the storages whose source matches it and that the sending
token may write, validate, and write in batches.

Events are read one at a time (NDJSON streams). A storage's validated records are held only
until a batch fills (MAX_BULK_ITEMS records in one storage, or INGEST_BATCH_BYTES of records
across the request's storages), then written: memory follows the batch, not the body. Every
write happens in the request's transaction, so a refusal (a limit passed mid-stream) leaves
nothing written, and each storage is still written all or nothing: a unique violation takes
back what the request wrote there before (by key) and rejects every event routed to it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from access.grants import may_access
from core import metrics
from core.errors import PayloadTooLarge, UniqueViolation, ValidationFailed
from core.json import dumps
from ingest.routing import Route
from ingest.selectors import route_list
from storage.runtime import RecordRuntime, runtime_for
from storage.services import record_bulk_insert


@dataclass
class StorageBatch:
    runtime: RecordRuntime
    # Validated records not yet written, and the position of each one's event.
    rows: list[dict[str, Any]] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    # What this request wrote: keys to take back, positions to reject, if a later batch fails.
    keys: list[Any] = field(default_factory=list)
    written_events: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # Set by a unique violation: every later valid event of this storage is rejected with it.
    failure: dict[str, list[str]] | None = None

    @property
    def written(self) -> int:
        return len(self.keys)


@dataclass
class IngestReport:
    # Every record the request writes carries this time as _created_at and _updated_at.
    now: datetime.datetime = field(default_factory=timezone.now)
    events: int = 0
    unmatched: int = 0
    batches: dict[str, StorageBatch] = field(default_factory=dict)
    # Size (as JSON) of the records held in every batch, against INGEST_BATCH_BYTES.
    held_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "unmatched": self.unmatched,
            "storages": {
                name: {"written": batch.written, "rejected": batch.rejected}
                for name, batch in sorted(self.batches.items())
            },
        }


def ingest_events(*, principal: Any, events: Iterable[Any]) -> IngestReport:
    """Route, validate and write, in one transaction (a savepoint in the caller's). Raises
    PayloadTooLarge (more than MAX_INGEST_EVENTS events) and whatever reading `events`
    raises; nothing is written then."""
    routes = writable_routes(principal=principal)
    report = IngestReport()
    with transaction.atomic():
        for position, event in enumerate(events):
            if position >= settings.MAX_INGEST_EVENTS:
                raise PayloadTooLarge(
                    f"An ingest request takes at most {settings.MAX_INGEST_EVENTS} events."
                )
            _route(report, routes, event, position)
        _flush(report)
    for batch in report.batches.values():
        batch.rejected.sort(key=lambda item: item["event"])
    _count(report)
    return report


def _count(report: IngestReport) -> None:
    """The metrics of a request's events (written: records, one per storage an event
    reached; rejected: refused by a storage; unmatched: no route took it)."""
    for name, batch in report.batches.items():
        metrics.records_written(name, "ingest", batch.written)
        metrics.ingest_events("written", batch.written)
        metrics.ingest_events("rejected", len(batch.rejected))
    metrics.ingest_events("unmatched", report.unmatched)


def writable_routes(*, principal: Any) -> list[Route]:
    """The routes of the storages this token may write: the others do not exist for its
    events (not even in its answer, which would tell it what other tenants' sources match)."""
    routes = route_list()
    if not principal.admin:
        principal.access_load(route.name for route in routes)  # one query, not one each
    return [route for route in routes if may_access(principal, route.name, "write")]


def _route(report: IngestReport, routes: list[Route], event: Any, position: int) -> None:
    report.events += 1
    matched = [route for route in routes if route.matches(event)]
    if not matched:
        report.unmatched += 1
    for route in matched:
        batch = report.batches.get(route.name)
        if batch is None:
            batch = report.batches[route.name] = StorageBatch(runtime=runtime_for(route.name))
        _add(report, batch, route, event, position)


def _add(report: IngestReport, batch: StorageBatch, route: Route, event: Any, at: int) -> None:
    record = route.project(event)
    try:
        values = batch.runtime.validator.for_create(record)
    except ValidationFailed as exc:
        batch.rejected.append({"event": at, "errors": exc.errors})
        return
    if batch.failure is not None:
        batch.rejected.append({"event": at, "errors": batch.failure})
        return
    batch.rows.append(values)
    batch.events.append(at)
    report.held_bytes += len(dumps(record))
    if report.held_bytes > settings.INGEST_BATCH_BYTES:
        _flush(report)
    elif len(batch.rows) >= settings.MAX_BULK_ITEMS:
        _write(batch, report.now)


def _flush(report: IngestReport) -> None:
    for batch in report.batches.values():
        _write(batch, report.now)
    report.held_bytes = 0


def _write(batch: StorageBatch, now: datetime.datetime) -> None:
    """Write the held records. A unique violation fails the storage: its savepoint undid the
    batch, and what this request wrote there before is deleted again."""
    rows, events = batch.rows, batch.events
    batch.rows, batch.events = [], []
    if not rows:
        return
    try:
        written = record_bulk_insert(runtime=batch.runtime, rows=rows, now=now)
    except UniqueViolation as problem:
        batch.failure = {"non_field_errors": [problem.detail]}
        _take_back(batch)
        batch.rejected.extend({"event": at, "errors": batch.failure} for at in events)
        return
    batch.keys.extend(record.pk for record in written)
    batch.written_events.extend(events)


def _take_back(batch: StorageBatch) -> None:
    keys, events = batch.keys, batch.written_events
    batch.keys, batch.written_events = [], []
    manager = batch.runtime.model._base_manager
    step = settings.MAX_BULK_ITEMS
    for start in range(0, len(keys), step):
        manager.filter(pk__in=keys[start : start + step])._raw_delete(manager.db)
    batch.rejected.extend({"event": at, "errors": batch.failure} for at in events)
