"""Who made a change, and from which request: what every audit entry records of its cause.

Services take an `actor` (keyword) and hand it to audit.services.audit_record; views build
it from the request (`actor_from_request`), commands name themselves (`system_actor`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ActorKind = Literal["token", "admin", "system"]


@dataclass(frozen=True)
class Actor:
    """An API token (`id`, `name`), a Django admin user, or the system (a command, the
    worker). `request_id` and `address` are empty outside a request."""

    kind: ActorKind
    id: int | None
    name: str
    request_id: str = ""
    address: str | None = None


# What a service called without an actor records: code run outside any request.
SYSTEM = Actor(kind="system", id=None, name="system")


def system_actor(name: str) -> Actor:
    """A command or process acting on its own (`manage.py issue_token`)."""
    return Actor(kind="system", id=None, name=name)


def actor_from_request(request: Any) -> Actor:
    """The actor of a DRF request (a token's Principal) or of a Django admin request (a
    staff user). Anything else is the system: a view that forgets to authenticate does
    not invent a token."""
    user = getattr(request, "user", None)
    context = {
        # Set by core.middleware.RequestLogMiddleware (DRF's Request proxies to Django's).
        "request_id": getattr(request, "request_id", ""),
        "address": request.META.get("REMOTE_ADDR") or None,
    }
    if getattr(user, "token_id", None) is not None:
        return Actor(kind="token", id=user.token_id, name=user.name, **context)
    if getattr(user, "user_id", None) is not None:  # a staff user's session, over the API
        return Actor(kind="admin", id=user.user_id, name=user.name, **context)
    if getattr(user, "is_staff", False):
        return Actor(kind="admin", id=user.pk, name=user.get_username(), **context)
    return Actor(kind="system", id=None, name="system", **context)
