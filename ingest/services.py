"""Ingest events: route each to the storages whose source matches it and that the sending
token may write, validate, and write in batches.

Events are read one at a time (NDJSON streams). A storage's validated records are held only
until a batch fills (MAX_BULK_ITEMS records in one storage, or INGEST_BATCH_BYTES of records
across the request's storages), then written: memory follows the batch, not the body. Every
write happens in the request's transaction, so a refusal (a limit passed mid-stream) leaves
nothing written.

Each storage's `source.write` says how: `insert` (a duplicate key or unique value rejects
that event alone, with its reason), `upsert` or `ignore` (storage.upserts: merged into, or
leaving, the record stored under the same key; stale events skipped by `keep_newer`). An
event matching `source.delete` deletes the record with its key, in its place among the
storage's events (held records are written before it, held deletes before a record).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from access.grants import may_access
from core import metrics
from core.errors import PayloadTooLarge, UniqueViolation, ValidationFailed
from core.json import dumps
from core.problems import flatten_errors
from factory.schema import feed
from ingest.routing import MISSING, Route
from ingest.selectors import route_list
from storage.runtime import RecordRuntime, runtime_for
from storage.services import record_bulk_insert
from storage.sql.upsert import Target
from storage.upserts import IGNORE, MERGE, upsert_rows, upsert_target, validated_item

COUNTS = ("updated", "unchanged", "skipped", "stale", "deleted")


@dataclass
class StorageBatch:
    runtime: RecordRuntime
    route: Route
    # How matched events are written (source.write): None inserts, a Target upserts.
    target: Target | None = None
    # Validated records not yet written, the fields each event sent, and its position.
    rows: list[dict[str, Any]] = field(default_factory=list)
    sent: list[tuple[str, ...]] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    # Keys of delete events not yet applied (after the rows held before them).
    deletes: list[Any] = field(default_factory=list)
    created: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.created + self.counts["updated"]


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
                name: {"written": batch.written, **batch.counts, "rejected": batch.rejected}
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
    taken = False
    for route in routes:
        key = route.delete_of(event)
        if key is None and not route.matches(event):
            continue
        taken = True
        batch = report.batches.get(route.name) or _batch(report, route)
        if key is None:
            _add(report, batch, route, event, position)
        else:
            _add_delete(report, batch, key, position)
    if not taken:
        report.unmatched += 1


def _batch(report: IngestReport, route: Route) -> StorageBatch:
    runtime = runtime_for(route.name)
    write = route.write
    target = None
    if write["mode"] != "insert":
        # Validated with the definition (factory.schema.source): this cannot refuse.
        target = upsert_target(
            runtime,
            resolution=MERGE if write["mode"] == "upsert" else IGNORE,
            on=write["on"],
            keep_newer=write.get("keep_newer"),
        )
    batch = report.batches[route.name] = StorageBatch(runtime=runtime, route=route, target=target)
    return batch


def _add(report: IngestReport, batch: StorageBatch, route: Route, event: Any, at: int) -> None:
    record = route.project(event)
    try:
        if batch.target is None:
            values, sent = batch.runtime.validator.for_create(record), ()
        else:
            values, sent = validated_item(batch.runtime, record, batch.target)
    except ValidationFailed as exc:
        batch.rejected.append({"event": at, "errors": exc.errors})
        return
    if batch.deletes:
        _delete(batch)  # a delete event came before this one: it applies first
    batch.rows.append(values)
    batch.sent.append(sent)
    batch.events.append(at)
    report.held_bytes += len(dumps(record))
    if report.held_bytes > settings.INGEST_BATCH_BYTES:
        _flush(report)
    elif len(batch.rows) >= settings.MAX_BULK_ITEMS:
        _write(batch, report.now)


def _add_delete(report: IngestReport, batch: StorageBatch, raw: Any, at: int) -> None:
    runtime = batch.runtime
    try:
        if raw is MISSING:
            raise serializers.ValidationError("This delete event has no key at source.delete.key.")
        key = runtime.validator.key_field.run_validation(raw)
    except serializers.ValidationError as exc:
        batch.rejected.append({"event": at, "errors": flatten_errors(exc.detail, runtime.key_name)})
        return
    if batch.rows:
        _write(batch, report.now)  # the records held came before this delete
    batch.deletes.append(key)
    if len(batch.deletes) >= settings.MAX_BULK_ITEMS:
        _delete(batch)


def _flush(report: IngestReport) -> None:
    for batch in report.batches.values():
        _write(batch, report.now)
        _delete(batch)
    report.held_bytes = 0


def _write(batch: StorageBatch, now: datetime.datetime) -> None:
    """Write the held records. A unique violation rejects the events behind it alone: the
    batch is written in halves until the offending events are found (a batch without
    one is one statement)."""
    rows, sent, events = batch.rows, batch.sent, batch.events
    batch.rows, batch.sent, batch.events = [], [], []
    if rows:
        _write_or_split(batch, rows, sent, events, now)


def _write_or_split(
    batch: StorageBatch,
    rows: list[dict[str, Any]],
    sent: list[tuple[str, ...]],
    events: list[int],
    now: datetime.datetime,
) -> None:
    try:
        if batch.target is None:
            batch.created += len(record_bulk_insert(runtime=batch.runtime, rows=rows, now=now))
            return
        results = upsert_rows(
            runtime=batch.runtime, rows=rows, sent=sent, target=batch.target, now=now
        )
    except UniqueViolation as problem:
        if len(rows) == 1:
            errors = {"non_field_errors": [problem.detail]}
            batch.rejected.append({"event": events[0], "errors": errors})
            return
        half = len(rows) // 2
        _write_or_split(batch, rows[:half], sent[:half], events[:half], now)
        _write_or_split(batch, rows[half:], sent[half:], events[half:], now)
        return
    for result in results:
        if result.operation == "created":
            batch.created += 1
        else:
            batch.counts[result.operation] += 1


def _delete(batch: StorageBatch) -> None:
    keys, batch.deletes = batch.deletes, []
    manager = batch.runtime.model._base_manager
    for start in range(0, len(keys), settings.MAX_BULK_ITEMS):
        chunk = manager.filter(pk__in=keys[start : start + settings.MAX_BULK_ITEMS])
        batch.counts["deleted"] += feed.delete_rows(chunk)
