"""Issue and revoke API tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from access.credentials import hash_secret
from access.grants import GRANT_KINDS
from access.models import ApiToken, Grant
from core.errors import NotFound, ValidationFailed
from factory.models import StorageDefinition

TOKEN_PREFIX = "dst_"


@dataclass
class IssuedToken:
    token: ApiToken
    secret: str  # shown once, here, and never again


def token_issue(
    *,
    name: str,
    admin: bool = False,
    grants: list[dict[str, Any]] | None = None,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Create a token with its grants. Raises ValidationFailed (unknown storage, bad access)."""
    resolved = _resolve_grants(grants or [])
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            name=name,
            secret_hash=hash_secret(secret),
            prefix=secret[:10],
            admin=admin,
            expires_at=expires_at,
        )
        Grant.objects.bulk_create(
            Grant(token=token, storage=storage, **{kind: kind in access for kind in GRANT_KINDS})
            for storage, access in resolved
        )
    return IssuedToken(token=token, secret=secret)


def _resolve_grants(grants: list[dict[str, Any]]) -> list[tuple[StorageDefinition, set[str]]]:
    names = [grant["storage"] for grant in grants]
    storages = StorageDefinition.objects.in_bulk(names, field_name="name")
    errors: dict[str, list[str]] = {}
    resolved = []
    for position, grant in enumerate(grants):
        if grant["storage"] not in storages:
            errors[f"grants.{position}.storage"] = [f"No storage named '{grant['storage']}'."]
            continue
        resolved.append((storages[grant["storage"]], set(grant["access"])))
    if len(set(names)) != len(names):
        errors["grants"] = ["Name each storage once."]
    if errors:
        raise ValidationFailed(errors)
    return resolved


def token_revoke(*, token_id: int) -> None:
    """Revoke at once: the next request with this token is refused. Raises NotFound."""
    updated = ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not updated and not ApiToken.objects.filter(pk=token_id).exists():
        raise NotFound(f"No token with id {token_id}.")
