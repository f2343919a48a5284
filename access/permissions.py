"""DRF permissions: who may call a view. The grant rule itself is access.grants.may_access
(imported here too, as the views ask it)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from access.grants import NO_GRANT, may_access

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _principal(request: Request) -> Any:
    user = request.user
    return user if getattr(user, "is_authenticated", False) else None


class IsAdminToken(BasePermission):
    """The default: only admin tokens. Views open themselves up explicitly."""

    message = "This needs an admin token."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = _principal(request)
        return principal is not None and may_access(principal, None, "admin")


class IsAuthenticatedToken(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return _principal(request) is not None


class StorageAccess(BasePermission):
    """Checks the grant on the storage named in the URL (`name`).

    A view declares `storage_access`: HTTP method -> "read", "write", "manage", "any" (any
    grant at all) or "admin". Missing methods need an admin token.
    """

    message = NO_GRANT

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = _principal(request)
        if principal is None:
            return False
        needed = getattr(view, "storage_access", {}).get(request.method, "admin")
        return may_access(principal, view.kwargs.get("name"), needed)
