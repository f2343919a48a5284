"""The change feed's statements (storage.changes reads the feed with them): the bound
below which positions are final, a page's live records and tombstones, the high-water
mark. factory.schema.feed writes the positions they read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from django.db import connection, models
from django.db.models import BooleanField, Exists, OuterRef, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from factory.models import FeedTombstone
from factory.schema import feed, names
from storage.runtime import RecordRuntime

MAX_SEQ = 2**63 - 1


class Position(NamedTuple):
    txid: int
    seq: int


# The bound as a column of another statement (a list's first page): an uncorrelated
# subquery, evaluated once, in that statement's own snapshot.
_BOUND_COLUMN = "(SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1)"


def bound_column() -> RawSQL | None:
    """The bound's transaction, to annotate a queryset with (PostgreSQL; None elsewhere,
    where `bound` costs no round trip)."""
    if connection.vendor != "postgresql":
        return None
    return RawSQL(_BOUND_COLUMN, (), output_field=models.BigIntegerField())


def bound_from_column(txid: int) -> Position:
    return Position(txid, MAX_SEQ)


def bound(runtime: RecordRuntime) -> Position:
    """The highest position that no transaction still running can come in under (see
    storage.changes): read before a page, so the page's statements see all below it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            (xmin,) = cursor.fetchone()
            return Position(xmin - 1, MAX_SEQ)
        counter = connection.ops.quote_name(names.version_counter(runtime.model._meta.db_table))
        cursor.execute(f"SELECT value FROM {counter}")
        (value,) = cursor.fetchone()
        return Position(0, value)


def high_water(runtime: RecordRuntime, below: Position) -> Position:
    """The highest position at or below `below` (the feed's ETag): one index probe in the
    table, one among the storage's tombstones."""
    live = (
        _positioned(runtime, runtime.model.objects.all())
        .filter(_at_most(_txid_column(runtime), _column(runtime, "_version"), below))
        .order_by(*_ORDER_DESCENDING)
        .values_list("_feed_txid", "_version")
        .first()
    )
    gone = (
        FeedTombstone.objects.filter(storage_id=runtime.storage_id)
        .filter(_at_most(*_tombstone_columns(), below))
        .order_by("-txid", "-seq")
        .values_list("txid", "seq")
        .first()
    )
    return max((Position(*found) for found in (live, gone) if found), default=Position(0, 0))


class Entry(NamedTuple):
    """A live record (its `values()` row, the key as "pk") or a tombstone (key, version)."""

    position: Position
    row: dict[str, Any]
    tombstone: bool


def live_rows(
    runtime: RecordRuntime,
    queryset: models.QuerySet,
    names_: list[str],
    after: tuple[Position, Any],
    bound: Position,
    limit: int,
) -> Iterator[Entry]:
    """Up to `limit` + 1 records of `queryset` (filtered), in feed order, after `after`
    (a position, and a key among records at that position or None) and at most `bound`,
    with the fields `names_`."""
    txid, version = _txid_column(runtime), _column(runtime, "_version")
    after, key = after
    if key is None:
        beyond = RawSQL(f"({txid}, {version}) > (%s, %s)", after, output_field=BooleanField())
    else:
        pk = runtime.model._meta.pk
        beyond = RawSQL(
            f"({txid}, {version}, {_column(runtime, pk.column)}) > (%s, %s, %s)",
            (*after, pk.get_db_prep_value(key, connection)),
            output_field=BooleanField(),
        )
    rows = (
        _positioned(runtime, queryset)
        .filter(_at_most(txid, version, bound), beyond)
        .order_by(*_ORDER)
        .values(*names_, "_feed_txid", "_version", "pk")[: limit + 1]
    )
    for row in rows:
        yield Entry(Position(row["_feed_txid"], row["_version"]), row, False)


def tombstones(
    runtime: RecordRuntime, after: Position, bound: Position, limit: int
) -> Iterator[Entry]:
    """Up to `limit` + 1 of the storage's tombstones after `after` and at most `bound`,
    in feed order, but for keys that exist again (whose record's own entry follows)."""
    pk = runtime.model._meta.pk
    lives_again = runtime.model.objects.filter(
        pk=Cast(OuterRef("key"), output_field=_cast_field(pk))
    )
    columns = _tombstone_columns()
    beyond = RawSQL(f"({columns[0]}, {columns[1]}) > (%s, %s)", after, output_field=BooleanField())
    rows = (
        FeedTombstone.objects.filter(storage_id=runtime.storage_id)
        .filter(_at_most(*columns, bound), beyond, ~Exists(lives_again))
        .order_by("txid", "seq")
        .values("key", "version", "txid", "seq")[: limit + 1]
    )
    convert = dict(runtime.converters).get(runtime.key_name)
    for row in rows:
        key = pk.to_python(row["key"])
        row["key"] = convert(key) if convert is not None else key
        yield Entry(Position(row["txid"], row["seq"]), row, True)


# --- SQL pieces -------------------------------------------------------------------------


def _column(runtime: RecordRuntime, column: str) -> str:
    quote = connection.ops.quote_name
    return f"{quote(runtime.model._meta.db_table)}.{quote(column)}"


def _txid_column(runtime: RecordRuntime) -> str:
    return _column(runtime, feed.TXID) if connection.vendor == "postgresql" else "0"


def _tombstone_columns() -> tuple[str, str]:
    table = connection.ops.quote_name(FeedTombstone._meta.db_table)
    quote = connection.ops.quote_name
    return f"{table}.{quote('txid')}", f"{table}.{quote('seq')}"


def _at_most(txid: str, seq: str, bound: Position) -> RawSQL:
    return RawSQL(f"({txid}, {seq}) <= (%s, %s)", bound, output_field=BooleanField())


# Feed order: position, then key (records that predate per-storage version counters may
# share a version in transaction 0).
_ORDER = ("_feed_txid", "_version", "pk")
_ORDER_DESCENDING = tuple(f"-{name}" for name in _ORDER)


def _positioned(runtime: RecordRuntime, queryset: models.QuerySet) -> models.QuerySet:
    """`queryset` with its rows' transaction as `_feed_txid` (a column the model does not
    know on PostgreSQL; 0 on SQLite, where versions alone order commits)."""
    if connection.vendor == "postgresql":
        txid = RawSQL(_txid_column(runtime), (), output_field=models.BigIntegerField())
    else:
        txid = Value(0, output_field=models.BigIntegerField())
    return queryset.annotate(_feed_txid=txid)


def _cast_field(pk: models.Field) -> models.Field:
    if isinstance(pk, models.CharField | models.TextField):
        return models.TextField()
    return pk.__class__()
