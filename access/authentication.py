"""Bearer-token authentication: `Authorization: Bearer <token>`, one indexed lookup."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from access.credentials import CHALLENGE, authenticate
from access.grants import GRANT_KINDS, grant_decode, may_access
from access.models import Grant
from access.selectors import StorageRow
from core import errors


@dataclass
class Principal:
    """Who a request acts for. Grants are read once per request, storage by storage."""

    token_id: int
    name: str
    admin: bool
    is_authenticated: bool = True
    _access: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Storages looked up with the token (name -> row, None when no such storage).
    storages: dict[str, StorageRow | None] = field(default_factory=dict)

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
        rows = Grant.objects.filter(token_id=self.token_id, storage__name__in=wanted).values_list(
            "storage__name", *GRANT_KINDS
        )
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
