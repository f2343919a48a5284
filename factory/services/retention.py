"""Retention, in the worker: remove the records a storage's retention rule expired
(factory.schema.retention says what expires), and record each run for ready_status.

A run deletes in key order, RETENTION_BATCH_ITEMS records per transaction, each batch a
plain DELETE under the statement timeout: writers wait at most for one batch's row locks,
never for a table lock. The table's own delete trigger writes one change-feed tombstone
per record removed (factory.schema.feed), as for any other delete. A batch re-checks the
rule on every row it deletes, so a record updated to a later value meanwhile stays.
A storage partitioned on the rule's field drops its wholly expired partitions first (one
feed mark for them, no tombstones); the batches then remove what is left before the
cutoff, in the partition it falls in and in the default partition.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, models, transaction
from django.db.models import F, Min
from django.utils import timezone

from core import metrics
from core.batches import key_batch
from factory.models import StorageDefinition, StorageVersion
from factory.schema import ddl, feed
from factory.schema.builder import build_model
from factory.schema.retention import parse_keep
from factory.schema.specs import SYSTEM_FIELDS
from factory.services.migrations import retention_lock, storage_lock
from factory.services.partitions import partitions_drop_expired

logger = logging.getLogger("datastorage.retention")


def retention_run_all() -> dict[str, int]:
    """One run for every storage whose serving version has a retention rule; returns how
    many records went, by storage. A storage another worker is running is skipped."""
    serving = StorageVersion.objects.filter(
        storage__serving_version=F("number"), definition__has_key="retention"
    ).select_related("storage")
    removed = {}
    for version in serving.order_by("storage_id"):
        with retention_lock(version.storage_id) as acquired:
            if acquired:
                removed[version.storage.name] = retention_run(version=version)
    return removed


def retention_run(*, version: StorageVersion, now: datetime.datetime | None = None) -> int:
    """Remove what `version`'s rule expired at `now` (default: this moment) and record the
    run on its storage; returns how many records went. A database error other than a lost
    connection ends the run early, recorded as its `error`.

    A storage partitioned on the rule's field first loses the partitions wholly expired
    (services.partitions: DETACH, DROP, one mark in the change feed), under its migration
    lock: while a migration holds it, the run is skipped (not recorded) until the next."""
    storage, rule = version.storage, version.definition["retention"]
    model = build_model(
        storage_id=storage.id, version=version.number, definition=version.definition
    )
    partitioned = version.definition.get("partition", {}).get("field") == rule["field"]
    with storage_lock(storage.id) if partitioned else contextlib.nullcontext(True) as free:
        if not free:
            logger.info("retention of %s waits for its migration", storage.name)
            return 0
        removed, oldest, error = _remove(model, rule["field"], _cutoff(version, now), partitioned)
    _record_run(storage, removed, oldest, error)
    return removed


def _remove(
    model: type[models.Model], field: str, cutoff: Any, partitioned: bool
) -> tuple[int, Any, str | None]:
    """(records removed, the oldest value kept, the error that ended the run early)."""
    expired = model.objects.filter(**{f"{field}__lt": cutoff})
    removed, name = 0, model._definition["name"]
    try:
        if partitioned:
            removed, _ = partitions_drop_expired(model=model, cutoff=cutoff)
            metrics.records_written(name, "delete", removed)
        while True:
            deleted, more = _delete_batch(expired, settings.RETENTION_BATCH_ITEMS)
            removed += deleted
            metrics.records_written(name, "delete", deleted)
            if not more:
                break
        return removed, model.objects.aggregate(oldest=Min(field))["oldest"], None
    except DatabaseError as exc:
        if ddl.connection_lost():
            raise  # an outage: the worker waits for the database, the next run goes on
        logger.warning("retention of storage %s stopped: %s", name, exc)
        return removed, None, str(exc).strip() or repr(exc)


def _cutoff(version: StorageVersion, now: datetime.datetime | None) -> Any:
    """Records before this expire: `now - keep`; for a date field the day that instant
    falls on, so that a date goes only once the whole day is past the rule."""
    rule = version.definition["retention"]
    cutoff = (now or timezone.now()) - parse_keep(rule["keep"])
    types = {spec["name"]: spec["type"] for spec in version.definition["fields"]}
    return cutoff.date() if (types | SYSTEM_FIELDS)[rule["field"]] == "date" else cutoff


def _delete_batch(expired: models.QuerySet, batch: int) -> tuple[int, bool]:
    """Delete the first `batch` expired records in key order, in one transaction; returns
    how many went and whether more may be left."""
    with transaction.atomic():
        chunk, edge = key_batch(expired, batch)
        deleted = feed.delete_rows(chunk)
    return deleted, edge is not None


def _record_run(storage: StorageDefinition, removed: int, oldest: Any, error: str | None) -> None:
    run = {
        "last_run_at": _iso(timezone.now()),
        "removed": removed,
        "oldest_kept": _iso(oldest),
        "error": error,
    }
    StorageDefinition.objects.filter(pk=storage.pk).update(retention_last_run=run)


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat() if value is not None else None
