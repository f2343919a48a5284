"""factory.services.migrations: applying a version to a live table, online and resumably."""

from __future__ import annotations

import io
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from core.errors import DomainError
from core.testing import storage_db
from factory.models import StorageDefinition, StorageVersion
from factory.schema import ddl
from factory.schema.builder import index_name
from factory.services import migrations
from factory.services.migrations import migration_run
from factory.tests.tables import columns, index_names
from storage.runtime import compile_runtime, runtime_for
from storage.services import record_create

URL = "/api/v1/factory/storage/things/"
READY = "/api/v1/factory/ready_status/things/"
RECORDS = "/api/v1/storage/things/"
TABLE = "ds_things"
COLOR_INDEX = {"fields": ["color"], "type": "btree", "unique": False}
# What ready_status adds for a version waiting on a worker when none has run (none does here).
NO_WORKER = "No worker has ever been seen; start one with `manage.py run_worker`."


def things() -> dict[str, Any]:
    return {
        "name": "things",
        "fields": [
            {"name": "title", "type": "text", "required": True},
            {"name": "label", "type": "text", "max_length": 20, "nullable": False, "default": "-"},
            {"name": "rank", "type": "integer", "min": 0, "max": 10},
        ],
        "indexes": [{"fields": ["rank"]}],
    }


def with_color(*extra_fields: dict[str, Any]) -> dict[str, Any]:
    """Version 2: a field with a default, an index on it, and two relaxed constraints."""
    definition = things()
    fields = {spec["name"]: spec for spec in definition["fields"]}
    fields["label"]["max_length"] = 40
    fields["rank"]["min"] = -10
    definition["fields"] += [
        {"name": "color", "type": "text", "nullable": False, "default": "unknown"},
        *extra_fields,
    ]
    definition["indexes"].append({"fields": ["color"]})
    return definition


def put(client, definition: dict[str, Any], if_match: str = '"1"'):
    return client.put(URL, definition, format="json", HTTP_IF_MATCH=if_match)


def ready_status(client) -> dict[str, Any]:
    return client.get(READY).json()


def post(client, **values: Any) -> dict[str, Any]:
    response = client.post(RECORDS, values, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def fill(rows: int) -> None:
    """Many rows at once, straight in SQL (the API would take seconds)."""
    table = connection.ops.quote_name(TABLE)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (title, label, rank, _version, _created_at, _updated_at) "
            "SELECT 'row ' || g, '-', g %% 10, 1, now(), now() FROM generate_series(1, %s) g",
            [rows],
        )


def pg_indexes(table: str) -> dict[str, bool]:
    """Index name -> indisvalid, for every index of the table (the primary key's too)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
            [table],
        )
        return dict(cursor.fetchall())


@contextmanager
def restored_signal_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.fixture
def storage(create_storage):
    return create_storage(things())


@pytest.fixture
def no_worker(monkeypatch):
    """Versions are declared, but no worker picks their migration up (until run by hand)."""
    monkeypatch.setattr("factory.services.versions.enqueue_migration", lambda *args: None)


# --- what records look like after a change -------------------------------------------------


@storage_db
def test_existing_records_read_back_with_the_new_fields_default(
    api_client, storage, django_capture_on_commit_callbacks
):
    old = [post(api_client, title=f"old {i}") for i in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        assert put(api_client, with_color()).status_code == 202

    assert ready_status(api_client)["status"] == "ready"
    for record in old:
        assert api_client.get(f"{RECORDS}{record['id']}/").json()["color"] == "unknown"
    listed = api_client.get(RECORDS, {"color": "unknown"}).json()["results"]
    assert sorted(r["title"] for r in listed) == ["old 0", "old 1", "old 2"]


@storage_db
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"name": "extra", "type": "text", "nullable": False, "default": "x"}, "x"),
        ({"name": "extra", "type": "text", "nullable": True, "default": "x"}, "x"),
        ({"name": "extra", "type": "integer", "nullable": False, "default": 7}, 7),
        ({"name": "extra", "type": "boolean", "nullable": False, "default": True}, True),
        ({"name": "extra", "type": "text"}, None),
    ],
)
def test_record_written_by_the_previous_model_after_the_change_gets_the_default(
    api_client, storage, django_capture_on_commit_callbacks, spec, expected
):
    previous = compile_runtime(storage.id, 1)  # a worker that has not seen version 2 yet
    with django_capture_on_commit_callbacks(execute=True):
        put(api_client, with_color(spec))
    assert ready_status(api_client)["status"] == "ready"

    row = record_create(runtime=previous, data={"title": "late"})

    record = api_client.get(f"{RECORDS}{row.pk}/").json()
    assert (record["title"], record["color"], record["extra"]) == ("late", "unknown", expected)


@storage_db
def test_records_api_serves_the_previous_version_until_the_new_one_is_ready(
    api_client, storage, no_worker
):
    before = post(api_client, title="before")
    assert put(api_client, with_color()).status_code == 202

    assert "color" not in post(api_client, title="during")
    refused = api_client.post(RECORDS, {"title": "x", "color": "red"}, format="json")
    assert refused.status_code == 400
    assert "color" not in api_client.get(f"{RECORDS}{before['id']}/").json()
    assert ready_status(api_client) == {
        "name": "things",
        "version": 2,
        "serving_version": 1,
        "status": "pending",
        "ready": False,
        "detail": NO_WORKER,
        "retention": None,
        "partitions": None,
    }

    assert migration_run(storage_id=storage.id, number=2) == "ready"

    after = post(api_client, title="after", color="red")
    colors = {r["title"]: r["color"] for r in api_client.get(RECORDS).json()["results"]}
    assert colors == {"before": "unknown", "during": "unknown", "after": "red"}
    assert after["color"] == "red"
    assert ready_status(api_client)["serving_version"] == 2


@storage_db
def test_migration_of_a_version_that_is_not_pending_does_nothing(api_client, storage, no_worker):
    assert migration_run(storage_id=storage.id, number=1) == "ready"
    assert migration_run(storage_id=storage.id, number=5) == "gone"


# --- no rewrite: metadata-only column adds --------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgresql
@storage_db
def test_adding_columns_with_defaults_and_relaxing_constraints_does_not_rewrite_the_table(
    api_client, storage, django_capture_on_commit_callbacks
):
    fill(20_000)
    file_node = ddl.table_file_node(TABLE)

    with django_capture_on_commit_callbacks(execute=True):
        extra = {"name": "score", "type": "integer", "nullable": False, "default": 0}
        assert put(api_client, with_color(extra)).status_code == 202

    assert ready_status(api_client)["status"] == "ready"
    assert ddl.table_file_node(TABLE) == file_node
    model = runtime_for("things").model
    assert model.objects.filter(color="unknown", score=0).count() == 20_000
    relaxed = post(api_client, title="relaxed", rank=-10, label="x" * 40)
    assert (relaxed["rank"], relaxed["label"], relaxed["color"]) == (-10, "x" * 40, "unknown")


# --- concurrent index builds, writes going on ------------------------------------------------


class Writer(threading.Thread):
    """Posts records through the records service, one short transaction each, until told
    to stop; the title of each is unique, so that losses and duplicates show."""

    def __init__(self, storage: str) -> None:
        super().__init__(daemon=True)
        self.storage = storage
        self.written: list[str] = []
        self.errors: list[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.is_set():
                title = f"w{len(self.written) + len(self.errors)}"
                try:
                    record_create(runtime=runtime_for(self.storage), data={"title": title})
                except (DomainError, DatabaseError) as exc:
                    self.errors.append(f"{title}: {exc!r}")
                else:
                    self.written.append(title)
        finally:
            connection.close()

    def wait_for(self, count: int) -> None:
        for _ in range(2000):
            if len(self.written) >= count or not self.is_alive():
                return
            self._stop_event.wait(0.005)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)
        assert not self.is_alive()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_index_is_built_concurrently_while_a_writer_keeps_writing(api_client, storage):
    fill(5_000)
    writer = Writer("things")
    writer.start()
    try:
        writer.wait_for(20)
        with CaptureQueriesContext(connection) as queries:
            response = put(api_client, with_color())
        statements = [q["sql"] for q in queries.captured_queries]  # before the next request
        written_when_ready = len(writer.written)
        writer.wait_for(written_when_ready + 20)
    finally:
        writer.stop()

    assert response.status_code == 202
    assert ready_status(api_client)["status"] == "ready"
    assert any("CREATE INDEX CONCURRENTLY" in sql for sql in statements)
    assert writer.errors == []
    assert len(writer.written) >= written_when_ready + 20
    model = runtime_for("things").model
    titles = Counter(
        model.objects.exclude(title__startswith="row ").values_list("title", flat=True)
    )
    assert titles == Counter(writer.written)  # each write exactly once
    assert model.objects.count() == 5_000 + len(writer.written)
    assert set(model.objects.values_list("color", flat=True)) == {"unknown"}
    indexes = pg_indexes(TABLE)
    assert indexes[index_name(TABLE, COLOR_INDEX)] is True
    assert all(indexes.values()), indexes


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_failed_concurrent_unique_index_build_leaves_no_index_behind(api_client, storage):
    post(api_client, title="twin")
    post(api_client, title="twin")
    definition = things()
    definition["indexes"].append({"fields": ["title"], "unique": True})

    with CaptureQueriesContext(connection) as queries:
        assert put(api_client, definition).status_code == 202

    assert any("CREATE UNIQUE INDEX CONCURRENTLY" in q["sql"] for q in queries.captured_queries)
    status = ready_status(api_client)
    assert (status["status"], status["serving_version"]) == ("failed", 1)
    assert "could not create unique index" in status["detail"]
    unique = index_name(TABLE, {"fields": ["title"], "type": "btree", "unique": True})
    assert unique not in pg_indexes(TABLE)
    assert all(pg_indexes(TABLE).values())


# --- crash recovery --------------------------------------------------------------------------


def crash_before_indexes(monkeypatch) -> None:
    """The worker dies (not an exception it could record) once the columns are done."""

    def killed(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("worker killed")

    if connection.vendor == "postgresql":
        monkeypatch.setattr(migrations, "_build_indexes", killed)
    else:  # SQLite applies everything in one transaction: the crash rolls it all back
        monkeypatch.setattr(ddl, "rebuild_table", killed)


@pytest.mark.django_db(transaction=True)
def test_interrupted_migration_is_resumed_by_the_command(api_client, storage, no_worker):
    old = post(api_client, title="old", rank=0)
    assert put(api_client, with_color()).status_code == 202
    with pytest.MonkeyPatch.context() as patch:
        crash_before_indexes(patch)
        with pytest.raises(SystemExit):
            migration_run(storage_id=storage.id, number=2)

    assert ready_status(api_client) == {
        "name": "things",
        "version": 2,
        "serving_version": 1,
        "status": "migrating",
        "ready": False,
        "detail": NO_WORKER,
        "retention": None,
        "partitions": None,
    }
    # Half-applied: PostgreSQL committed the column before the crash (SQLite rolled back).
    assert ("color" in columns(TABLE)) is (connection.vendor == "postgresql")
    assert index_name(TABLE, COLOR_INDEX) not in index_names(TABLE)
    out = io.StringIO()

    call_command("resume_migrations", stdout=out)

    assert out.getvalue() == f"resumed storage {storage.id} version 2\n1 migration(s) resumed\n"
    assert ready_status(api_client) == {
        "name": "things",
        "version": 2,
        "serving_version": 2,
        "status": "ready",
        "ready": True,
        "detail": None,
        "retention": None,
        "partitions": None,
    }
    assert index_name(TABLE, COLOR_INDEX) in index_names(TABLE)
    assert list(columns(TABLE)).count("color") == 1
    assert api_client.get(f"{RECORDS}{old['id']}/").json()["color"] == "unknown"
    relaxed = post(api_client, title="relaxed", rank=-10, label="x" * 40)
    assert (relaxed["rank"], relaxed["label"]) == (-10, "x" * 40)


@pytest.mark.django_db(transaction=True)
def test_version_left_migrating_with_nothing_done_is_resumed(api_client, storage, no_worker):
    assert put(api_client, with_color()).status_code == 202
    StorageVersion.objects.filter(storage=storage, number=2).update(status="migrating")
    StorageDefinition.objects.filter(pk=storage.pk).update(status="migrating")

    call_command("resume_migrations", stdout=io.StringIO())

    assert ready_status(api_client)["status"] == "ready"
    assert index_name(TABLE, COLOR_INDEX) in index_names(TABLE)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_resume_replaces_the_invalid_index_a_killed_build_left(api_client, storage, no_worker):
    post(api_client, title="twin")
    twin = post(api_client, title="twin")
    definition = things()
    unique = {"fields": ["title"], "type": "btree", "unique": True}
    definition["indexes"].append(unique)
    assert put(api_client, definition).status_code == 202
    name = index_name(TABLE, unique)
    with connection.cursor() as cursor, pytest.raises(DatabaseError):
        # What a build killed half-way leaves: an invalid index of the right name.
        cursor.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{name}" ON "{TABLE}" ("title")')
    assert pg_indexes(TABLE)[name] is False
    assert api_client.delete(f"{RECORDS}{twin['id']}/").status_code == 204
    StorageVersion.objects.filter(storage=storage, number=2).update(status="migrating")

    call_command("resume_migrations", stdout=io.StringIO())

    assert ready_status(api_client)["status"] == "ready"
    assert pg_indexes(TABLE)[name] is True
    assert api_client.post(RECORDS, {"title": "twin"}, format="json").status_code == 409


# --- one migration of a storage at a time -----------------------------------------------------


@pytest.mark.postgresql
@storage_db
def test_migration_waits_for_the_database_lock_held_elsewhere(api_client, storage, no_worker):
    assert put(api_client, with_color()).status_code == 202
    held, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with migrations.storage_lock(storage.id) as acquired:
                assert acquired
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert held.wait(10)
        assert migration_run(storage_id=storage.id, number=2) == "migrating"
        assert StorageVersion.objects.get(storage=storage, number=2).status == "pending"
    finally:
        release.set()
        thread.join(10)

    assert migration_run(storage_id=storage.id, number=2) == "ready"


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_puts_with_the_same_if_match_accept_exactly_one(storage, admin_token):
    from rest_framework.test import APIClient

    start = threading.Barrier(2)
    answers: dict[str, Any] = {}

    def declare(field_name: str) -> None:
        try:
            definition = things()
            definition["fields"].append({"name": field_name, "type": "text"})
            start.wait(10)
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_token}")
            answers[field_name] = put(client, definition)
        finally:
            connection.close()

    threads = [threading.Thread(target=declare, args=(name,)) for name in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    codes = sorted(answer.status_code for answer in answers.values())
    assert codes == [202, 412]
    (refused,) = [a for a in answers.values() if a.status_code == 412]
    assert refused.json()["current_version"] == 2
    (accepted,) = [name for name, a in answers.items() if a.status_code == 202]
    versions = StorageVersion.objects.filter(storage=storage).order_by("number")
    assert [v.number for v in versions] == [1, 2]
    assert versions[1].definition["fields"][-1]["name"] == accepted


@pytest.mark.django_db(transaction=True)
def test_worker_resumes_interrupted_migrations_when_it_starts(
    api_client, storage, no_worker, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert put(api_client, with_color()).status_code == 202
    StorageVersion.objects.filter(storage=storage, number=2).update(status="migrating")
    out = io.StringIO()

    with restored_signal_handlers():  # the worker installs its own, and leaves them
        call_command("run_worker", "--batch", "--interval", "0.05", stdout=out)

    assert f"resumed storage {storage.id} version 2" in out.getvalue()
    assert ready_status(api_client)["status"] == "ready"
    assert index_name(TABLE, COLOR_INDEX) in index_names(TABLE)
