"""Writes of records: create (one or many), replace, patch and delete.

Optimistic locking is one conditional UPDATE ... WHERE pk = %s AND _version = %s; the
version check and the write cannot be separated by another writer.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.conditional import ANY, check_if_match, parse_tags
from core.errors import (
    PayloadTooLarge,
    PreconditionFailed,
    UniqueViolation,
    ValidationFailed,
)
from factory.schema.builder import index_name
from factory.schema.names import table_name
from storage.runtime import RecordRuntime

# An error path: checking more items than this for "which item broke the unique index"
# would cost more than the answer is worth.
_MAX_ITEMS_TO_LOCATE = 1000


def record_create(*, runtime: RecordRuntime, data: Any) -> Any:
    """Validate and insert one record. Raises ValidationFailed, UniqueViolation."""
    values = runtime.validator.for_create(data)
    now = timezone.now()
    row = runtime.model(**values, _version=1, _created_at=now, _updated_at=now)
    try:
        with _savepoint_if_in_transaction():
            row.save(force_insert=True)
    except IntegrityError as exc:
        raise unique_violation(runtime, exc) from exc
    return row


def _savepoint_if_in_transaction() -> Any:
    """A single INSERT is atomic by itself: in autocommit it needs no BEGIN/COMMIT round
    trips. Inside a transaction (an Idempotency-Key, a test) a savepoint keeps a refused
    insert from aborting the whole transaction."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def record_bulk_create(*, runtime: RecordRuntime, items: list[Any]) -> list[Any]:
    """Insert many records, all or nothing, in multi-row INSERTs."""
    if len(items) > settings.MAX_BULK_ITEMS:
        raise PayloadTooLarge(
            f"A bulk create takes at most {settings.MAX_BULK_ITEMS} items; got {len(items)}."
        )
    rows, errors = [], {}
    now = timezone.now()
    for position, item in enumerate(items):
        try:
            values = runtime.validator.for_create(item)
        except ValidationFailed as exc:
            errors.update({f"{position}.{path}": msgs for path, msgs in exc.errors.items()})
            continue
        rows.append(runtime.model(**values, _version=1, _created_at=now, _updated_at=now))
    if errors:
        raise ValidationFailed(errors, "Some items are invalid; nothing was written.")
    try:
        with transaction.atomic():
            return runtime.model.objects.bulk_create(rows, batch_size=1000)
    except IntegrityError as exc:
        raise unique_violation(runtime, exc, rows) from exc


def record_update(
    *, runtime: RecordRuntime, key: Any, data: Any, if_match: str | None, partial: bool
) -> Any:
    """PUT (partial=False) or PATCH. Checks in order: 404, 400, 428, 412, 409."""
    current = _current_version(runtime, key)
    if partial:
        values, body_version = runtime.validator.for_patch(data, key)
    else:
        values, body_version = runtime.validator.for_replace(data, key)
    expected = _expected_version(parse_tags(if_match), body_version, current)
    values.pop(runtime.key_name, None)
    try:
        with transaction.atomic():
            updated = runtime.model.objects.filter(pk=key, _version=expected).update(
                **values, _version=F("_version") + 1, _updated_at=timezone.now()
            )
    except IntegrityError as exc:
        raise unique_violation(runtime, exc) from exc
    if not updated:
        _raise_lost_race(runtime, key)
    return runtime.select_by_key.fetch(key)


def record_delete(*, runtime: RecordRuntime, key: Any, if_match: str | None) -> None:
    """Delete a record; If-Match is optional, and a stale one answers 412."""
    try:
        tags = parse_tags(if_match)
    except ValidationFailed:
        _current_version(runtime, key)  # an unknown key answers 404 before a bad header
        raise
    rows = runtime.model.objects.filter(pk=key)
    if tags is not None and ANY not in tags:
        rows = rows.filter(_version__in=tags)
    deleted, _ = rows.delete()
    if not deleted:
        _raise_lost_race(runtime, key)


def _current_version(runtime: RecordRuntime, key: Any) -> int:
    current = runtime.model.objects.filter(pk=key).values_list("_version", flat=True).first()
    if current is None:
        raise runtime.record_not_found(key)
    return current


def _expected_version(if_match: set[int] | None, body_version: Any, current: int) -> int:
    disagree = (
        if_match is not None
        and body_version is not None
        and ANY not in if_match
        and body_version not in if_match
    )
    if disagree:
        raise ValidationFailed(
            {"_version": ["Disagrees with the If-Match header; send one version."]}
        )
    tags = (
        if_match if if_match is not None else ({body_version} if body_version is not None else None)
    )
    check_if_match(tags, current)
    return current


def _raise_lost_race(runtime: RecordRuntime, key: Any) -> None:
    """The conditional write matched nothing: the record is gone, or its version moved."""
    current = runtime.model.objects.filter(pk=key).values_list("_version", flat=True).first()
    if current is None:
        raise runtime.record_not_found(key)
    raise PreconditionFailed(
        f"The record is at version {current}; re-read it and retry.", current_version=current
    )


def unique_violation(
    runtime: RecordRuntime, exc: IntegrityError, rows: list[Any] | None = None
) -> UniqueViolation:
    """Name the fields (and, in a bulk, the item) behind a unique violation."""
    fields = _violated_fields(runtime, exc)
    extra: dict[str, Any] = {"fields": fields}
    if rows and fields:
        extra["item"] = _offending_item(runtime, fields, rows)
    what = ", ".join(fields) if fields else "a unique key"
    return UniqueViolation(f"Another record already has the same {what}.", **extra)


def _violated_fields(runtime: RecordRuntime, exc: IntegrityError) -> list[str]:
    cause = exc.__cause__
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
    table = table_name(runtime.name)
    if constraint is not None:  # PostgreSQL names the constraint
        if constraint == f"{table}_pkey":
            return [runtime.key_name]
        for spec in runtime.definition["indexes"]:
            if spec["unique"] and index_name(table, spec) == constraint:
                return list(spec["fields"])
        return []
    # SQLite: "UNIQUE constraint failed: ds_dogs.name, ds_dogs.born"
    message = str(exc)
    if "UNIQUE constraint failed:" not in message:
        return []
    columns = message.split(":", 1)[1].split(",")
    return [column.strip().split(".", 1)[-1] for column in columns]


def _offending_item(runtime: RecordRuntime, fields: list[str], rows: list[Any]) -> int | None:
    seen: dict[tuple, int] = {}
    for position, row in enumerate(rows):
        values = tuple(getattr(row, name) for name in fields)
        if values in seen:
            return position
        seen[values] = position
    if len(rows) > _MAX_ITEMS_TO_LOCATE:
        return None
    conditions = [Q(**{name: getattr(row, name) for name in fields}) for row in rows]
    existing = runtime.model.objects.filter(reduce(or_, conditions)).values_list(*fields).first()
    return seen.get(tuple(existing)) if existing else None
