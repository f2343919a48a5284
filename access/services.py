"""Issue, change and revoke API tokens and their grants; each change is audited in its own
transaction (audit.services.audit_record), never with the secret or its hash."""

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
from audit.actors import SYSTEM, Actor
from audit.models import Action
from audit.services import audit_record
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
    actor: Actor = SYSTEM,
) -> IssuedToken:
    """Create a token with its grants, and audit both. Raises ValidationFailed (unknown
    storage, bad access)."""
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
        grants = Grant.objects.bulk_create(
            Grant(token=token, storage=storage, **{kind: kind in access for kind in GRANT_KINDS})
            for storage, access in resolved
        )
        audit_record(
            actor=actor, action=Action.TOKEN_ISSUE, token_id=token.id, after=token_state(token)
        )
        for grant in grants:
            grant_audit(
                actor=actor,
                storage=grant.storage.name,
                token_id=token.id,
                before=None,
                after=grant.access,
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


def token_revoke(*, token_id: int, actor: Actor = SYSTEM) -> None:
    """Revoke at once: the next request with this token is refused. Revoking a revoked
    token changes nothing (and audits nothing). Raises NotFound."""
    now = timezone.now()
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if updated:
            audit_record(
                actor=actor,
                action=Action.TOKEN_REVOKE,
                token_id=token_id,
                before={"revoked_at": None},
                after={"revoked_at": now},
            )
    if not updated and not ApiToken.objects.filter(pk=token_id).exists():
        raise NotFound(f"No token with id {token_id}.")


# What the trail shows of a token: never its secret, its hash nor its prefix.
TOKEN_FIELDS = ("name", "admin", "expires_at", "revoked_at")


def token_state(token: ApiToken) -> dict[str, Any]:
    return {field: getattr(token, field) for field in TOKEN_FIELDS}


def token_audit(
    *, actor: Actor, token_id: int, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    """Audit a token changed or deleted (`after` None) elsewhere: the Django admin saves its
    own forms. `before`/`after` are token_state(); nothing changed records nothing."""
    if after == before:
        return
    action = Action.TOKEN_CHANGE
    if after is None:
        action = Action.TOKEN_DELETE
    elif before is not None and before["revoked_at"] is None and after["revoked_at"]:
        action = Action.TOKEN_REVOKE
    audit_record(actor=actor, action=action, token_id=token_id, before=before, after=after)


def grant_audit(
    *,
    actor: Actor,
    storage: str,
    token_id: int | None,
    before: list[str] | None,
    after: list[str] | None,
    user: str | None = None,
) -> None:
    """Audit a grant given (`before` None), changed, or taken away (`after` None): a token's
    (`token_id`), or a staff user's (`user`, their username, in its before and after)."""
    if after == before:
        return
    action = Action.GRANT_CHANGE
    if before is None:
        action = Action.GRANT_ADD
    elif after is None:
        action = Action.GRANT_REMOVE
    audit_record(
        actor=actor,
        action=action,
        storage=storage,
        token_id=token_id,
        before=None if before is None else _grant_state(before, user),
        after=None if after is None else _grant_state(after, user),
    )


def _grant_state(access: list[str], user: str | None) -> dict[str, Any]:
    return {"access": access} if user is None else {"access": access, "user": user}
