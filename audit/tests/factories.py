"""Audit entries made directly, for the list's and the prune's tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from audit.models import AuditEntry


def entry(at: datetime | None = None, **fields: Any) -> AuditEntry:
    values = {
        "action": "storage.create",
        "storage": "dogs",
        "actor_kind": "token",
        "actor_id": 1,
        "actor_name": "ops",
        **fields,
    }
    if at is not None:
        values["at"] = at
    return AuditEntry.objects.create(**values)
