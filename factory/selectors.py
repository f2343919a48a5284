"""Reads of the factory: storages, their versions and their readiness."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.errors import NotFound, StorageNotFound
from factory.models import StorageDefinition, StorageVersion, VersionStatus


def storage_list(*, principal: Any = None) -> QuerySet[StorageDefinition]:
    """Every storage for an admin token; for a client token, those it has a grant on."""
    storages = StorageDefinition.objects.order_by("name")
    if principal is not None and not principal.admin:
        storages = storages.filter(grants__token_id=principal.token_id)
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
        "created_at": storage.created_at,
        "updated_at": storage.updated_at,
    }


def ready_status(*, name: str) -> dict[str, Any]:
    storage = storage_get(name=name)
    latest = version_get(storage=storage, number=storage.version)
    return {
        "name": storage.name,
        "version": storage.version,
        "serving_version": storage.serving_version,
        "status": latest.status,
        "ready": latest.status == VersionStatus.READY,
        "detail": latest.detail or None,
    }
