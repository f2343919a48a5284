"""Ingest events: route each to the storages whose source matches, validate, write in bulk.

Events are read one at a time (NDJSON streams); only the projected, narrow records are
kept until the end, when each storage's batch is written all or nothing. Permissions are
checked as storages are matched, so a refusal comes before anything is written.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from core.errors import PayloadTooLarge, UniqueViolation, ValidationFailed
from ingest.routing import Route
from ingest.selectors import route_list
from storage.runtime import RecordRuntime, runtime_for
from storage.services import record_bulk_insert


@dataclass
class StorageBatch:
    runtime: RecordRuntime
    rows: list[dict[str, Any]] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    written: int = 0


@dataclass
class IngestReport:
    # Every record the request writes carries this time as _created_at and _updated_at.
    now: datetime.datetime = field(default_factory=timezone.now)
    events: int = 0
    unmatched: int = 0
    batches: dict[str, StorageBatch] = field(default_factory=dict)

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
    """Route, validate and write. Raises PermissionDenied (a matched storage without
    `write`) and PayloadTooLarge, both before anything is written."""
    report = events_route(principal=principal, events=events)
    batches_write(report=report)
    return report


def events_route(*, principal: Any, events: Iterable[Any]) -> IngestReport:
    """Read every event and build each storage's batch; writes nothing."""
    routes = route_list()
    report = IngestReport()
    for position, event in enumerate(events):
        if position >= settings.MAX_INGEST_EVENTS:
            raise PayloadTooLarge(
                f"An ingest request takes at most {settings.MAX_INGEST_EVENTS} events."
            )
        report.events += 1
        matched = [route for route in routes if route.matches(event)]
        if not matched:
            report.unmatched += 1
        for route in matched:
            batch = _batch_for(report, route, principal)
            _add(batch, route, event, position)
    return report


def batches_write(*, report: IngestReport) -> None:
    """Write each storage's batch, each all or nothing."""
    for batch in report.batches.values():
        _write(batch, report.now)


def _batch_for(report: IngestReport, route: Route, principal: Any) -> StorageBatch:
    batch = report.batches.get(route.name)
    if batch is None:
        if not principal.admin and "write" not in principal.access_to(route.name):
            raise PermissionDenied(
                f"Events match storage '{route.name}', and this token may not write to it."
            )
        batch = report.batches[route.name] = StorageBatch(runtime=runtime_for(route.name))
    return batch


def _add(batch: StorageBatch, route: Route, event: Any, position: int) -> None:
    try:
        values = batch.runtime.validator.for_create(route.project(event))
    except ValidationFailed as exc:
        batch.rejected.append({"event": position, "errors": exc.errors})
        return
    batch.rows.append(values)
    batch.events.append(position)


def _write(batch: StorageBatch, now: datetime.datetime) -> None:
    """One storage's batch, all or nothing: a unique violation rejects every event in it."""
    if not batch.rows:
        return
    try:
        record_bulk_insert(runtime=batch.runtime, rows=batch.rows, now=now)
    except UniqueViolation as problem:
        reason = {"non_field_errors": [problem.detail]}
        batch.rejected.extend({"event": position, "errors": reason} for position in batch.events)
        batch.rejected.sort(key=lambda item: item["event"])
        return
    batch.written = len(batch.rows)
