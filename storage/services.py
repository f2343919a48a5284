"""Writes of records: create (one or many), replace, patch and delete.

Optimistic locking is one conditional UPDATE ... WHERE pk = %s AND _version = %s; the
version check and the write cannot be separated by another writer.
"""

from __future__ import annotations

import datetime
import re
from contextlib import nullcontext
from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InternalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from access.selectors import Guard
from core import metrics
from core.collector import collector_paused
from core.conditional import ANY, MAX_VERSION, check_if_match, parse_tags
from core.errors import (
    PayloadTooLarge,
    UniqueViolation,
    ValidationFailed,
)
from factory.schema import feed, record_versions
from factory.schema.builder import index_name
from factory.schema.names import table_name
from storage.runtime import RecordRuntime
from storage.serializers import RowRecord

# An error path: checking more items than this for "which item broke the unique index"
# would cost more than the answer is worth.
_MAX_ITEMS_TO_LOCATE = 1000


def record_create(*, runtime: RecordRuntime, data: Any) -> Any:
    """Validate and insert one record. Raises ValidationFailed, UniqueViolation."""
    values = runtime.validator.for_create(data)
    now = timezone.now()
    row = runtime.model(**values, _created_at=now, _updated_at=now)
    try:
        if connection.vendor == "postgresql":  # the INSERT draws its version (builder)
            with savepoint_if_in_transaction():
                row.save(force_insert=True)
        else:
            # The draw and the INSERT commit together: versions then commit in the order
            # they are drawn, which the change feed's order relies on (factory.schema.feed).
            with transaction.atomic():
                row._version = record_versions.take(row._meta.db_table, 1)[0]
                row.save(force_insert=True)
    except IntegrityError as exc:
        raise unique_violation(runtime, exc) from exc
    metrics.records_written(runtime.name, "create")
    return row


def savepoint_if_in_transaction() -> Any:
    """A single statement is atomic by itself: in autocommit it needs no BEGIN/COMMIT
    round trips. Inside a transaction (an Idempotency-Key, a test) a savepoint keeps a
    refused statement from aborting the whole transaction."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def record_bulk_create(*, runtime: RecordRuntime, items: list[Any]) -> list[Any]:
    """Insert many records, all or nothing. Raises PayloadTooLarge, ValidationFailed (keyed
    `<item>.<field>`, every invalid item at once) and UniqueViolation."""
    if len(items) > settings.MAX_BULK_ITEMS:
        raise PayloadTooLarge(
            f"A bulk create takes at most {settings.MAX_BULK_ITEMS} items; got {len(items)}."
        )
    now = timezone.now()
    # Everything a bulk allocates lives until it is written (core.collector).
    with collector_paused():
        rows = record_bulk_insert(runtime=runtime, rows=_validated(runtime, items), now=now)
    metrics.records_written(runtime.name, "bulk", len(rows))
    return rows


def _validated(runtime: RecordRuntime, items: list[Any]) -> list[dict[str, Any]]:
    rows, errors = [], {}
    for position, item in enumerate(items):
        try:
            rows.append(runtime.validator.for_create(item))
        except ValidationFailed as exc:
            errors.update({f"{position}.{path}": msgs for path, msgs in exc.errors.items()})
    if errors:
        raise ValidationFailed(errors, "Some items are invalid; nothing was written.")
    return rows


def record_bulk_insert(
    *, runtime: RecordRuntime, rows: list[dict[str, Any]], now: datetime.datetime
) -> list[Any]:
    """Insert validated rows (values by field name, as the validator returns them), all or
    nothing: one COPY on PostgreSQL, multi-row INSERTs elsewhere. Returns the records as
    stored, keys and system fields included. Raises UniqueViolation for any integrity error
    (a CHECK the validation let through too), naming the item when it can."""
    try:
        with transaction.atomic():
            versions = record_versions.take(runtime.model._meta.db_table, len(rows))
            for row, version in zip(rows, versions, strict=True):
                row.update(_version=version, _created_at=now, _updated_at=now)
            if connection.vendor == "postgresql":
                runtime.copy_insert.write(rows)
                return [RowRecord(row, runtime.key_name) for row in rows]
            model = runtime.model
            return model.objects.bulk_create([model(**row) for row in rows], batch_size=1000)
    except IntegrityError as exc:
        raise unique_violation(runtime, exc, rows) from exc
    except InternalError as exc:
        if _shard_constraint(exc) is None:
            raise
        raise unique_violation(runtime, exc, rows) from exc


class NotApplied(Exception):
    """A guarded update found its guard empty, or no row to update: nothing was written,
    and the caller (storage.frontdoor) learns which from the token."""


def record_update(
    *,
    runtime: RecordRuntime,
    key: Any,
    data: Any,
    if_match: str | None,
    partial: bool,
    guard: Guard | None = None,
) -> Any:
    """PUT (partial=False) or PATCH. Checks in order: 404, 400, 428, 412, 409.

    The happy path is one conditional UPDATE ... RETURNING; the record is read first only
    when the answer is an error that must name a missing record before anything else.
    With a `guard` (access.selectors.token_guard) the UPDATE also checks the token, and
    matching nothing raises NotApplied instead of naming the record's state.
    """
    try:
        if partial:
            values, body_version = runtime.validator.for_patch(data, key)
        else:
            values, body_version = runtime.validator.for_replace(data, key)
        tags = _tags_to_match(parse_tags(if_match), body_version)
    except ValidationFailed:
        if guard is None:  # under a guard the token is not checked yet: no statement
            _current_version(runtime, key)  # an unknown key answers 404 before a bad body
        raise
    if tags is None:
        check_if_match(None, _current_version(runtime, key))  # 404, else 428
    values.pop(runtime.key_name, None)
    versions = None if ANY in tags else {v for v in tags if 0 < v <= MAX_VERSION}
    row = None
    if versions is None or versions:
        try:
            with savepoint_if_in_transaction():
                row = runtime.update_by_key.run(
                    key=key,
                    versions=versions,
                    values=values,
                    updated_at=timezone.now(),
                    guard=guard,
                )
        except IntegrityError as exc:
            raise unique_violation(runtime, exc) from exc
    if row is None:
        if guard is not None:
            raise NotApplied
        record_lost_race(runtime, key)
    metrics.records_written(runtime.name, "update")
    return row


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
    deleted = feed.delete_rows(rows)
    if not deleted:
        record_lost_race(runtime, key)
    metrics.records_written(runtime.name, "delete")


def _current_version(runtime: RecordRuntime, key: Any) -> int:
    current = runtime.model.objects.filter(pk=key).values_list("_version", flat=True).first()
    if current is None:
        raise runtime.record_not_found(key)
    return current


def _tags_to_match(if_match: set[int] | None, body_version: Any) -> set[int] | None:
    """The versions a write may replace: If-Match's, else the body's `_version`, else None
    (no precondition given)."""
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
    if if_match is not None:
        return if_match
    if body_version is None:
        return None
    # The body names one exact version: -1 there is a number, not the `*` wildcard.
    return {body_version} if body_version > 0 else set()


def record_lost_race(runtime: RecordRuntime, key: Any) -> None:
    """The conditional write matched nothing: the record is gone (404), or its version
    moved (412). Raises one of them."""
    current = runtime.model.objects.filter(pk=key).values_list("_version", flat=True).first()
    if current is None:
        raise runtime.record_not_found(key)
    check_if_match(set(), current)  # the 412 every conditional request answers


def unique_violation(
    runtime: RecordRuntime, exc: DatabaseError, rows: list[dict[str, Any]] | None = None
) -> UniqueViolation:
    """Name the fields (and, in a bulk of `rows`, the item) behind a unique violation."""
    fields = _violated_fields(runtime, exc)
    extra: dict[str, Any] = {"fields": fields}
    if rows and fields:
        extra["item"] = _offending_item(runtime, fields, rows)
    what = ", ".join(fields) if fields else "a unique key"
    return UniqueViolation(f"Another record already has the same {what}.", **extra)


def _violated_fields(runtime: RecordRuntime, exc: DatabaseError) -> list[str]:
    cause = exc.__cause__
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
    table = table_name(runtime.name)
    if constraint is None:
        constraint = _shard_constraint(exc)
    if constraint is not None:  # PostgreSQL names the constraint
        named = {f"{table}_pkey": [runtime.key_name]}
        for spec in runtime.definition["indexes"]:
            if spec["unique"]:
                named[index_name(table, spec)] = list(spec["fields"])
        # On a Citus shard the constraint carries the shard's number: ds_tags_pkey_102081
        return named.get(constraint) or named.get(_SHARD_SUFFIX.sub("", constraint), [])
    # SQLite: "UNIQUE constraint failed: ds_dogs.name, ds_dogs.born"
    message = str(exc)
    if "UNIQUE constraint failed:" not in message:
        return []
    columns = message.split(":", 1)[1].split(",")
    return [column.strip().split(".", 1)[-1] for column in columns]


# A unique violation as a Citus worker reports it through the coordinator: 23505 (or XX000
# from a COPY), the shard's constraint named in the message only.
_SHARD_DUPLICATE = re.compile(r'duplicate key value violates unique constraint "([a-z0-9_]+)"')
_SHARD_SUFFIX = re.compile(r"_\d+$")


def _shard_constraint(exc: DatabaseError) -> str | None:
    """The constraint a Citus shard reports violated (an InternalError), or None."""
    if getattr(exc.__cause__, "sqlstate", None) not in ("XX000", "23505"):
        return None
    found = _SHARD_DUPLICATE.match(str(exc))
    return found[1] if found else None


def _offending_item(
    runtime: RecordRuntime, fields: list[str], rows: list[dict[str, Any]]
) -> int | None:
    seen: dict[tuple, int] = {}
    for position, row in enumerate(rows):
        values = tuple(row.get(name) for name in fields)
        if values in seen:
            return position
        seen[values] = position
    if len(rows) > _MAX_ITEMS_TO_LOCATE:
        return None
    conditions = [Q(**{name: row.get(name) for name in fields}) for row in rows]
    existing = runtime.model.objects.filter(reduce(or_, conditions)).values_list(*fields).first()
    return seen.get(tuple(existing)) if existing else None
