"""Reads of records: one by key, and filtered, ordered, keyset-paginated lists."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from core.errors import ValidationFailed
from factory.schema.fields import parse_integer
from storage.keyset import (
    Page,
    cursor_parameters,
    decode_cursor,
    keyset_page,
    keyset_queryset,
    order_by_for,
    parse_ordering,
)
from storage.runtime import RecordRuntime
from storage.sql import changes as changes_sql
from storage.sql import pages

COUNT_MODES = ("exact", "estimated")
EXPORT_CHUNK = 2000


@dataclass
class RecordList:
    page: Page
    converters: list[tuple[str, Any]]
    count: int | None
    # The change feed's bound when the page was read (`feed_bound`), else None.
    feed_bound: changes_sql.Position | None = None


def record_get(*, runtime: RecordRuntime, key: Any) -> Any:
    row = runtime.select_by_key.fetch(key) if key is not None else None
    if row is None:
        raise runtime.record_not_found(key)
    return row


def record_list(*, runtime: RecordRuntime, params: Any, feed_bound: bool = False) -> RecordList:
    """Raises ValidationFailed for any parameter that does not fit this storage (the first
    of: filters, ordering, cursor, fields, count, limit). With `feed_bound`, also the
    change feed's bound as of the page (storage.changes): on PostgreSQL read by the page's
    own statement, so a first page costs no extra round trip for it."""
    filter_values = runtime.filters.values_key(params)
    version = (runtime.storage_id, runtime.version, filter_values)
    kept = pages.keepable(filter_values)
    validated = None
    if not kept or version not in pages.valid_filters:
        validated = runtime.filters.apply(runtime.model.objects.all(), params)
        if kept:
            pages.valid_filters.put(version, True)

    def filtered() -> QuerySet:
        if validated is not None:
            return validated
        return runtime.filters.apply(runtime.model.objects.all(), params)

    ordering = parse_ordering(params.get("ordering"), runtime.key_name, set(runtime.orderable))
    raw_cursor = params.get("cursor")
    cursor = decode_cursor(raw_cursor, ordering, runtime.model) if raw_cursor else None
    pairs = projection(runtime, params.get("fields"))
    count = _count(filtered, params.get("count"))
    limit = page_limit(params.get("limit"))
    # Rows as dicts (values()), not model instances: a tenth of a page's time went to
    # building instances nothing else needed. The cursor needs the ordering's columns.
    names = [name for name, _ in pairs]
    names += [name for name in (ordering.field, ordering.key) if name not in names]
    bound_column = changes_sql.bound_column(runtime) if feed_bound else None
    if bound_column is not None:
        names.append("_feed_bound")
    shape = (
        version,
        str(ordering),
        cursor.direction if cursor else None,
        cursor is not None and cursor.value is None,
        limit,
        tuple(names),
    )

    def read() -> list[dict[str, Any]]:
        return pages.page_rows(
            shape if kept else None,
            lambda: keyset_queryset(
                _with_bound(filtered(), bound_column).values(*names), ordering, cursor, limit
            ),
            cursor_parameters(ordering, cursor),
        )

    # The feed's bound must be read no later than the page (storage.changes): by the
    # page's statement, or before it (SQLite; and a page that came back empty, read again).
    bound = changes_sql.bound(runtime) if feed_bound and bound_column is None else None
    rows = read()
    if feed_bound and bound_column is not None:
        if rows:
            bound = changes_sql.bound_from_column(rows[0]["_feed_bound"])
        else:
            bound = changes_sql.bound(runtime)
            rows = read()

    convert = dict(runtime.converters)

    def position(row: dict[str, Any]) -> tuple[Any, Any]:
        return (
            _json_value(convert.get(ordering.field), row[ordering.field]),
            _json_value(convert.get(ordering.key), row[ordering.key]),
        )

    page = keyset_page(rows, ordering, cursor, limit, position)
    return RecordList(page=page, converters=pairs, count=count, feed_bound=bound)


def _with_bound(queryset: QuerySet, bound_column: Any) -> QuerySet:
    return queryset if bound_column is None else queryset.annotate(_feed_bound=bound_column)


def record_export(*, runtime: RecordRuntime, params: Any) -> tuple[Iterator[Any], list]:
    """Every matching record, in order, read in chunks (server-side cursor on PostgreSQL):
    memory stays flat whatever the size. `limit`, `cursor` and `count` do not apply."""
    queryset = runtime.filters.apply(runtime.model.objects.all(), params)
    ordering = parse_ordering(params.get("ordering"), runtime.key_name, set(runtime.orderable))
    pairs = projection(runtime, params.get("fields"))
    queryset = queryset.only(*(name for name, _ in pairs)).order_by(
        *order_by_for(ordering, ordering.descending)
    )
    return queryset.iterator(chunk_size=EXPORT_CHUNK), pairs


def _json_value(convert: Any, value: Any) -> Any:
    return convert(value) if convert is not None and value is not None else value


def page_limit(raw: str | None) -> int:
    if raw is None:
        return settings.PAGE_SIZE_DEFAULT
    try:  # ASCII digits, one spelling: int() would take " 2", "0_2" or other scripts' digits
        limit = parse_integer(raw)
    except ValueError:
        raise ValidationFailed({"limit": ["Must be a whole number."]}) from None
    if limit < 1:
        raise ValidationFailed({"limit": ["Must be at least 1."]})
    return min(limit, settings.PAGE_SIZE_MAX)


def projection(runtime: RecordRuntime, raw: str | None) -> list[tuple[str, Any]]:
    if raw is None:
        return runtime.converters
    wanted = {name.strip() for name in raw.split(",") if name.strip()}
    unknown = wanted - runtime.field_names
    if unknown or not wanted:
        raise ValidationFailed(
            {
                "fields": [f"Unknown field {name!r}." for name in sorted(unknown)]
                or ["Name at least one field."]
            }
        )
    keep = wanted | {runtime.key_name, "_version"}
    return [(name, convert) for name, convert in runtime.converters if name in keep]


def _count(filtered: Callable[[], QuerySet], mode: str | None) -> int | None:
    if mode is None:
        return None
    if mode not in COUNT_MODES:
        raise ValidationFailed({"count": [f"Must be one of: {', '.join(COUNT_MODES)}."]})
    if mode == "estimated" and connection.vendor == "postgresql":
        return _estimated_count(filtered())
    return filtered().count()


def _estimated_count(queryset: QuerySet) -> int:
    """The planner's row estimate: cheap at any size, approximate by design."""
    plan = json.loads(queryset.order_by().explain(format="json"))[0]["Plan"]
    job = plan.get("Distributed Query", {}).get("Job")
    if job is None:
        return int(plan["Plan Rows"])
    # Citus: the coordinator's estimate is a placeholder (100,000); the plan shows one
    # shard's task, planned on its worker with the shard's statistics. Its rows times the
    # number of tasks, as the shards of a table by a hashed key hold alike.
    task = job["Tasks"][0]["Remote Plan"][0][0]["Plan"]
    return int(task["Plan Rows"]) * int(job["Task Count"])
