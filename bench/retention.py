"""`make bench-cluster`, retention (issue 21): removing a day of records by dropping its
partition against the retention worker's key-ordered batched deletes.

Partitioned storages are not on main yet, so this measures the PostgreSQL operation
itself, on local tables of the coordinator: a day of `rows` rows (keys 1..rows) and
KEPT_ROWS of the next day, loaded with INSERT ... SELECT generate_series into a table
partitioned by day and into an ordinary one; then DETACH + DROP of the first day's
partition, against the statements factory.services.retention runs (core.batches.key_batch:
the batch's edge key, then a DELETE bounded by it, one transaction per batch of
RETENTION_BATCH_ITEMS), and the VACUUM the delete leaves to do.
"""

from __future__ import annotations

import contextlib
from typing import Any

import harness
import psycopg
from harness import step

RETENTION_BATCH_ITEMS = 5_000  # datastorage/settings.py's default
KEPT_ROWS = 100_000  # the next day's rows, which every variant must keep
DAY = "2026-01-01"

COLUMNS_DDL = (
    "id bigint NOT NULL, at timestamptz NOT NULL, name text, breed text, age int, extra jsonb"
)
FILL = (
    "INSERT INTO {table} SELECT n, {day}::timestamptz + (n - {first}) * interval '1 day' / {rows},"
    " 'dog-' || n, (ARRAY['beagle','labrador','poodle','boxer','collie'])[1 + n % 5], n % 16,"
    " jsonb_build_object('color', 'brown', 'n', n) FROM generate_series({first}, {last}) n"
)


def measure(url: str, rows: int) -> dict[str, Any]:
    """A day of `rows` rows (keys 1..rows) and KEPT_ROWS of the next day, twice: in a table
    partitioned by day (DETACH + DROP the first day's partition) and in an ordinary table
    keyed by id with an index on `at` (key-ordered batched DELETE of everything before the
    second day). Local tables on the coordinator: the operation PostgreSQL runs."""
    with psycopg.connect(url, autocommit=True) as conn:
        load_partitioned(conn, rows)
        load_plain(conn, rows)
        dropped = drop_partition(conn)
        deleted = delete_in_batches(conn, rows)
        for table in ("retention_days", "retention_plain"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    return {
        "measured": "PostgreSQL on the coordinator (partitioned storages are not on main yet)",
        "rows_removed": rows,
        "rows_kept": KEPT_ROWS,
        "drop_partition": dropped,
        "batched_delete": deleted,
        "delete_over_drop": round(deleted["seconds"] / dropped["seconds"], 1),
    }


def _fill(conn: psycopg.Connection, table: str, rows: int) -> None:
    day1, day2 = f"'{DAY}'", f"('{DAY}'::date + 1)"
    conn.execute(FILL.format(table=table, day=day1, first=1, last=rows, rows=rows))
    conn.execute(
        FILL.format(table=table, day=day2, first=rows + 1, last=rows + KEPT_ROWS, rows=KEPT_ROWS)
    )
    conn.execute(f"VACUUM (ANALYZE) {table}")
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
        conn.execute("CHECKPOINT")


def load_partitioned(conn: psycopg.Connection, rows: int) -> None:
    step(f"retention: load {rows + KEPT_ROWS:,} rows into a table partitioned by day")
    conn.execute(
        f"CREATE TABLE retention_days ({COLUMNS_DDL}, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)"
    )
    for number, (start, end) in enumerate(((0, 1), (1, 2))):
        conn.execute(
            f"CREATE TABLE retention_days_{number} PARTITION OF retention_days FOR VALUES"
            f" FROM ('{DAY}'::date + {start}) TO ('{DAY}'::date + {end})"
        )
    conn.execute("CREATE INDEX ON retention_days (at)")
    with harness.timed() as took:
        _fill(conn, "retention_days", rows)
    step(f"retention: loaded in {took[0]:.1f} s")


def load_plain(conn: psycopg.Connection, rows: int) -> None:
    step(f"retention: load {rows + KEPT_ROWS:,} rows into an ordinary table")
    conn.execute(f"CREATE TABLE retention_plain ({COLUMNS_DDL}, PRIMARY KEY (id))")
    conn.execute("CREATE INDEX ON retention_plain (at)")
    with harness.timed() as took:
        _fill(conn, "retention_plain", rows)
    step(f"retention: loaded in {took[0]:.1f} s")


def drop_partition(conn: psycopg.Connection) -> dict[str, Any]:
    step("retention: DETACH + DROP the first day's partition")
    with harness.timed() as took, conn.transaction():
        conn.execute("ALTER TABLE retention_days DETACH PARTITION retention_days_0")
        conn.execute("DROP TABLE retention_days_0")
    _check_kept(conn, "retention_days")
    step(f"retention: partition dropped in {took[0]:.3f} s")
    return {"seconds": round(took[0], 4), "statements": 2, "transactions": 1}


def delete_in_batches(conn: psycopg.Connection, rows: int) -> dict[str, Any]:
    """factory.services.retention's loop, in its SQL: the edge key of the next batch, then
    the rows up to it, one transaction per batch; the last batch has no edge."""
    step(f"retention: DELETE in key-ordered batches of {RETENTION_BATCH_ITEMS:,}")
    expired = f"at < '{DAY}'::date + 1"
    batches = 0
    with harness.timed() as took:
        while True:
            with conn.transaction():
                edge = conn.execute(
                    f"SELECT id FROM retention_plain WHERE {expired} ORDER BY id LIMIT 1 OFFSET %s",
                    (RETENTION_BATCH_ITEMS - 1,),
                ).fetchone()
                bound = "" if edge is None else f" AND id <= {int(edge[0])}"
                conn.execute(f"DELETE FROM retention_plain WHERE {expired}{bound}")
            batches += 1
            if edge is None:
                break
    _check_kept(conn, "retention_plain")
    step(f"retention: batched delete in {took[0]:.1f} s ({batches} batches); VACUUM")
    # The deleted rows' space is reusable only once vacuumed (autovacuum, later): a cost a
    # dropped partition never has, whose files are gone at commit.
    with harness.timed() as vacuum:
        conn.execute("VACUUM retention_plain")
    return {
        "seconds": round(took[0], 3),
        "vacuum_seconds": round(vacuum[0], 3),
        "batches": batches,
        "batch_items": RETENTION_BATCH_ITEMS,
        "rows_per_s": round(rows / took[0], 1),
    }


def _check_kept(conn: psycopg.Connection, table: str) -> None:
    """Exactly the second day's rows are left: nothing kept that should go, nothing
    removed that should stay."""
    count, all_kept = conn.execute(
        f"SELECT count(*), bool_and(at >= '{DAY}'::date + 1) FROM {table}"
    ).fetchone()
    if count != KEPT_ROWS or not all_kept:
        raise RuntimeError(
            f"{table} holds {count} rows after retention (all of the second day: "
            f"{all_kept}), not the {KEPT_ROWS} of the second day"
        )
