"""Declare a new version of a storage: compare, refuse or accept, and hand DDL to the worker.

The version row commits before any DDL runs; the records API keeps serving the previous
version until the migration marks the new one ready (factory.services.migrations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.actors import SYSTEM, Actor
from audit.models import Action
from audit.services import audit_record
from core.conditional import check_if_match, parse_tags
from core.errors import (
    Forbidden,
    IncompatibleChange,
    MigrationInProgress,
    StorageNotFound,
    ValidationFailed,
)
from factory.models import ACTIVE_STATUSES, StorageDefinition, StorageVersion, VersionStatus
from factory.schema.changes import diff_definitions
from factory.schema.definition import normalize_definition
from factory.tasks import apply_version


@dataclass
class VersionOutcome:
    storage: StorageDefinition
    changes: list[dict[str, Any]] = field(default_factory=list)
    created: StorageVersion | None = None  # None: identical, or a dry run
    needs_worker: bool = False
    incompatible: dict[str, list[str]] = field(default_factory=dict)


def version_declare(
    *,
    name: str,
    data: Any,
    if_match: str | None,
    dry_run: bool = False,
    may_route: bool = True,
    actor: Actor = SYSTEM,
) -> VersionOutcome:
    """Raises StorageNotFound, PreconditionRequired/Failed, MigrationInProgress,
    ValidationFailed, IncompatibleChange and Forbidden (a new source without `may_route`,
    which callers acting for a client token pass as "is it an admin token"); on success
    the new version is committed, with its audit entry."""
    with transaction.atomic():
        storage = StorageDefinition.objects.select_for_update().filter(name=name).first()
        if storage is None:
            raise StorageNotFound(f"No storage named '{name}'.")
        if not dry_run:
            check_if_match(parse_tags(if_match), storage.version)
        latest = storage.versions.get(number=storage.version)
        if latest.status in ACTIVE_STATUSES:
            raise MigrationInProgress(
                f"Version {latest.number} of '{name}' is still being applied; retry later.",
                retry_after=5,
            )
        new = _normalize_for(storage, data)
        base = _base_version(storage, latest)
        diff = diff_definitions(base.definition, new)
        if not may_route and routes_more(base.definition, new):
            raise Forbidden(
                "Declaring or changing a storage's source routes other producers' events "
                "into it; that needs an admin token. Removing the source does not."
            )
        if dry_run:
            return VersionOutcome(storage, diff.changes, incompatible=diff.incompatible)
        if diff.incompatible:
            raise IncompatibleChange(
                diff.incompatible, "The new definition is not backward compatible; see errors."
            )
        if not diff.changes and base.number == latest.number:
            return VersionOutcome(storage=storage, changes=diff.changes)
        created = _record_version(storage, new, diff.changes, needs_ddl=diff.needs_ddl)
        audit_record(
            actor=actor,
            action=Action.VERSION_DECLARE,
            storage=name,
            before={"version": base.number, "definition": base.definition},
            after={"version": created.number, "status": created.status, "definition": new},
            changes=diff.changes,
        )
        if diff.needs_ddl:
            transaction.on_commit(lambda: enqueue_migration(storage.id, created.number))
    return VersionOutcome(storage, diff.changes, created, diff.needs_ddl)


def routes_more(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Would `new` route events that `old` did not? Any new or changed source may (whether
    one rule matches more than another is undecidable in general); removing one never."""
    return new.get("source") is not None and new.get("source") != old.get("source")


def _normalize_for(storage: StorageDefinition, data: Any) -> dict[str, Any]:
    if isinstance(data, dict) and "name" not in data:
        data = {**data, "name": storage.name}
    new = normalize_definition(data)
    if new["name"] != storage.name:
        raise ValidationFailed({"name": ["A storage cannot be renamed."]})
    return new


def _base_version(storage: StorageDefinition, latest: StorageVersion) -> StorageVersion:
    """Compare with the latest version, or with the serving one when the latest failed."""
    if latest.status == VersionStatus.FAILED and storage.serving_version:
        return storage.versions.get(number=storage.serving_version)
    return latest


def _record_version(
    storage: StorageDefinition,
    definition: dict[str, Any],
    changes: list[dict],
    *,
    needs_ddl: bool,
) -> StorageVersion:
    number = storage.version + 1
    status = VersionStatus.PENDING if needs_ddl else VersionStatus.READY
    version = StorageVersion.objects.create(
        storage=storage,
        number=number,
        definition=definition,
        changes=changes,
        status=status,
        ready_at=None if needs_ddl else timezone.now(),
    )
    storage.version = number
    storage.status = status
    storage.description = definition["description"]
    if not needs_ddl:
        storage.serving_version = number
    storage.save(
        update_fields=["version", "status", "description", "serving_version", "updated_at"]
    )
    return version


def version_retry(*, name: str, number: int, actor: Actor = SYSTEM) -> StorageVersion:
    """Queue a failed latest version again, and audit it. Raises StorageNotFound,
    ValidationFailed."""
    with transaction.atomic():
        storage = StorageDefinition.objects.select_for_update().filter(name=name).first()
        if storage is None:
            raise StorageNotFound(f"No storage named '{name}'.")
        version = storage.versions.filter(number=number).first()
        if version is None:
            raise StorageNotFound(f"Storage '{name}' has no version {number}.")
        if version.status in ACTIVE_STATUSES:
            raise MigrationInProgress(
                f"Version {number} of '{name}' is already being applied.", retry_after=5
            )
        if version.status != VersionStatus.FAILED or number != storage.version:
            raise ValidationFailed(
                {"version": ["Only the latest version, when it has failed, can be retried."]}
            )
        audit_record(
            actor=actor,
            action=Action.VERSION_RETRY,
            storage=name,
            before={"version": number, "status": version.status, "detail": version.detail},
            after={"version": number, "status": VersionStatus.PENDING},
        )
        version.status = VersionStatus.PENDING
        version.detail = ""
        version.save(update_fields=["status", "detail"])
        storage.status = VersionStatus.PENDING
        storage.save(update_fields=["status", "updated_at"])
        transaction.on_commit(lambda: enqueue_migration(storage.id, number))
    return version


def enqueue_migration(storage_id: int, number: int) -> None:
    apply_version.enqueue(storage_id, number)
