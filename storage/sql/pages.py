"""List pages compiled once per query, then run straight from their SQL.

Measured on a filtered page of 20 records, Django's ORM took about 250 µs to build a
page's queryset (filters, values, ordering, keyset condition) and compile it, and about as
long again to turn the rows into dicts: together, half of the request. The pages of one
listing differ only in their cursor, and clients poll the same first pages, so each
process keeps the compiled statement, keyed by everything that decides its SQL and its
fixed parameters (the storage version, the filter parameters and their values, the
ordering, the cursor's direction and shape, the limit and the columns; see
storage.selectors.record_list).

Only the cursor's values change between the pages of one listing, and the keyset condition
puts them last (storage.keyset.cursor_parameters). The first compile of a shape checks
that the statement's last parameters are exactly those values; where they are not (a
database that adapts them, such as SQLite for decimals), the shape is not kept and each
page is compiled afresh. Rows are converted by the converters Django's compiler chose for
the columns, as `values()` converts them, but for json columns on PostgreSQL: the cursor
reads those parsed (core.database.read_json_natively), to the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models import QuerySet

from core.database import read_json_natively, read_timestamps_natively
from core.lru import LRUCache

# Statements kept per process (a few KiB each): listings in use at once, over all storages.
CACHE_SIZE = 1024
# Filter values longer than this in all are not kept (their page compiles afresh): a key
# holds the values and a statement one parameter per `__in` item, so a client sending
# long ones could otherwise fill a worker's cache with megabytes each.
MAX_KEPT_FILTER_CHARS = 1024

Converters = tuple[tuple[int, tuple[tuple[Callable[..., Any], ...], Any]], ...]


@dataclass(frozen=True)
class PageStatement:
    sql: str
    fixed: tuple[Any, ...]  # the parameters before the cursor's values
    names: tuple[str, ...]
    converters: Converters
    using: str

    json_natively: bool = False  # json columns read parsed by the cursor (no converter)

    def rows(self, cursor_values: tuple[Any, ...]) -> list[dict[str, Any]]:
        connection = connections[self.using]
        with connection.cursor() as cursor:
            read_timestamps_natively(cursor)
            if self.json_natively:
                read_json_natively(cursor)
            cursor.execute(self.sql, (*self.fixed, *cursor_values))
            fetched = cursor.fetchall()
        return _as_dicts(fetched, self.names, self.converters, connection)


_statements: LRUCache[PageStatement] = LRUCache(lambda: CACHE_SIZE)
# Filter parameters (storage version, names and raw values) that passed validation: a
# request repeating them skips cleaning them again, as it skips compiling its page.
valid_filters: LRUCache[bool] = LRUCache(lambda: CACHE_SIZE)


def keepable(filter_values: tuple[tuple[str, str], ...]) -> bool:
    """Whether a listing with these filter parameters (names, raw values) may be kept."""
    return sum(len(value) for _, value in filter_values) <= MAX_KEPT_FILTER_CHARS


def page_rows(
    key: Hashable | None, build: Callable[[], QuerySet], cursor_values: tuple[Any, ...]
) -> list[dict[str, Any]]:
    """The rows of the `values()` queryset `build()` makes, whose last parameters are
    `cursor_values`; `key` names everything else that decides its statement (None: not
    to be kept)."""
    statement = _statements.get(key) if key is not None else None
    if statement is not None:
        return statement.rows(cursor_values)
    queryset = build()
    statement = _compile(queryset, cursor_values) if key is not None else None
    if statement is None:
        return list(queryset)
    _statements.put(key, statement)
    return statement.rows(cursor_values)


def _compile(queryset: QuerySet, cursor_values: tuple[Any, ...]) -> PageStatement | None:
    query = queryset.query
    compiler = query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # a condition no row can meet: Django runs no statement
        return None
    count = len(cursor_values)
    if count and tuple(params[-count:]) != cursor_values:
        return None
    # What django.db.models.query.ValuesIterable does with the compiler.
    names = (*query.extra_select, *query.values_select, *query.annotation_select)
    columns = [selected[0] for selected in compiler.select[0 : compiler.col_count]]
    converters = compiler.get_converters(columns)
    json_natively = _read_json_natively(converters, queryset.db)
    if json_natively:
        converters = {at: pair for at, pair in converters.items() if not _reads_json(pair[0])}
    fixed = tuple(params[: len(params) - count])
    return PageStatement(
        sql, fixed, names, tuple(converters.items()), queryset.db, json_natively=json_natively
    )


def _reads_json(functions: list[Callable[..., Any]]) -> bool:
    """Whether these converters are JSONField's alone, as Django makes every json field."""
    if len(functions) != 1:
        return False
    field = getattr(functions[0], "__self__", None)
    return isinstance(field, models.JSONField) and field.decoder is None


def _read_json_natively(converters: dict[int, Any], using: str) -> bool:
    """Whether the page's cursor reads its json columns parsed (core.database): on
    PostgreSQL, when there are json columns and all of them are plain JSONFields. A json
    value in every row cost a filtered page of 21 rows about 12 % more than a page without
    (in process, CPU): json.loads of each value, and a converter loop over every row."""
    if connections[using].vendor != "postgresql":
        return False
    json_columns = [pair for pair in converters.values() if _json_field(pair[1]) is not None]
    return bool(json_columns) and all(_reads_json(functions) for functions, _ in json_columns)


def _json_field(expression: Any) -> models.JSONField | None:
    field = getattr(expression, "output_field", None)
    return field if isinstance(field, models.JSONField) else None


def _as_dicts(
    rows: list[tuple[Any, ...]], names: tuple[str, ...], converters: Converters, connection: Any
) -> list[dict[str, Any]]:
    """As SQLCompiler.apply_converters and ValuesIterable make them."""
    if not converters:
        return [dict(zip(names, row, strict=True)) for row in rows]
    converted = []
    for row in rows:
        values = list(row)
        for position, (functions, expression) in converters:
            value = values[position]
            for convert in functions:
                value = convert(value, expression, connection)
            values[position] = value
        converted.append(dict(zip(names, values, strict=True)))
    return converted


def clear() -> None:
    _statements.clear()
    valid_filters.clear()
