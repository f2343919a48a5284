"""Routes of the factory API, checked by the permission the project passes in (the access
app's StorageAccess: factory.views says why it is not imported here)."""

from __future__ import annotations

from django.urls import URLPattern, path
from rest_framework.permissions import BasePermission
from rest_framework.routers import Route, SimpleRouter

from factory.views import ReadyStatusView, StorageViewSet, VersionViewSet


class _CheckedRouter(SimpleRouter):
    """A router whose every view checks `permission_classes`."""

    def __init__(self, permission_classes: list[type[BasePermission]]) -> None:
        super().__init__()
        self.permission_classes = permission_classes

    def get_routes(self, viewset: type) -> list[Route]:
        checked = {"permission_classes": self.permission_classes}
        routes = super().get_routes(viewset)
        return [route._replace(initkwargs={**route.initkwargs, **checked}) for route in routes]


def factory_urls(*, permission: type[BasePermission]) -> list[URLPattern]:
    """The factory API's URL patterns, every view checked by `permission`."""
    router = _CheckedRouter(permission_classes=[permission])
    router.register("storage", StorageViewSet, basename="storage")
    router.register(r"storage/(?P<name>[^/]+)/versions", VersionViewSet, basename="storage-version")
    ready = ReadyStatusView.as_view(permission_classes=[permission])
    return [path("ready_status/<str:name>/", ready, name="ready-status"), *router.urls]
