"""Apply a declared version to its table, online, in the worker.

Every step is idempotent (it looks before it acts), so a migration interrupted by a crash
is simply run again: `resume_migrations` on worker start, or `manage.py resume_migrations`.
A PostgreSQL advisory lock keeps two runs of the same storage apart, across machines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from core import metrics
from factory.models import ACTIVE_STATUSES, StorageDefinition, StorageVersion, VersionStatus
from factory.schema import ddl
from factory.schema.builder import build_model, check_constraints, index_name, index_object

logger = logging.getLogger("datastorage.migrations")
_LOCK_CLASS = 7413  # first key of our advisory locks: "datastorage migration"
# A storage's retention runs (factory.services.retention): apart from the migration lock,
# so that a migration never finds its storage taken by a retention run, nor waits for one.
_RETENTION_LOCK_CLASS = 7414


def migration_run(*, storage_id: int, number: int) -> str:
    """Apply version `number`; returns its final status. Failures are recorded, not raised."""
    with storage_lock(storage_id) as acquired:
        if not acquired:
            logger.info("migration of storage %s v%s already running elsewhere", storage_id, number)
            return VersionStatus.MIGRATING
        version = (
            StorageVersion.objects.select_related("storage")
            .filter(storage_id=storage_id, number=number)
            .first()
        )
        if version is None or version.status not in ACTIVE_STATUSES:
            return version.status if version else "gone"
        _set_status(version, VersionStatus.MIGRATING)
        started = time.monotonic()
        try:
            with no_statement_timeout():
                _apply(version)
        except Exception as exc:
            if ddl.connection_lost():
                raise  # the database went away, not this version's fault: the worker resumes it
            logger.exception("migration of %s v%s failed", version.storage.name, number)
            _set_status(version, VersionStatus.FAILED, detail=str(exc).strip() or repr(exc))
            metrics.schema_change_finished("failed", time.monotonic() - started)
            return VersionStatus.FAILED
        _mark_ready(version)
        metrics.schema_change_finished("ready", time.monotonic() - started)
        return VersionStatus.READY


def migrations_resume() -> list[tuple[int, int]]:
    """Run every version left pending or migrating (by a crash); returns what was run."""
    active = StorageVersion.objects.filter(status__in=ACTIVE_STATUSES)
    interrupted = list(active.values_list("storage_id", "number"))
    for storage_id, number in interrupted:
        migration_run(storage_id=storage_id, number=number)
    return interrupted


def _apply(version: StorageVersion) -> None:
    storage = version.storage
    new_model = build_model(
        storage_id=storage.id, version=version.number, definition=version.definition
    )
    table = new_model._meta.db_table
    if storage.serving_version is None or not ddl.table_exists(table):
        with ddl.schema_transaction() as editor:
            ddl.create_table(editor, new_model)
        return
    old = storage.versions.get(number=storage.serving_version)
    old_model = build_model(storage_id=storage.id, version=old.number, definition=old.definition)
    changes = _changes_since(storage, old.number, version, table)
    if connection.vendor == "postgresql":
        with_lock_retries(lambda: _alter_columns(old_model, new_model, changes))
        _drop_indexes(new_model, changes)
        _build_indexes(new_model, changes)
    else:
        _apply_on_sqlite(old_model, new_model, changes)


def _changes_since(
    storage: StorageDefinition, serving: int, target: StorageVersion, table: str
) -> list[dict]:
    """The target's own changes, plus undoing what failed versions in between left behind.

    A version declared over a failed one is compared with the serving version
    (services.versions._base_version), so its own changes are complete. The failed ones'
    changes are not replayed (their index may be what made them fail); only an index one of
    them built or dropped before failing is brought back in line with the target.
    """
    wanted = {index_name(table, spec) for spec in target.definition["indexes"]}
    changes = list(target.changes)
    skipped = storage.versions.filter(number__gt=serving, number__lt=target.number)
    for change in (c for v in skipped.order_by("number") for c in v.changes):
        if change["op"] == "add_index" and index_name(table, change["index"]) not in wanted:
            changes.append({"op": "drop_index", "index": change["index"]})
        elif change["op"] == "drop_index" and index_name(table, change["index"]) in wanted:
            changes.append({"op": "add_index", "index": change["index"]})
    return changes


def _alter_columns(
    old_model: type[models.Model], new_model: type[models.Model], changes: list[dict]
) -> None:
    table = new_model._meta.db_table
    with ddl.short_lock_transaction() as editor:
        for change in changes:
            if change["op"] == "add_field" and not ddl.column_exists(table, change["field"]):
                ddl.add_column(editor, new_model, change["field"])
                checks = check_constraints(table, [change["definition"]])
                ddl.replace_checks(editor, [], checks, new_model)
            elif change["op"] == "relax_field":
                _relax(editor, old_model, new_model, change)


def _relax(
    editor: Any, old_model: type[models.Model], new_model: type[models.Model], change: dict
) -> None:
    name = change["field"]
    options = set(change["options"])
    if options & {"nullable", "max_length"}:
        ddl.alter_column(editor, old_model, new_model, name)
    if options & {"min", "max", "choices"}:
        table = new_model._meta.db_table
        old_spec = _spec(old_model, name)
        new_spec = _spec(new_model, name)
        old_checks = [
            c
            for c in check_constraints(table, [old_spec])
            if c.name not in {n.name for n in check_constraints(table, [new_spec])}
        ]
        new_checks = [
            c
            for c in check_constraints(table, [new_spec])
            if c.name not in {o.name for o in check_constraints(table, [old_spec])}
        ]
        # Look before acting: a resumed migration finds the checks already swapped.
        ddl.replace_checks(
            editor,
            [c for c in old_checks if ddl.is_constraint(table, c.name)],
            [c for c in new_checks if not ddl.is_constraint(table, c.name)],
            new_model,
        )


def _spec(model: type[models.Model], name: str) -> dict:
    return next(s for s in model._definition["fields"] if s["name"] == name)


def _drop_indexes(model: type[models.Model], changes: list[dict]) -> None:
    table = model._meta.db_table
    for change in changes:
        if change["op"] != "drop_index":
            continue
        name = index_name(table, change["index"])
        if ddl.index_state(table, name) is not None:
            # A partitioned table's index has no concurrent drop: a short lock, retried.
            with_lock_retries(lambda name=name: _drop_index(model, name))


def _drop_index(model: type[models.Model], name: str) -> None:
    with connection.schema_editor(atomic=False) as editor:
        ddl.drop_index(editor, model, name)


def _build_indexes(model: type[models.Model], changes: list[dict]) -> None:
    """CREATE INDEX CONCURRENTLY, writes going on; a failed build leaves no invalid index."""
    table = model._meta.db_table
    for change in (c for c in changes if c["op"] == "add_index"):
        spec = change["index"]
        name = index_name(table, spec)
        state = ddl.index_state(table, name)
        if state == "valid":
            continue
        if state == "invalid":
            with_lock_retries(lambda name=name: _drop_index(model, name))
        with connection.schema_editor(atomic=False) as editor:
            try:
                if spec["unique"]:
                    ddl.add_unique_index(editor, model, name, spec["fields"])
                else:
                    ddl.add_index(editor, model, index_object(table, spec))
            except DatabaseError:
                if ddl.index_state(table, name) is not None:
                    ddl.drop_index(editor, model, name)
                raise


def _apply_on_sqlite(
    old_model: type[models.Model], new_model: type[models.Model], changes: list[dict]
) -> None:
    """SQLite adds a column by copying the table from a model one field behind; each added
    field therefore goes through an intermediate model, and anything else through one
    final rebuild from the new model."""
    table = new_model._meta.db_table
    definition = old_model._definition
    storage_id, number = new_model._storage_id, new_model._storage_version
    with ddl.schema_transaction() as editor:
        for change in (c for c in changes if c["op"] == "add_field"):
            if ddl.column_exists(table, change["field"]):
                continue
            before = build_model(storage_id=storage_id, version=number, definition=definition)
            definition = {**definition, "fields": [*definition["fields"], change["definition"]]}
            after = build_model(storage_id=storage_id, version=number, definition=definition)
            ddl.add_column(editor, before, after._meta.get_field(change["field"]))
        if any(
            c["op"] != "add_field" or check_constraints(table, [c["definition"]]) for c in changes
        ):
            ddl.rebuild_table(editor, new_model)
        # Django's SQLite editor copies the table for most changes, an added column
        # included, and the copy lacks the change feed's trigger and index.
        ddl.install_feed(editor, new_model)


def with_lock_retries(step: Any) -> None:
    for attempt in range(ddl.LOCK_RETRIES):
        try:
            step()
            return
        except DatabaseError as exc:
            if not ddl.is_lock_timeout(exc) or attempt == ddl.LOCK_RETRIES - 1:
                raise
            logger.warning("lock timeout on attempt %s; retrying", attempt + 1)
            time.sleep(min(0.2 * 2**attempt, 5))


def _set_status(version: StorageVersion, status: str, *, detail: str = "") -> None:
    with transaction.atomic():
        StorageVersion.objects.filter(pk=version.pk).update(status=status, detail=detail)
        StorageDefinition.objects.filter(pk=version.storage_id, version=version.number).update(
            status=status, updated_at=timezone.now()
        )
    version.status = status


def _mark_ready(version: StorageVersion) -> None:
    """The switch: from this commit on, every process serves the new version."""
    now = timezone.now()
    with transaction.atomic():
        StorageVersion.objects.filter(pk=version.pk).update(
            status=VersionStatus.READY, detail="", ready_at=now
        )
        StorageDefinition.objects.filter(pk=version.storage_id).update(
            serving_version=version.number, status=VersionStatus.READY, updated_at=now
        )


@contextmanager
def storage_lock(storage_id: int) -> Iterator[bool]:
    with _advisory_lock(_LOCK_CLASS, storage_id) as acquired:
        yield acquired


@contextmanager
def retention_lock(storage_id: int) -> Iterator[bool]:
    """Yields whether this session may run the storage's retention (False: another
    worker does)."""
    with _advisory_lock(_RETENTION_LOCK_CLASS, storage_id) as acquired:
        yield acquired


@contextmanager
def _advisory_lock(lock_class: int, storage_id: int) -> Iterator[bool]:
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [lock_class, storage_id])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [lock_class, storage_id])


@contextmanager
def no_statement_timeout() -> Iterator[None]:
    """Index builds on big tables outlast the API's statement timeout."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
