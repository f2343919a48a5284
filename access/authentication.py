"""Who a request acts for: a bearer token (`Authorization: Bearer <token>`, one indexed
lookup), the way machines authenticate; or a staff user signed in to the Django admin, the
way a person with a browser uses the browsable API and Swagger UI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from access.credentials import CHALLENGE, authenticate
from access.grants import GRANT_KINDS, grant_decode, may_access
from access.models import Grant, UserGrant
from access.selectors import StorageRow
from core import errors


@dataclass
class Principal:
    """Who a request acts for: a token (`token_id`) or a staff user of the admin
    (`user_id`, token_id None). Grants are read once per request, storage by storage."""

    token_id: int | None
    name: str
    admin: bool
    is_authenticated: bool = True
    _access: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Storages looked up with the token (name -> row, None when no such storage).
    storages: dict[str, StorageRow | None] = field(default_factory=dict)
    user_id: int | None = None

    @classmethod
    def for_user(cls, user: Any) -> Principal:
        """A staff user: a superuser is an admin; anyone else has the grants given to them in
        the admin (access.models.UserGrant)."""
        return cls(
            token_id=None, name=user.get_username(), admin=user.is_superuser, user_id=user.pk
        )

    def __str__(self) -> str:
        # What the browsable API's navbar shows (never the dataclass's repr).
        return f"{self.name} (token)" if self.user_id is None else self.name

    def grants_filter(self, prefix: str = "") -> Q:
        """The storages this principal holds a grant on, as a filter of StorageDefinition
        (`prefix` for a relation to it): factory.selectors.storage_list asks it."""
        if self.user_id is not None:
            return Q(**{f"{prefix}user_grants__user_id": self.user_id})
        return Q(**{f"{prefix}grants__token_id": self.token_id})

    def may(self, storage_name: str | None, *needed: str) -> bool:
        """access.grants.may_access for this principal: the apps below access (factory),
        which cannot import the rule, ask the principal they are handed."""
        return may_access(self, storage_name, *needed)

    def access_to(self, storage_name: str) -> tuple[str, ...]:
        if storage_name not in self._access:
            self.access_load([storage_name])
        return self._access[storage_name]

    def access_load(self, storage_names: Iterable[str]) -> None:
        """Read the grants on these storages in one query (ingest asks about many)."""
        wanted = set(storage_names) - self._access.keys()
        if not wanted:
            return
        if self.user_id is not None:
            grants = UserGrant.objects.filter(user_id=self.user_id)
        else:
            grants = Grant.objects.filter(token_id=self.token_id)
        rows = grants.filter(storage__name__in=wanted).values_list("storage__name", *GRANT_KINDS)
        found = {name: flags for name, *flags in rows}
        for name in wanted:
            self._access[name] = grant_decode(found.get(name, ()))


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Principal, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # anonymous: a view that needs a token answers 401 (NotAuthenticated)
        # URLs that name a storage learn the token's grant and the storage's serving
        # version in the same query (the records API reads it: storage.runtime).
        storage_name = (request.parser_context or {}).get("kwargs", {}).get("name")
        try:
            row = authenticate(header, storage_name)
        except errors.NotAuthenticated as exc:  # DRF's own, which its views turn into 401
            raise exceptions.AuthenticationFailed(exc.detail) from exc
        principal = Principal(token_id=row.id, name=row.name, admin=row.admin)
        if storage_name is not None:
            principal._access[storage_name] = row.access_to(storage_name)
            principal.storages[storage_name] = row.storage
        return principal, None

    def authenticate_header(self, request: Request) -> str:
        return CHALLENGE


class AdminSessionAuthentication(authentication.SessionAuthentication):
    """A staff user signed in to the Django admin (its session cookie), for a person with a
    browser: the browsable API and Swagger UI's "Try it out". DRF's CSRF check holds on
    unsafe methods. Users who are not staff, or inactive, are anonymous here: a bearer
    token stays the way machines authenticate (listed first, it wins when both come)."""

    def authenticate(self, request: Request) -> tuple[Principal, None] | None:
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            # No session to read: machines' requests never touch it (nor get Vary: Cookie,
            # which the records front door, answering them alike, does not add).
            return None
        user = getattr(request._request, "user", None)
        if user is None or not user.is_active or not user.is_staff:
            return None
        self.enforce_csrf(request)
        return Principal.for_user(user), None
