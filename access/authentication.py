"""Bearer-token authentication: `Authorization: Bearer <token>`, one indexed lookup."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from access.models import ApiToken, Grant
from access.services import hash_secret


@dataclass
class Principal:
    """Who a request acts for. Grants are read once per request, storage by storage."""

    token_id: int
    name: str
    admin: bool
    is_authenticated: bool = True
    _access: dict[str, frozenset[str]] = field(default_factory=dict)

    def access_to(self, storage_name: str) -> frozenset[str]:
        if storage_name not in self._access:
            row = (
                Grant.objects.filter(token_id=self.token_id, storage__name=storage_name)
                .values_list("read", "write", "manage")
                .first()
            )
            kinds = ("read", "write", "manage")
            self._access[storage_name] = frozenset(
                kind for kind, allowed in zip(kinds, row or (), strict=False) if allowed
            )
        return self._access[storage_name]


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Principal, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip() or len(secret) > 200:
            raise exceptions.AuthenticationFailed("Send `Authorization: Bearer <token>`.")
        now = timezone.now()
        token = (
            ApiToken.objects.filter(
                secret_hash=hash_secret(secret.strip()), revoked_at__isnull=True
            )
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .values_list("id", "name", "admin")
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.")
        return Principal(token_id=token[0], name=token[1], admin=token[2]), None

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="datastorage"'
