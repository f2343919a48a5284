"""Partitions of partitioned storages, in the worker: keep them made ahead of time, and
drop the ones a retention rule on the partition field expired whole.

Both run under the storage's migration lock (services.migrations.storage_lock): an index
built partition by partition must not see a partition appear or vanish under it. A storage
whose migration runs is skipped, and done at the next run (PARTITIONS_AHEAD intervals of
margin cover a skipped run many times over).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, models
from django.db.models import F
from django.utils import timezone

from factory.models import StorageVersion
from factory.schema import ddl, feed, partitions
from factory.schema.builder import build_model
from factory.schema.partitioning import starts_ahead
from factory.services.migrations import storage_lock

logger = logging.getLogger("datastorage.partitions")


def partitions_maintain_all(*, now: datetime.datetime | None = None) -> dict[str, list[str]]:
    """Add the partitions every partitioned storage lacks, from the current interval
    through PARTITIONS_AHEAD ahead; returns the partitions added, by storage. A failure
    (a lock not had in time) is logged and retried at the next run."""
    serving = StorageVersion.objects.filter(
        storage__serving_version=F("number"), definition__has_key="partition"
    ).select_related("storage")
    added = {}
    for version in serving.order_by("storage_id"):
        with storage_lock(version.storage_id) as acquired:
            if not acquired:
                continue
            try:
                added[version.storage.name] = partitions_maintain(version=version, now=now)
            except DatabaseError as exc:
                if ddl.connection_lost():
                    raise
                logger.warning("partitions of %s not added: %s", version.storage.name, exc)
    return added


def partitions_maintain(
    *, version: StorageVersion, now: datetime.datetime | None = None
) -> list[str]:
    """Add `version`'s missing partitions (rows of their ranges that sit in the default
    partition move into them); returns their names."""
    model = _model(version)
    interval = version.definition["partition"]["interval"]
    starts = starts_ahead(now or timezone.now(), interval, settings.PARTITIONS_AHEAD)
    return partitions.add_partitions(model, starts)


def partitions_drop_expired(*, model: type[models.Model], cutoff: Any) -> tuple[int, Any]:
    """DETACH and DROP every partition wholly before `cutoff` (a date, or a datetime for a
    datetime field), with one mark in the change feed, in one transaction; returns the
    records they held (counted just before) and the end of the newest one dropped (None:
    none was). The caller holds the storage's migration lock."""
    spec = model._definition["partition"]
    table = model._meta.db_table
    expired = [p for p in partitions.partitions(table, spec["interval"]) if _before(p.end, cutoff)]
    if not expired:
        return 0, None
    held = sum(partitions.rows(partition.name) for partition in expired)
    before = _iso_bound(expired[-1].end, cutoff)
    mark = {"field": spec["field"], "before": before}
    partitions.drop_partitions(
        model, expired, lambda cursor: feed.write_removed(cursor, model._storage_id, table, mark)
    )
    logger.info("dropped %s partitions of %s before %s", len(expired), table, before)
    return held, before


def _model(version: StorageVersion) -> type[models.Model]:
    storage = version.storage
    return build_model(storage_id=storage.id, version=version.number, definition=version.definition)


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)


def _before(end: datetime.date, cutoff: Any) -> bool:
    if isinstance(cutoff, datetime.datetime):
        return _midnight(end) <= cutoff
    return end <= cutoff


def _iso_bound(end: datetime.date, cutoff: Any) -> str:
    if isinstance(cutoff, datetime.datetime):
        return _midnight(end).isoformat().replace("+00:00", "Z")
    return end.isoformat()
