"""Distributed storages on a real Citus cluster (a coordinator and two workers, started by
`scripts/with_postgres.py --citus 2`: `make test-citus`): every records operation, racing
writers, unique violations, schema changes, ingest, and what is refused."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection, connections

from access.services import token_issue, token_revoke
from factory.models import StorageDefinition
from factory.schema import ddl, partitions
from factory.schema.names import table_name
from factory.services.partitions import partitions_maintain
from factory.tests.tables import table_names

pytestmark = [pytest.mark.citus, pytest.mark.django_db(transaction=True)]

TAGS = "/api/v1/storage/tags/"
DOGS = "/api/v1/storage/dogs/"


def _tags(shards: int = 2, **extra) -> dict:
    """A natural text key, the way producers re-deliver and upsert."""
    return {
        "name": "tags",
        "primary_key": {"name": "tag", "type": "text"},
        "fields": [
            {"name": "name", "type": "text", "required": True},
            {"name": "age", "type": "integer", "default": 0, "min": 0, "max": 1000},
            {"name": "seen_at", "type": "datetime", "nullable": True},
        ],
        "indexes": [{"fields": ["name"]}],
        "distribution": {"shards": shards},
        **extra,
    }


def _dogs() -> dict:
    return {
        "name": "dogs",
        "fields": [
            {"name": "name", "type": "text", "required": True},
            {"name": "age", "type": "integer", "min": 0, "max": 40, "default": 0},
            {"name": "breed", "type": "text", "nullable": True},
        ],
        "indexes": [{"fields": ["breed"]}],
        "distribution": {"shards": 4},
        "source": {
            "match": {"path": "/animal/species", "equals": "dog"},
            "map": {"name": "/animal/name", "age": "/animal/age", "breed": "/animal/breed"},
        },
    }


def _shard_count(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = %s::regclass",
            [table_name(name)],
        )
        return cursor.fetchone()[0]


def _new_version(api_client, definition: dict):
    return api_client.put(
        "/api/v1/factory/storage/tags/", definition, format="json", HTTP_IF_MATCH='"1"'
    )


@pytest.fixture
def tags(api_client):
    response = api_client.post("/api/v1/factory/storage/", _tags(), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_distributed_storage_is_a_distributed_table_of_its_shards(api_client, tags, admin_client):
    assert _shard_count("tags") == 2
    described = api_client.get("/api/v1/factory/storage/tags/versions/1/").json()
    assert described["definition"]["distribution"] == {"shards": 2}
    storage = StorageDefinition.objects.get(name="tags")
    page = admin_client.get(f"/admin/factory/storagedefinition/{storage.pk}/change/")
    assert "<td>distribution</td><td>2 shards by the primary key (Citus)</td>" in page.text


def test_a_unique_index_is_refused_before_anything_is_created(api_client):
    definition = _tags(indexes=[{"fields": ["name"], "unique": True}])

    response = api_client.post("/api/v1/factory/storage/", definition, format="json")

    assert response.status_code == 400
    assert "indexes.0.unique" in response.json()["errors"]
    assert not StorageDefinition.objects.filter(name="tags").exists()
    assert table_name("tags") not in table_names()


def test_a_new_version_cannot_add_a_unique_index_or_change_the_distribution(api_client, tags):
    unique = _tags(indexes=[{"fields": ["name"]}, {"fields": ["age"], "unique": True}])
    reshard = _tags(shards=4)
    for definition in (unique, reshard):
        response = _new_version(api_client, definition)
        assert response.status_code == 400, response.json()
    assert StorageDefinition.objects.get(name="tags").version == 1


def test_every_records_operation_on_a_distributed_storage(api_client, tags):
    created = api_client.post(TAGS, {"tag": "rex", "name": "Rex", "age": 3}, format="json")
    assert created.status_code == 201, created.json()
    bulk = [{"tag": f"t{n:03}", "name": f"Dog {n}", "age": n % 20} for n in range(120)]
    assert api_client.post(TAGS, bulk, format="json").status_code == 201

    one = api_client.get(f"{TAGS}rex/")
    assert (one.status_code, one.json()["age"]) == (200, 3)
    page = api_client.get(f"{TAGS}?age__gte=10&ordering=-tag&limit=25&count=exact")
    body = page.json()
    assert body["count"] == 60
    assert [r["tag"] for r in body["results"]][:2] == ["t119", "t118"]
    keys = [r["tag"] for r in body["results"]]
    while body.get("next"):
        body = api_client.get(body["next"]).json()
        keys += [r["tag"] for r in body["results"]]
    assert len(keys) == len(set(keys)) == 60

    tag = one["ETag"]
    patched = api_client.patch(f"{TAGS}rex/", {"age": 4}, format="json", HTTP_IF_MATCH=tag)
    assert patched.status_code == 200, patched.json()
    stale = api_client.patch(f"{TAGS}rex/", {"age": 5}, format="json", HTTP_IF_MATCH=tag)
    assert stale.status_code == 412
    put = api_client.put(
        f"{TAGS}rex/", {"name": "Rex II"}, format="json", HTTP_IF_MATCH=patched["ETag"]
    )
    assert (put.status_code, put.json()["age"]) == (200, 0)

    assert api_client.delete(f"{TAGS}rex/", HTTP_IF_MATCH=put["ETag"]).status_code == 204
    assert api_client.get(f"{TAGS}rex/").status_code == 404
    export = api_client.get(f"{TAGS}?format=ndjson&age=7")
    assert export.status_code == 200
    assert b"".join(export.streaming_content).count(b"\n") == 6


def test_idempotency_keys_and_upserts_by_key(api_client, tags):
    headers = {"HTTP_IDEMPOTENCY_KEY": "delivery-1"}
    first = api_client.post(TAGS, {"tag": "a", "name": "A"}, format="json", **headers)
    again = api_client.post(TAGS, {"tag": "a", "name": "A"}, format="json", **headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()

    merge = {"HTTP_PREFER": "resolution=merge-duplicates"}
    items = [{"tag": "a", "name": "A2", "age": 9}, {"tag": "b", "name": "B"}]
    upserted = api_client.post(TAGS, items, format="json", **merge)
    assert upserted.status_code in (200, 201), upserted.json()
    assert api_client.get(f"{TAGS}a/").json()["age"] == 9
    assert api_client.get(f"{TAGS}b/").status_code == 200


def test_updates_and_deletes_by_filter(api_client, tags):
    rows = [{"tag": f"t{n}", "name": f"T{n}", "age": n} for n in range(30)]
    assert api_client.post(TAGS, rows, format="json").status_code == 201

    updated = api_client.patch(f"{TAGS}?age__lt=10", {"name": "young"}, format="json")
    assert updated.status_code == 200, updated.json()
    deleted = api_client.delete(f"{TAGS}?age__gte=20")
    assert (deleted.status_code, deleted.json()) == (200, {"deleted": 10})
    names = [r["name"] for r in api_client.get(f"{TAGS}?limit=100").json()["results"]]
    assert (len(names), names.count("young")) == (20, 10)


def test_unique_violations_answer_409_naming_the_key(api_client, tags):
    assert api_client.post(TAGS, {"tag": "a", "name": "A"}, format="json").status_code == 201

    single = api_client.post(TAGS, {"tag": "a", "name": "again"}, format="json")
    bulk = api_client.post(
        TAGS, [{"tag": "b", "name": "B"}, {"tag": "a", "name": "A"}], format="json"
    )

    assert (single.status_code, single.json()["fields"]) == (409, ["tag"])
    assert (bulk.status_code, bulk.json()["fields"]) == (409, ["tag"])
    assert api_client.get(f"{TAGS}b/").status_code == 404  # all or nothing


def test_twenty_racing_patches_with_one_version_give_exactly_one_200(api_client, tags):
    created = api_client.post(TAGS, {"tag": "race", "name": "R"}, format="json")
    tag = created["ETag"]
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def patch(n: int) -> None:
        try:
            barrier.wait()
            answer = api_client.patch(f"{TAGS}race/", {"age": n}, format="json", HTTP_IF_MATCH=tag)
            statuses.append(answer.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=patch, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] + [412] * 19


def test_a_schema_change_adding_a_field_and_an_index_becomes_ready(api_client, tags):
    api_client.post(TAGS, [{"tag": f"t{n}", "name": "x"} for n in range(50)], format="json")
    definition = _tags()
    definition["fields"].append({"name": "colour", "type": "text", "default": "brown"})
    definition["fields"][1]["max"] = 5000  # a CHECK relaxed: NOT VALID, then VALIDATE
    definition["indexes"].append({"fields": ["colour", "age"]})  # CONCURRENTLY

    response = _new_version(api_client, definition)

    assert response.status_code in (200, 202), response.json()
    storage = api_client.get("/api/v1/factory/storage/tags/").json()
    assert (storage["version"], storage["status"]) == (2, "ready")
    assert api_client.get(f"{TAGS}t7/").json()["colour"] == "brown"
    assert api_client.get(f"{TAGS}?colour=brown&count=exact").json()["count"] == 50
    relaxed = api_client.patch(f"{TAGS}t7/", {"age": 4000}, format="json", HTTP_IF_MATCH="*")
    assert relaxed.status_code == 200, relaxed.json()
    with connection.cursor() as cursor:  # every shard has the index, valid
        cursor.execute(
            "SELECT bool_and(success AND result = 't'), count(*) FROM run_command_on_shards("
            "%s, $$SELECT bool_and(indisvalid) FROM pg_index WHERE indrelid = '%%s'::regclass$$)",
            [table_name("tags")],
        )
        assert cursor.fetchone() == (True, 2)


def test_estimated_count_reads_the_shards_statistics(api_client, tags):
    rows = [{"tag": f"t{n:05}", "name": "x", "age": n % 7} for n in range(3000)]
    assert api_client.post(TAGS, rows, format="json").status_code == 201
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table_name('tags')}")

    estimated = api_client.get(f"{TAGS}?count=estimated&limit=1").json()["count"]

    assert 2000 <= estimated <= 4500  # not Citus's placeholder (100,000)


def _follow(api_client, url: str, copy: dict) -> str:
    """The feed from `url` to its end, applied to `copy`; returns the cursor URL."""
    while True:
        page = api_client.get(url).json()
        for entry in page["results"]:
            if entry.get("_deleted"):
                copy.pop(entry["tag"], None)
            else:
                copy[entry["tag"]] = (entry["name"], entry["age"], entry["_version"])
        url = page["next"]
        if not page["results"]:
            return url


def test_the_change_feed_follows_every_way_of_writing(api_client, tags):
    first_page = api_client.get(TAGS).json()
    copy: dict = {}
    url = _follow(api_client, first_page["changes"], copy)
    bulk = [{"tag": f"t{n:03}", "name": "x", "age": n} for n in range(40)]
    assert api_client.post(TAGS, bulk, format="json").status_code == 201
    one = api_client.post(TAGS, {"tag": "one", "name": "One"}, format="json")
    api_client.patch(f"{TAGS}one/", {"age": 2}, format="json", HTTP_IF_MATCH=one["ETag"])
    api_client.put(f"{TAGS}t001/", {"name": "put"}, format="json")
    merge = {"HTTP_PREFER": "resolution=merge-duplicates"}
    upsert = [{"tag": "t002", "name": "merged"}, {"tag": "new", "name": "N"}]
    assert api_client.post(TAGS, upsert, format="json", **merge).status_code in (200, 201)
    api_client.patch(f"{TAGS}?age__gte=30", {"name": "old"}, format="json")
    api_client.delete(f"{TAGS}t003/")
    assert api_client.delete(f"{TAGS}?age__lt=10&age__gte=5").json() == {"deleted": 5}
    api_client.post(TAGS, {"tag": "t006", "name": "again"}, format="json")  # lives again

    _follow(api_client, url, copy)

    table = {
        r["tag"]: (r["name"], r["age"], r["_version"])
        for r in api_client.get(f"{TAGS}?limit=1000").json()["results"]
    }
    assert copy == table
    assert len(table) == 40 + 2 - 1 - 5 + 1


def test_ingest_writes_into_a_distributed_storage(api_client):
    assert api_client.post("/api/v1/factory/storage/", _dogs(), format="json").status_code == 201
    events = [{"animal": {"species": "dog", "name": f"D{n}", "age": n}} for n in range(10)]

    response = api_client.post("/api/v1/ingest/", events, format="json")

    assert response.status_code in (200, 202), response.json()
    assert _shard_count("dogs") == 4
    assert api_client.get(f"{DOGS}?count=exact").json()["count"] == 10


def test_a_partitioned_storage_is_distributed_with_its_partitions(api_client):
    definition = {
        "name": "events",
        "fields": [{"name": "at", "type": "datetime", "required": True}],
        "indexes": [{"fields": ["at"]}],
        "partition": {"field": "at", "interval": "month"},
        "distribution": {"shards": 2},
    }
    assert api_client.post("/api/v1/factory/storage/", definition, format="json").status_code == 201
    events = "/api/v1/storage/events/"
    now = api_client.post(events, {"at": "2026-12-05T10:00:00Z"}, format="json").json()
    future = api_client.post(events, {"at": "2999-01-15T10:00:00Z"}, format="json").json()
    ready = "/api/v1/factory/ready_status/events/"
    assert api_client.get(ready).json()["partitions"]["default_rows"] == 1

    version = StorageDefinition.objects.get(name="events").versions.get(number=1)
    added = partitions_maintain(
        version=version, now=datetime.datetime(2999, 1, 2, tzinfo=datetime.UTC)
    )

    assert len(added) == 4
    assert api_client.get(ready).json()["partitions"]["default_rows"] == 0
    assert api_client.get(f"{events}{future['id']}/").json() == future
    assert api_client.get(f"{events}{now['id']}/").json() == now
    with connection.cursor() as cursor:  # each new partition is distributed too
        cursor.execute(
            "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'ds_events_p%%'"
        )
        assert cursor.fetchone()[0] >= 4 + 1


def test_the_workers_lock_timeout_reaches_the_shards(api_client, tags):
    """An ALTER of a distributed table waits on the workers' locks: the schema-change
    worker's lock_timeout must hold there too (set_config alone never reaches them)."""
    api_client.post(TAGS, [{"tag": f"t{n}", "name": "x"} for n in range(8)], format="json")

    with ddl.short_lock_transaction(), connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT current_setting('lock_timeout') FROM {table_name('tags')}")
        on_the_shards = cursor.fetchall()

    assert on_the_shards == [(ddl.LOCK_TIMEOUT,)]


def test_the_partition_workers_lock_timeout_reaches_the_shards(api_client):
    """ATTACH and DETACH of a distributed partitioned table wait on the workers' locks too,
    with every writer of the storage queued behind them."""
    definition = {
        "name": "events",
        "fields": [{"name": "at", "type": "datetime", "required": True}],
        "partition": {"field": "at", "interval": "month"},
        "distribution": {"shards": 2},
    }
    assert api_client.post("/api/v1/factory/storage/", definition, format="json").status_code == 201
    api_client.post("/api/v1/storage/events/", {"at": "2001-01-01T00:00:00Z"}, format="json")

    with partitions._short_locks(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT current_setting('lock_timeout') FROM {table_name('events')}"
        )
        on_the_shards = cursor.fetchall()

    assert on_the_shards == [(partitions.LOCK_TIMEOUT,)]


def test_a_read_by_key_checks_the_token_it_reads_alongside(api_client, tags, client):
    """The front door reads a distributed storage's record in the token's round trip, by a
    statement of its own (access.selectors.token_lookup): the token still decides."""
    assert api_client.post(TAGS, {"tag": "a", "name": "A"}, format="json").status_code == 201
    assert api_client.get(f"{TAGS}a/").status_code == 200  # this process now guesses
    reader = token_issue(name="r", grants=[{"storage": "tags", "access": ["read"]}])
    other = token_issue(name="o")  # no grant on this storage

    def get(path: str, secret: str):
        return client.get(path, HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert get(f"{TAGS}a/", reader.secret).json()["name"] == "A"
    assert get(f"{TAGS}zz/", reader.secret).status_code == 404
    assert get(f"{TAGS}a/", other.secret).status_code in (403, 404)
    token_revoke(token_id=reader.token.id)
    assert get(f"{TAGS}a/", reader.secret).status_code == 401


def test_a_proved_bound_serves_for_a_moment_and_holds_newer_writes_back(
    api_client, tags, monkeypatch
):
    """Proving the bound asks every worker (a connection to each): a proof serves this
    process's feed reads for PROOF_SECONDS, never letting a read pass a change."""
    from storage.sql import changes

    monkeypatch.setattr(changes, "PROOF_SECONDS", 3600)
    monkeypatch.setattr(changes, "_proof", None)
    start = api_client.get(f"{TAGS}changes/").json()["next"]  # proves the bound
    assert api_client.post(TAGS, {"tag": "late", "name": "L"}, format="json").status_code == 201

    held = api_client.get(start).json()
    monkeypatch.setattr(changes, "PROOF_SECONDS", 0)
    seen = api_client.get(held["next"]).json()

    assert held["results"] == []  # behind the proof: not yet, and the cursor stays
    assert [entry["tag"] for entry in seen["results"]] == ["late"]
