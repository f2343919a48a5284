"""Who may do what: admin tokens everything; client tokens what their grants say."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _principal(request: Request) -> Any:
    user = request.user
    return user if getattr(user, "is_authenticated", False) else None


class IsAdminToken(BasePermission):
    """The default: only admin tokens. Views open themselves up explicitly."""

    message = "This needs an admin token."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = _principal(request)
        return bool(principal and principal.admin)


class IsAuthenticatedToken(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return _principal(request) is not None


class StorageAccess(BasePermission):
    """Checks the grant on the storage named in the URL (`name`).

    A view declares `storage_access`: HTTP method -> "read", "write", "manage", "any" (any
    grant at all) or "admin". Missing methods need an admin token.
    """

    message = "This token has no grant for this operation on this storage."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = _principal(request)
        if principal is None:
            return False
        needed = getattr(view, "storage_access", {}).get(request.method, "admin")
        name = view.kwargs.get("name")
        if name is None:
            return principal.admin or needed == "any"
        return may_access(principal, name, needed)


def may_access(principal: Any, storage_name: str, needed: str) -> bool:
    """The grant rule, decided here only: admin tokens may do everything; a client token
    what its grant on `storage_name` holds ("any": any grant at all; "admin": never)."""
    if principal.admin:
        return True
    if needed == "admin":
        return False
    granted = principal.access_to(storage_name)
    return bool(granted) if needed == "any" else needed in granted


RECORD_ACCESS = {
    "GET": "read",
    "HEAD": "read",
    "OPTIONS": "read",
    "POST": "write",
    "PUT": "write",
    "PATCH": "write",
    "DELETE": "write",
}
