"""Reads of the audit trail."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from audit.filters import audit_filter
from audit.models import AuditEntry


def audit_list(*, params: Any) -> QuerySet[AuditEntry]:
    """Entries matching the filters in `params` (ordered by the pagination, newest first).
    Raises ValidationFailed for a bad filter."""
    return audit_filter(AuditEntry.objects.all(), params)
