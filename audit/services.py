"""Writes of the audit trail: an entry with the change it records, and the retention prune."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.models import AuditEntry


class AuditOutsideTransaction(RuntimeError):
    """An entry written outside the change's transaction could outlive a failed change."""


def audit_record(
    *,
    actor: Actor,
    action: str,
    storage: str = "",
    token_id: int | None = None,
    before: Any = None,
    after: Any = None,
    **details: Any,
) -> AuditEntry:
    """Record a change. Must run inside the transaction that makes the change, so that both
    commit or neither does; raises AuditOutsideTransaction otherwise. `before`, `after`
    and `details` must hold no secret: callers pass descriptions, never rows."""
    if not transaction.get_connection().in_atomic_block:
        raise AuditOutsideTransaction(f"{action} must be recorded in its change's transaction")
    changes = {"before": before, "after": after, **details}
    return AuditEntry.objects.create(
        action=action,
        storage=storage,
        token_id=token_id,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_name=actor.name[:150],
        changes=_as_json(changes),
        request_id=actor.request_id,
        address=actor.address,
    )


def _as_json(value: Any) -> Any:
    # Through Django's encoder: datetimes and decimals become the strings the API shows.
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_prune(*, limit: int) -> int:
    """Delete up to `limit` entries older than AUDIT_RETENTION_DAYS, oldest first; returns
    how many went. Callers loop while a full batch went: each batch is a short transaction."""
    cutoff = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    ids = list(
        AuditEntry.objects.filter(at__lt=cutoff).order_by("id").values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0
    deleted, _ = AuditEntry.objects.filter(id__in=ids).delete()
    return deleted
