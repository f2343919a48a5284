"""Which storages take events, as compiled routes (one indexed query per request)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import F

from core.lru import LRUCache
from factory.models import StorageVersion
from ingest.routing import Route, compile_route

_routes: LRUCache[Route] = LRUCache(lambda: settings.MODEL_CACHE_SIZE)


def route_list() -> list[Route]:
    """The routes of every storage whose serving version declares a source."""
    serving = (
        StorageVersion.objects.filter(
            number=F("storage__serving_version"), definition__has_key="source"
        )
        .values_list("storage_id", "storage__name", "number")
        .order_by("storage__name")
    )
    return [
        _routes.get_or_create((storage_id, number), lambda s=storage_id, n=number: _load(s, n))
        for storage_id, _name, number in serving
    ]


def _load(storage_id: int, number: int) -> Route:
    version = StorageVersion.objects.select_related("storage").get(
        storage_id=storage_id, number=number
    )
    return compile_route(
        storage_id=storage_id,
        name=version.storage.name,
        version=number,
        source=version.definition["source"],
    )
