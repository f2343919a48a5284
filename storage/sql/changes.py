"""The change feed's statements (storage.changes reads the feed with them): the bound
below which positions are final, a page's live records and tombstones, the high-water
mark. factory.schema.feed writes the positions they read."""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterator
from typing import Any, NamedTuple

from django.db import connection, models
from django.db.models import BooleanField, Case, Exists, F, OuterRef, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from core.errors import FeedNotReady
from factory.models import FeedTombstone, StorageDefinition
from factory.schema import feed, names
from storage.runtime import RecordRuntime
from storage.sql import pages

MAX_SEQ = 2**63 - 1


class Position(NamedTuple):
    txid: int
    seq: int


# The bound as a column of another statement (a list's first page): an uncorrelated
# subquery, evaluated once, in that statement's own snapshot.
_BOUND_TXID = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1"
_BOUND_COLUMN = f"(SELECT {_BOUND_TXID})"


def bound_column(runtime: RecordRuntime) -> RawSQL | None:
    """The bound's transaction, to annotate a queryset with (PostgreSQL; None elsewhere,
    where `bound` costs no round trip, and for a distributed table, whose statements
    Citus may run on the workers, in their own snapshots)."""
    if connection.vendor != "postgresql" or runtime.distributed:
        return None
    return RawSQL(_BOUND_COLUMN, (), output_field=models.BigIntegerField())


def bound_from_column(txid: int) -> Position:
    return Position(txid, MAX_SEQ)


def bound(runtime: RecordRuntime) -> Position:
    """The highest position that no transaction still running can come in under (see
    storage.changes): read before a page, so the page's statements see all below it."""
    if runtime.distributed:
        return _distributed_bound(runtime)
    with connection.cursor() as cursor:
        cursor.execute(_bound_sql(runtime))
        return Position(*cursor.fetchone())


# --- A distributed table's bound --------------------------------------------------------
# Citus commits a transaction that wrote to several workers in two phases: PREPARE on the
# workers, COMMIT on the coordinator, then COMMIT PREPARED on each worker. Between the last
# two, the coordinator's snapshot says the transaction ended while its rows are not yet
# visible on a worker: a page read then would pass over them for good. So the coordinator's
# xmin is a bound only once no worker holds a prepared transaction, looked at after the
# xmin was read (a transaction that committed on the coordinator before it is either
# visible on the workers or still prepared there). A transaction that wrote to one worker
# commits there first (one phase) and is never prepared.
_PREPARED_ON_WORKERS = (
    "SELECT coalesce(sum(CASE WHEN success THEN result::bigint ELSE 1 END), 0) "
    "FROM run_command_on_workers($$SELECT count(*) FROM pg_prepared_xacts "
    "WHERE database = current_database()$$)"
)
SETTLE_TRIES = 5
SETTLE_PAUSE = 0.01
# Asking every worker costs a connection to each (run_command_on_workers: about 24 ms for
# two workers here, against 3 ms for a whole feed page of an ordinary table), so a proof
# serves this process's feed reads of every distributed storage for PROOF_SECONDS: a
# bound stays a bound (no transaction can come in under it later), so an older one only
# holds newer changes back a moment. Lost with the process: costs time, never correctness.
PROOF_SECONDS = 0.5
_proof: tuple[Position, float] | None = None  # (the bound, time.monotonic() when proved)


def _distributed_bound(runtime: RecordRuntime) -> Position:
    global _proof
    proof = _proof
    if proof is not None and time.monotonic() - proof[1] < PROOF_SECONDS:
        return proof[0]
    for attempt in range(SETTLE_TRIES):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {_BOUND_TXID}")
            (txid,) = cursor.fetchone()
            cursor.execute(_PREPARED_ON_WORKERS)
            (prepared,) = cursor.fetchone()
        if not prepared:
            _proof = (Position(txid, MAX_SEQ), time.monotonic())
            return _proof[0]
        time.sleep(SETTLE_PAUSE * (attempt + 1))
    if proof is None:
        raise FeedNotReady(
            f"Transactions are still committing on the workers of '{runtime.name}'; retry.",
            retry_after=1,
        )
    return proof[0]


def _bound_sql(runtime: RecordRuntime) -> str:
    """SELECT the bound's (transaction, sequence): PostgreSQL's snapshot xmin, or SQLite's
    committed version counter."""
    if connection.vendor == "postgresql":
        return f"SELECT {_BOUND_TXID}, {MAX_SEQ}"
    counter = names.version_counter(runtime.model._meta.db_table)
    return f"SELECT 0, value FROM {connection.ops.quote_name(counter)}"


class FeedState(NamedTuple):
    """What a feed request reads before its page, in one statement on PostgreSQL."""

    bound: Position
    high_water: Position  # the highest position at or below the bound: the feed's ETag
    pruned: Position  # tombstones at or below this were pruned


def feed_state(runtime: RecordRuntime) -> FeedState:
    """The bound, the high-water mark below it (index probes of the table and of the
    storage's tombstones) and the storage's pruning horizon: one round trip, one snapshot.
    Only for a storage whose feed is installed (storage.changes.feed_ready)."""
    quote = connection.ops.quote_name
    table_name = runtime.model._meta.db_table
    table, tombstones = quote(table_name), quote(FeedTombstone._meta.db_table)
    txid = quote(feed.TXID) if connection.vendor == "postgresql" else "0"
    if runtime.distributed:  # read first, on the coordinator (_distributed_bound)
        bound_sql, params = "SELECT %s::bigint, %s::bigint", [*_distributed_bound(runtime)]
    else:
        bound_sql, params = _bound_sql(runtime), []
    sql = (
        f"WITH b (bound_txid, bound_seq) AS ({bound_sql}) "
        "SELECT b.bound_txid, b.bound_seq, "
        f"(SELECT {txid} {_probe(table, txid, '_version', '')}), "
        f"(SELECT _version {_probe(table, txid, '_version', '')}), "
        f"(SELECT txid {_probe(tombstones, 'txid', 'seq', 'storage_id = %s AND ')}), "
        f"(SELECT seq {_probe(tombstones, 'txid', 'seq', 'storage_id = %s AND ')}), "
        "s.feed_pruned_txid, s.feed_pruned_seq "
        f"FROM b, {quote(StorageDefinition._meta.db_table)} s WHERE s.id = %s"
    )
    storage_id = runtime.storage_id
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, storage_id, storage_id, storage_id])
        row = cursor.fetchone()
    bound_txid, bound_seq, live_txid, live_seq, gone_txid, gone_seq = row[:6]
    found = [
        Position(t, q) for t, q in ((live_txid, live_seq), (gone_txid, gone_seq)) if t is not None
    ]
    return FeedState(
        bound=Position(bound_txid, bound_seq),
        high_water=max(found, default=Position(0, 0)),
        pruned=Position(row[6], row[7]),
    )


def _probe(table: str, txid: str, seq: str, condition: str) -> str:
    """FROM ... the highest (txid, seq) of `table` at or below the bound (b)."""
    order = f"{seq} DESC" if txid == "0" else f"{txid} DESC, {seq} DESC"  # SQLite: no txid
    return (
        f"FROM {table}, b WHERE {condition}({txid}, {seq}) <= (b.bound_txid, b.bound_seq) "
        f"ORDER BY {order} LIMIT 1"
    )


class Entry(NamedTuple):
    """A live record (its `values()` row) or a tombstone (key, version)."""

    position: Position
    row: dict[str, Any]
    tombstone: bool


def live_rows(
    runtime: RecordRuntime,
    queryset: models.QuerySet,
    shape: Hashable | None,
    names_: list[str],
    after: tuple[Position, Any],
    bound: Position,
    limit: int,
) -> Iterator[Entry]:
    """Up to `limit` + 1 records of `queryset` (filtered), in feed order, after `after`
    (a position, and a key among records at that position or None) and at most `bound`,
    with the fields `names_`. `shape` names everything but the bound and the cursor that
    decides the statement, compiled once and kept (storage.sql.pages; None: not kept)."""
    txid, version = _txid_column(runtime), _column(runtime, "_version")
    after, key = after
    if key is None:
        beyond = RawSQL(f"({txid}, {version}) > (%s, %s)", after, output_field=BooleanField())
        moving: tuple[Any, ...] = (*bound, *after)
    else:
        pk = runtime.model._meta.pk
        key_param = pk.get_db_prep_value(key, connection)
        beyond = RawSQL(
            f"({txid}, {version}, {_column(runtime, pk.column)}) > (%s, %s, %s)",
            (*after, key_param),
            output_field=BooleanField(),
        )
        moving = (*bound, *after, key_param)

    selected = dict.fromkeys([*names_, runtime.key_name, "_version"])

    def build() -> models.QuerySet:
        return (
            _positioned(runtime, queryset)
            .filter(_at_most(txid, version, bound), beyond)
            .order_by(*_ORDER)
            .values(*selected, "_feed_txid")[: limit + 1]
        )

    kept = None if shape is None else ("changes", shape, key is None)
    for row in pages.page_rows(kept, build, moving):
        yield Entry(Position(row["_feed_txid"], row["_version"]), row, False)


def tombstones(
    runtime: RecordRuntime, after: Position, bound: Position, limit: int
) -> Iterator[Entry]:
    """Up to `limit` + 1 of the storage's tombstones after `after` and at most `bound`,
    in feed order, but for keys that exist again (whose record's own entry follows). A
    retention run's mark (factory.schema.feed.write_removed) comes as a row with `removed`."""
    pk = runtime.model._meta.pk
    rows = _tombstone_rows(runtime, after, bound, limit)
    if runtime.distributed:
        rows = _not_living_again(runtime, rows, bound, limit)
    convert = dict(runtime.converters).get(runtime.key_name)
    for row in rows:
        if row["removed"] is None:
            key = pk.to_python(row["key"])
            row["key"] = convert(key) if convert is not None else key
        yield Entry(Position(row["txid"], row["seq"]), row, True)


def _tombstone_rows(
    runtime: RecordRuntime, after: Position, bound: Position, limit: int
) -> list[dict[str, Any]]:
    columns = _tombstone_columns()
    beyond = RawSQL(f"({columns[0]}, {columns[1]}) > (%s, %s)", after, output_field=BooleanField())
    rows = (
        FeedTombstone.objects.filter(storage_id=runtime.storage_id)
        # A mark's key is no key: CASE keeps it from the cast (a condition would not).
        .annotate(record_key=Case(When(removed__isnull=True, then=F("key"))))
        .filter(_at_most(*columns, bound), beyond)
    )
    if not runtime.distributed:
        pk = runtime.model._meta.pk
        lives_again = runtime.model.objects.filter(
            pk=Cast(OuterRef("record_key"), output_field=_cast_field(pk))
        )
        rows = rows.filter(~Exists(lives_again))
    shown = ("key", "version", "txid", "seq", "removed")
    return list(rows.order_by("txid", "seq").values(*shown)[: limit + 1])


def _not_living_again(
    runtime: RecordRuntime, rows: list[dict[str, Any]], bound: Position, limit: int
) -> list[dict[str, Any]]:
    """A distributed table's tombstones but for keys that exist again, looked up apart (a
    subquery joining the coordinator's tombstones with the shards is not one Citus runs),
    reading on until `limit` + 1 are left or none is."""
    pk = runtime.model._meta.pk
    kept: list[dict[str, Any]] = []
    while rows:
        keys = {pk.to_python(row["key"]) for row in rows if row["removed"] is None}
        living = {
            str(key)
            for key in runtime.model.objects.filter(pk__in=keys).values_list("pk", flat=True)
        }
        kept += [row for row in rows if row["removed"] is not None or row["key"] not in living]
        if len(kept) > limit or len(rows) <= limit:
            break
        last = rows[-1]
        rows = _tombstone_rows(runtime, Position(last["txid"], last["seq"]), bound, limit)
    return kept[: limit + 1]


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
