"""Keyset pages of the audit trail, newest first: DRF's cursor pagination, strict.

The trail grows for AUDIT_RETENTION_DAYS; an offset would scan every entry before the page.
Entries are paged by id (unique, never changes), so pages never skip or repeat an entry.
The answer's shape is the records list's: `results`, `next`, `previous`.
"""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from core.errors import ValidationFailed

_LIMIT_RE = re.compile(r"[1-9][0-9]{0,8}")
# An id: a positive integer of at most 18 digits, so always a bigint (below 2**63).
_POSITION_RE = re.compile(r"[1-9][0-9]{0,17}")


class AuditPagination(pagination.CursorPagination):
    ordering = "-id"
    page_size_query_param = "limit"
    # The OpenAPI descriptions of the two parameters (DRF's own are vaguer).
    cursor_query_description = "Opaque position, from `next`/`previous`; a damaged one: 400."
    page_size_query_description = (
        "Page size: default PAGE_SIZE_DEFAULT (100), cut to PAGE_SIZE_MAX (1000); "
        "below 1 or not a whole number: 400."
    )

    def __init__(self) -> None:
        # One paginator per request: settings are read then, never at import time.
        self.page_size = settings.PAGE_SIZE_DEFAULT

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return settings.PAGE_SIZE_MAX

    def get_page_size(self, request: Request) -> int:
        # DRF falls back to the default on a bad limit; ours, like the records list's, says so.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return settings.PAGE_SIZE_DEFAULT
        if not _LIMIT_RE.fullmatch(raw):
            raise ValidationFailed({"limit": ["Must be a whole number, at least 1."]})
        return min(int(raw), self.max_page_size)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        invalid = ValidationFailed({"cursor": ["Invalid cursor; use the next/previous links."]})
        try:
            cursor = super().decode_cursor(request)
        except NotFound:  # DRF answers a damaged cursor 404; the records list answers 400
            raise invalid from None
        # DRF takes the position as any string, which the id's filter would fail on (500):
        # a position this paginator made is an entry's id.
        position = cursor.position if cursor else None
        if position is not None and not _POSITION_RE.fullmatch(position):
            raise invalid
        return cursor
