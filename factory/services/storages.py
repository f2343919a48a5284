"""Create and drop storages: metadata rows and their tables, in one transaction."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from audit.actors import SYSTEM, Actor
from audit.models import Action
from audit.services import audit_record
from core.conditional import check_if_match, parse_tags
from core.errors import AlreadyExists, StorageNotFound, Unavailable
from factory.models import StorageDefinition, StorageVersion, VersionStatus
from factory.schema import ddl
from factory.schema.builder import build_model
from factory.schema.definition import normalize_definition

logger = logging.getLogger("datastorage.factory")


class StorageCreationFailed(Unavailable):
    code = "storage-creation-failed"
    title = "Storage creation failed"


def storage_create(*, data: Any, actor: Actor = SYSTEM) -> StorageDefinition:
    """Validate a definition, record it as version 1 and create its table, and audit it.

    Raises ValidationFailed (bad definition), AlreadyExists (name taken) and
    StorageCreationFailed (the DDL failed: the storage is kept as `failed` with the reason).
    """
    definition = normalize_definition(data)
    if StorageDefinition.objects.filter(name=definition["name"]).exists():
        raise AlreadyExists(f"A storage named '{definition['name']}' already exists.")
    try:
        return _create_ready(definition, actor)
    except IntegrityError as exc:
        raise AlreadyExists(f"A storage named '{definition['name']}' already exists.") from exc
    except DatabaseError as exc:
        logger.exception("table creation failed for storage %s", definition["name"])
        _record_failed(definition, str(exc).strip(), actor)
        raise StorageCreationFailed(
            f"The table for '{definition['name']}' could not be created: {str(exc).strip()}",
            retry_after=5,
        ) from exc


def _create_ready(definition: dict[str, Any], actor: Actor) -> StorageDefinition:
    now = timezone.now()
    with ddl.schema_transaction() as editor:
        storage = StorageDefinition.objects.create(
            name=definition["name"],
            description=definition["description"],
            version=1,
            serving_version=1,
            status=VersionStatus.READY,
        )
        StorageVersion.objects.create(
            storage=storage,
            number=1,
            definition=definition,
            status=VersionStatus.READY,
            changes=[{"op": "create_storage"}],
            ready_at=now,
        )
        ddl.create_table(
            editor, build_model(storage_id=storage.id, version=1, definition=definition)
        )
        _audit_created(actor, storage, definition)
    return storage


def _record_failed(definition: dict[str, Any], reason: str, actor: Actor) -> None:
    """The storage is kept (as `failed`, to be deleted): a change, audited like one."""
    with transaction.atomic():
        storage = StorageDefinition.objects.create(
            name=definition["name"],
            description=definition["description"],
            version=1,
            serving_version=None,
            status=VersionStatus.FAILED,
        )
        StorageVersion.objects.create(
            storage=storage,
            number=1,
            definition=definition,
            status=VersionStatus.FAILED,
            changes=[{"op": "create_storage"}],
            detail=reason,
        )
        _audit_created(actor, storage, definition)


def _audit_created(actor: Actor, storage: StorageDefinition, definition: dict[str, Any]) -> None:
    after = {"version": 1, "status": storage.status, "definition": definition}
    audit_record(actor=actor, action=Action.STORAGE_CREATE, storage=storage.name, after=after)


def storage_delete(*, name: str, if_match: str | None, actor: Actor = SYSTEM) -> None:
    """Drop a storage and its table, and audit it. Raises StorageNotFound,
    PreconditionRequired/Failed."""
    with ddl.schema_transaction() as editor:
        storage = StorageDefinition.objects.select_for_update().filter(name=name).first()
        if storage is None:
            raise StorageNotFound(f"No storage named '{name}'.")
        check_if_match(parse_tags(if_match), storage.version)
        version = storage.versions.get(number=storage.version)
        model = build_model(
            storage_id=storage.id, version=version.number, definition=version.definition
        )
        # A storage whose creation failed never served: a table by its name is not its own.
        never_built = storage.serving_version is None and storage.status == VersionStatus.FAILED
        if not never_built and ddl.table_exists(model._meta.db_table):
            ddl.drop_table(editor, model)
        before = {"version": version.number, "status": storage.status}
        audit_record(
            actor=actor,
            action=Action.STORAGE_DELETE,
            storage=name,
            before={**before, "definition": version.definition},
        )
        storage.delete()
