"""Keyset (cursor) pagination: a page costs the same at any depth (no OFFSET scans).

Pages are ordered by one field and the primary key as tie-breaker, so they never skip or
repeat records. NULLs sort as PostgreSQL sorts them on every database: last ascending,
first descending. A cursor is opaque to clients: base64 of the ordering, the direction and
the position (the ordering value and the key of the row at the page's edge).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import F, Q

from core.errors import ValidationFailed

NEXT, PREVIOUS = "n", "p"


@dataclass(frozen=True)
class Ordering:
    field: str
    descending: bool
    key: str  # the primary key's attribute

    @property
    def by_key_only(self) -> bool:
        return self.field == self.key

    def __str__(self) -> str:
        return f"-{self.field}" if self.descending else self.field


@dataclass(frozen=True)
class Cursor:
    direction: str
    value: Any
    key: Any


@dataclass
class Page:
    rows: list[Any]
    next: str | None
    previous: str | None


def parse_ordering(raw: str | None, key: str, orderable: set[str]) -> Ordering:
    if not raw:
        return Ordering(key, False, key)
    name = raw[1:] if raw.startswith("-") else raw
    if name not in orderable:
        raise ValidationFailed(
            {"ordering": [f"Cannot order by {name!r}; use one of: {', '.join(sorted(orderable))}."]}
        )
    return Ordering(name, raw.startswith("-"), key)


def encode_cursor(ordering: Ordering, direction: str, value: Any, key: Any) -> str:
    payload = orjson.dumps([str(ordering), direction, value, key], default=str)
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(raw: str, ordering: Ordering, model: type[models.Model]) -> Cursor:
    invalid = ValidationFailed({"cursor": ["Invalid cursor; use the next/previous links."]})
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        order, direction, value, key = payload
    except (ValueError, TypeError, binascii.Error):
        raise invalid from None
    if order != str(ordering):
        raise ValidationFailed(
            {"cursor": ["This cursor belongs to another ordering; keep `ordering` unchanged."]}
        )
    if direction not in (NEXT, PREVIOUS):
        raise invalid
    try:
        value = _to_python(model, ordering.field, value)
        key = _to_python(model, ordering.key, key)
    except (DjangoValidationError, ValueError, TypeError):
        raise invalid from None
    return Cursor(direction, value, key)


def _to_python(model: type[models.Model], name: str, value: Any) -> Any:
    if value is None:
        return None
    field = model._meta.get_field(name)
    value = field.to_python(value)
    # The column's own limits (bigint range, digits): no row holds a value beyond them, so
    # a cursor that does was not made here.
    field.run_validators(value)
    return value


def keyset_queryset(
    queryset: models.QuerySet, ordering: Ordering, cursor: Cursor | None, limit: int
) -> models.QuerySet:
    """The rows of one page, plus one that tells whether another page follows."""
    backwards = cursor is not None and cursor.direction == PREVIOUS
    descending = ordering.descending != backwards
    queryset = queryset.order_by(*order_by_for(ordering, descending))
    if cursor is not None:
        queryset = queryset.filter(_after(ordering, cursor, descending))
    return queryset[: limit + 1]


def cursor_parameters(ordering: Ordering, cursor: Cursor | None) -> tuple[Any, ...]:
    """The parameters _after's condition passes to the database, in their order: the last
    parameters of keyset_queryset's statement (storage.sql.pages relies on it)."""
    if cursor is None:
        return ()
    if ordering.by_key_only or cursor.value is None:
        return (cursor.key,)
    return (cursor.value, cursor.value, cursor.key)


def keyset_page(
    rows: list[Any],
    ordering: Ordering,
    cursor: Cursor | None,
    limit: int,
    position: Any,
) -> Page:
    """The page from the rows keyset_queryset selected; `position(row)` gives the (value,
    key) pair a cursor records for a row."""
    backwards = cursor is not None and cursor.direction == PREVIOUS
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    has_next, has_previous = (True, more) if backwards else (more, cursor is not None)
    page = Page(rows, None, None)
    if rows and has_next:
        page.next = encode_cursor(ordering, NEXT, *position(rows[-1]))
    if rows and has_previous:
        page.previous = encode_cursor(ordering, PREVIOUS, *position(rows[0]))
    return page


def order_by_for(ordering: Ordering, descending: bool) -> list[Any]:
    key = F(ordering.key).desc() if descending else F(ordering.key).asc()
    if ordering.by_key_only:
        return [key]
    field = F(ordering.field)
    return [field.desc(nulls_first=True) if descending else field.asc(nulls_last=True), key]


def _after(ordering: Ordering, cursor: Cursor, descending: bool) -> Q:
    """Rows strictly after the cursor's row in the effective order."""
    key_after = Q(**{f"{ordering.key}__{'lt' if descending else 'gt'}": cursor.key})
    if ordering.by_key_only:
        return key_after
    name = ordering.field
    if cursor.value is None:
        same = Q(**{f"{name}__isnull": True}) & key_after
        # Descending, NULLs come first: every non-NULL value follows them.
        return same | Q(**{f"{name}__isnull": False}) if descending else same
    beyond = Q(**{f"{name}__{'lt' if descending else 'gt'}": cursor.value})
    tie = Q(**{name: cursor.value}) & key_after
    # Ascending, NULLs come last: they follow every value.
    return beyond | tie if descending else beyond | tie | Q(**{f"{name}__isnull": True})
