"""Reads of the factory: storages, their versions and their readiness."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Now

from core.errors import NotFound, StorageNotFound
from factory.models import StorageDefinition, StorageVersion, VersionStatus, WorkerHeartbeat
from factory.schema import names, partitions
from factory.schema.builder import build_model


def storage_list(*, principal: Any = None) -> QuerySet[StorageDefinition]:
    """Every storage for an admin; for anyone else, those they hold a grant on (the
    principal says which: access.authentication.Principal.grants_filter)."""
    storages = StorageDefinition.objects.order_by("name")
    if principal is not None and not principal.admin:
        storages = storages.filter(principal.grants_filter())
    return storages


def storage_get(*, name: str) -> StorageDefinition:
    storage = StorageDefinition.objects.filter(name=name).first()
    if storage is None:
        raise StorageNotFound(f"No storage named '{name}'.")
    return storage


def version_get(*, storage: StorageDefinition, number: int) -> StorageVersion:
    version = StorageVersion.objects.filter(storage=storage, number=number).first()
    if version is None:
        raise NotFound(f"Storage '{storage.name}' has no version {number}.")
    return version


def version_list(*, storage: StorageDefinition) -> QuerySet[StorageVersion]:
    return StorageVersion.objects.filter(storage=storage).order_by("number")


def versions_unserved(*, storage: StorageDefinition) -> QuerySet[StorageVersion]:
    """The versions declared after the one served (pending, migrating or failed): what a
    migration still has to apply."""
    return version_list(storage=storage).filter(number__gt=storage.serving_version or 0)


def storage_record_count(*, storage: StorageDefinition) -> int | None:
    """How many records the storage's table holds; None when it serves no table (never
    created, or gone)."""
    if storage.serving_version is None:
        return None
    version = version_get(storage=storage, number=storage.serving_version)
    model = build_model(
        storage_id=storage.id, version=version.number, definition=version.definition
    )
    try:
        with transaction.atomic():  # a missing table must not spoil the caller's transaction
            return model.objects.count()
    except DatabaseError:
        return None


def storage_definition(*, storage: StorageDefinition) -> dict[str, Any]:
    """The current definition with its metadata, as `GET storage/{name}/` shows it."""
    latest = version_get(storage=storage, number=storage.version)
    return {
        "name": storage.name,
        "description": latest.definition["description"],
        "version": storage.version,
        "status": storage.status,
        "primary_key": latest.definition["primary_key"],
        "fields": latest.definition["fields"],
        "indexes": latest.definition["indexes"],
        "source": latest.definition.get("source"),
        "retention": latest.definition.get("retention"),
        "distribution": latest.definition.get("distribution"),
        "partition": latest.definition.get("partition"),
        "created_at": storage.created_at,
        "updated_at": storage.updated_at,
    }


def ready_status(*, name: str) -> dict[str, Any]:
    # The storage and its latest version in one statement, one snapshot: read apart, a
    # version made ready between the two reads showed `ready` with the old serving version.
    latest = (
        StorageVersion.objects.select_related("storage")
        .filter(storage__name=name, number=F("storage__version"))
        .first()
    )
    if latest is None:
        storage_get(name=name)  # raises StorageNotFound
        raise NotFound(f"Storage '{name}' has no current version.")
    storage = latest.storage
    return {
        "name": storage.name,
        "version": storage.version,
        "serving_version": storage.serving_version,
        "status": latest.status,
        "ready": latest.status == VersionStatus.READY,
        "detail": _version_detail(latest),
        "retention": _retention_status(storage, latest.definition.get("retention")),
        "partitions": _partitions_status(storage, latest.definition),
    }


def _partitions_status(storage: StorageDefinition, definition: dict[str, Any]) -> Any:
    """The partitions that exist, and the records outside them; None when the storage is
    not partitioned or serves no table."""
    spec = definition.get("partition")
    if spec is None or storage.serving_version is None:
        return None
    table = names.table_name(storage.name)
    try:
        with transaction.atomic():  # a missing table must not spoil the caller's transaction
            dated = partitions.partitions(table, spec["interval"])
            outside = partitions.rows(partitions.default_name(table))
    except DatabaseError:
        return None
    return {
        **spec,
        "partitions": len(dated),
        "start": dated[0].start if dated else None,
        "end": dated[-1].end if dated else None,
        "default_rows": outside,
    }


def _retention_status(
    storage: StorageDefinition, rule: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The rule and the worker's last run of it; None without a rule."""
    if rule is None:
        return None
    run = storage.retention_last_run or {}
    facts = ("last_run_at", "removed", "oldest_kept", "error")
    return {**rule, **{fact: run.get(fact) for fact in facts}}


def _version_detail(version: StorageVersion) -> str | None:
    """The version's own detail; for a version waiting on the worker, also whether any
    worker is there to apply it (otherwise `pending` would say nothing, forever)."""
    parts = [version.detail]
    if version.status in (VersionStatus.PENDING, VersionStatus.MIGRATING):
        parts.append(worker_absence(worker_status()))
    return " ".join(part for part in parts if part) or None


@dataclass(frozen=True)
class WorkerStatus:
    """`ok`: some worker beat within WORKER_LATE_SECONDS; `late`: workers were seen, none
    since; `absent`: none ever was. `seconds` is the age of the latest heartbeat."""

    state: Literal["ok", "late", "absent"]
    seconds: float | None = None


def worker_status() -> WorkerStatus:
    """How recently any worker (`manage.py run_worker`, on any machine) was alive."""
    # The age is computed by the database, whose clock wrote the heartbeats.
    age = (
        WorkerHeartbeat.objects.annotate(age=Now() - F("last_seen"))
        .order_by("-last_seen")
        .values_list("age", flat=True)
        .first()
    )
    if age is None:
        return WorkerStatus("absent")
    seconds = max(age.total_seconds(), 0.0)
    return WorkerStatus("ok" if seconds <= settings.WORKER_LATE_SECONDS else "late", seconds)


def worker_absence(status: WorkerStatus) -> str | None:
    """What to tell a client waiting on the worker when none is there; None when one is."""
    hint = "start one with `manage.py run_worker`."
    if status.state == "absent":
        return f"No worker has ever been seen; {hint}"
    if status.state == "late":
        return f"No worker has been seen for {status.seconds:.0f} s; {hint}"
    return None
