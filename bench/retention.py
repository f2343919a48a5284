"""`make bench-cluster`, retention (issue 21): the retention worker's own run on storages
made by the service, a partitioned one (whole expired days dropped) against an ordinary
one (key-ordered batched deletes).

    python scripts/with_postgres.py --citus 2 -- python bench/retention.py

Runs in-process, as the worker does (`manage.py run_worker` calls the same services):
Django set up on DATABASE_URL, migrated. Each variant is a storage created through
factory.services.storages.storage_create, with the same fields, an index on `at` and
`"retention": {"field": "at", "keep": "P1D"}`:

- `partitioned`: `"partition": {"field": "at", "interval": "day"}`;
- `plain`: not partitioned;
- `distributed` (only on a Citus coordinator): partitioned and `"distribution":
  {"shards": shards}` (SHARDS, or cluster.py's BENCH_SHARDS).

Partitions for the two days exist first (factory.services.partitions.partitions_maintain
with a `now` in the past). A day of `rows` records (OLD_DAY) and KEPT_ROWS of the next day
go in with one INSERT ... SELECT generate_series straight into the storage's table (its
columns: `id`, `_version` and `_txid` from their defaults, `_created_at`, `_updated_at`),
then VACUUM (ANALYZE) and CHECKPOINT. Timed: factory.services.retention.retention_run with
`now` the end of the kept day, so the cutoff is its start; then exactly the kept rows must
be left, and the tombstones and feed marks it wrote are counted; then VACUUM of the table,
timed apart (autovacuum's work, later). Each storage is deleted after its variant.

    BENCH_RETENTION_ROWS (1000000)
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
from typing import Any

import harness
import orjson
import psycopg
from harness import step

KEPT_ROWS = 100_000  # the kept day's rows, which every variant must keep
SHARDS = 4  # bench/cluster.py's BENCH_SHARDS default
KEEP = "P1D"
FIELDS = [
    {"name": "at", "type": "datetime", "required": True},
    {"name": "name", "type": "text", "nullable": True},
    {"name": "breed", "type": "text", "nullable": True},
    {"name": "age", "type": "integer", "nullable": True},
    {"name": "extra", "type": "json", "nullable": True},
]
PARTITION = {"field": "at", "interval": "day"}
FILL = (
    "INSERT INTO {table} (at, name, breed, age, extra, _created_at, _updated_at) "
    "SELECT %(day)s::timestamptz + (n - %(first)s) * interval '1 day' / %(count)s::bigint, "
    "'dog-' || n, (ARRAY['beagle','labrador','poodle','boxer','collie'])[1 + n %% 5], "
    "n %% 16, jsonb_build_object('color', 'brown', 'n', n), now(), now() "
    "FROM generate_series(%(first)s::bigint, %(last)s::bigint) n"
)


def measure(url: str, rows: int, shards: int = SHARDS) -> dict[str, Any]:
    """retention_run on each variant's storage (see the module's docstring); `distributed`,
    in `shards` shards, only where the database has Citus. Raises RuntimeError when a run
    removes other than the old day's `rows` records."""
    _django(url)
    today = datetime.datetime.now(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    old_day = today - datetime.timedelta(days=7)
    with psycopg.connect(url, autocommit=True) as conn:
        citus = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone()
        layouts = {
            "partitioned": {"partition": PARTITION},
            "plain": {},
            "distributed": {"partition": PARTITION, "distribution": {"shards": shards}},
        }
        if citus is None:
            del layouts["distributed"]
        variants = {
            name: run_variant(conn, name, layout, rows, old_day) for name, layout in layouts.items()
        }
    ratio = variants["plain"]["seconds"] / variants["partitioned"]["seconds"]
    return {
        "measured": "the service's retention_run on storages created by the service",
        "rows_removed": rows,
        "rows_kept": KEPT_ROWS,
        "keep": KEEP,
        "old_day": old_day.date().isoformat(),
        "variants": variants,
        "plain_over_partitioned": round(ratio, 1),
    }


def _django(url: str) -> None:
    """Django on `url`, migrated: the worker's setting, in this process."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datastorage.settings")
    if str(harness.ROOT) not in sys.path:
        sys.path.insert(0, str(harness.ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--no-input", verbosity=0)


def run_variant(
    conn: psycopg.Connection, name: str, layout: dict, rows: int, old_day: datetime.datetime
) -> dict[str, Any]:
    from core.errors import StorageNotFound
    from factory.services.storages import storage_delete

    storage = f"retention_{name}"
    with contextlib.suppress(StorageNotFound):  # left by an interrupted run
        storage_delete(name=storage, if_match="*")
    try:
        version = create(storage, layout, old_day)
        table = f"ds_{storage}"
        load(conn, table, name, rows, old_day)
        figures = run_retention(conn, version, table, rows, old_day)
        if "distribution" in layout:  # the parent table's shards, as Citus placed them
            found = "SELECT count(*) FROM citus_shards WHERE table_name = %s::regclass"
            figures["shards"] = conn.execute(found, (table,)).fetchone()[0]
    finally:
        storage_delete(name=storage, if_match="*")
    return {"definition": layout, **figures}


def create(storage: str, layout: dict, old_day: datetime.datetime) -> Any:
    """The storage, through the service, with partitions from the old day on."""
    from factory.services.partitions import partitions_maintain
    from factory.services.storages import storage_create

    step(f"retention: create storage {storage} {orjson.dumps(layout).decode()}")
    created = storage_create(
        data={
            "name": storage,
            "fields": FIELDS,
            "indexes": [{"fields": ["at"]}],
            "retention": {"field": "at", "keep": KEEP},
            **layout,
        }
    )
    version = created.versions.get(number=created.serving_version)
    if "partition" in layout:
        partitions_maintain(version=version, now=old_day + datetime.timedelta(hours=12))
    return version


def load(
    conn: psycopg.Connection, table: str, name: str, rows: int, old_day: datetime.datetime
) -> None:
    step(f"retention: {name}: load {rows:,} + {KEPT_ROWS:,} rows into {table}")
    kept_day = old_day + datetime.timedelta(days=1)
    with harness.timed() as took:
        for day, first, last in ((old_day, 1, rows), (kept_day, rows + 1, rows + KEPT_ROWS)):
            conn.execute(
                FILL.format(table=table),
                {"day": day, "first": first, "last": last, "count": last - first + 1},
            )
        conn.execute(f"VACUUM (ANALYZE) {table}")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
    step(f"retention: {name}: loaded in {took[0]:.1f} s")


def run_retention(
    conn: psycopg.Connection, version: Any, table: str, rows: int, old_day: datetime.datetime
) -> dict[str, Any]:
    """retention_run at the end of the kept day, timed; what it left and wrote; VACUUM."""
    from django.conf import settings

    from factory.models import FeedTombstone
    from factory.services.retention import retention_run

    now = old_day + datetime.timedelta(days=2)
    name = version.storage.name
    step(f"retention: {name}: retention_run(now={now:%Y-%m-%d %H:%M}Z), cutoff one day before")
    with harness.timed() as took:
        removed = retention_run(version=version, now=now)
    _check_kept(conn, table, removed, rows, now - datetime.timedelta(days=1))
    written = FeedTombstone.objects.filter(storage_id=version.storage_id)
    tombstones = written.filter(removed__isnull=True).count()
    marks = written.filter(removed__isnull=False).count()
    step(f"retention: {name}: {took[0]:.3f} s, {tombstones:,} tombstones, {marks} marks; VACUUM")
    with harness.timed() as vacuum:
        conn.execute(f"VACUUM {table}")
    return {
        "seconds": round(took[0], 4),
        "rows_per_s": round(rows / took[0], 1),
        "tombstones": tombstones,
        "feed_marks": marks,
        "vacuum_seconds": round(vacuum[0], 3),
        "batch_items": settings.RETENTION_BATCH_ITEMS,
    }


def _check_kept(
    conn: psycopg.Connection, table: str, removed: int, rows: int, cutoff: datetime.datetime
) -> None:
    """Exactly the kept day's rows are left, and the run says it removed the old day's."""
    count, oldest = conn.execute(f"SELECT count(*), min(at) FROM {table}").fetchone()
    if removed != rows or count != KEPT_ROWS or oldest < cutoff:
        raise RuntimeError(
            f"{table}: retention_run removed {removed:,} of {rows:,}, left {count:,} rows "
            f"(the oldest at {oldest}), not the {KEPT_ROWS:,} from {cutoff} on"
        )


def report_lines(r: dict[str, Any]) -> list[str]:
    """The summary's lines (bench/cluster.py prints them too)."""
    lines = [
        f"retention, {r['measured']}: keep {r['keep']}, one day of {r['rows_removed']:,} "
        f"records removed ({r['rows_kept']:,} of the next day kept)"
    ]
    how = {
        "partitioned": "day partitions: DETACH + DROP, one feed mark",
        "plain": "ordinary table: DELETE in key-ordered batches",
        "distributed": "day partitions, distributed: DETACH + DROP",
    }
    for name, v in r["variants"].items():
        lines.append(
            f"  {name:<12} {v['seconds']:>8.3f} s  {how[name]}; {v['tombstones']:,} "
            f"tombstones, {v['feed_marks']} marks; then VACUUM {v['vacuum_seconds']:.2f} s"
        )
    plain = r["variants"]["plain"]
    lines.append(
        f"  plain / partitioned: {r['plain_over_partitioned']:,.0f}x (batches of "
        f"{plain['batch_items']:,}, {plain['rows_per_s']:,.0f} records/s)"
    )
    return lines


def main() -> int:
    url = harness.database_url()
    rows = harness.env_int("BENCH_RETENTION_ROWS", 1_000_000)
    stamp = harness.utc_stamp()
    try:
        report = measure(url, rows)
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    path = harness.RESULTS / f"{stamp}-retention.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2, default=str))
    print()
    print("\n".join(report_lines(report)))
    print(f"figures: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
