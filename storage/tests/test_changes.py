"""The change feed (GET /api/v1/storage/{name}/changes/): order, tombstones, cursors, 304,
410, 503, grants, long-polls and schema changes. The many-writers run is in
test_changes_concurrency.py."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from access.services import token_issue
from factory.models import FeedStatus, FeedTombstone, StorageDefinition
from factory.services.feeds import feeds_install_pending, tombstones_prune
from factory.tests.factories import dogs_definition
from storage.runtime import clear_runtimes, runtime_for

# Positions come from committed transactions: every test commits (on PostgreSQL the
# usual rolled-back test transaction would keep them all above the feed's bound).
pytestmark = pytest.mark.django_db(transaction=True)

DOGS = "/api/v1/storage/dogs/"
FEED = f"{DOGS}changes/"
REGISTERED = "2024-05-01T12:00:00Z"


def follow(client: Any, url: str = FEED, **params: Any) -> tuple[list[dict], str]:
    """Every entry from `url` on, page by page, and the cursor URL to come back with."""
    entries: list[dict] = []
    while True:
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        page = response.json()
        entries += page["results"]
        url, params = page["next"], {}
        if not page["results"]:
            return entries, url


def apply(copy: dict[Any, dict], entries: list[dict], key: str = "id") -> dict[Any, dict]:
    """What a consumer does with the entries: keep each record's latest state."""
    for entry in entries:
        if entry.get("_deleted"):
            copy.pop(entry[key], None)
        else:
            copy[entry[key]] = {k: v for k, v in entry.items() if k != "_position"}
    return copy


def table(client: Any) -> dict[Any, dict]:
    rows = client.get(DOGS, {"limit": 1000}).json()["results"]
    return {row["id"]: row for row in rows}


def dog(client: Any, name: str, **fields: Any) -> dict:
    response = client.post(
        DOGS, {"name": name, "registered_at": REGISTERED, **fields}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_the_feed_shows_each_record_once_at_its_latest_change_and_every_deletion(api_client, dogs):
    rex, ida, max_ = (dog(api_client, name) for name in ("Rex", "Ida", "Max"))
    patched = api_client.patch(
        f"{DOGS}{rex['id']}/", {"age": 4}, format="json", HTTP_IF_MATCH=f'"{rex["_version"]}"'
    )
    assert api_client.delete(f"{DOGS}{ida['id']}/").status_code == 204

    entries, _ = follow(api_client, limit=2)

    assert [(e["id"], e.get("_deleted", False)) for e in entries] == [
        (max_["id"], False),
        (rex["id"], False),
        (ida["id"], True),
    ]
    assert entries[1]["age"] == 4
    assert entries[1]["_version"] == patched.json()["_version"]
    assert entries[2] == {
        "id": ida["id"],
        "_version": ida["_version"],
        "_deleted": True,
        "_position": entries[2]["_position"],
    }


def test_a_follower_from_any_cursor_ends_with_the_table(api_client, dogs):
    for name in ("a", "b", "c"):
        dog(api_client, name)
    copy = apply({}, follow(api_client, limit=1)[0])
    _, resume = follow(api_client)
    first = next(iter(copy))
    assert api_client.delete(f"{DOGS}{first}/").status_code == 204
    dog(api_client, "d")
    bulk = api_client.post(
        DOGS, [{"name": n, "registered_at": REGISTERED} for n in "ef"], format="json"
    )
    assert bulk.status_code == 201

    apply(copy, follow(api_client, resume)[0])

    assert copy == table(api_client)


def test_every_way_of_deleting_leaves_a_tombstone(api_client, dogs):
    kept, by_api, by_statement = (dog(api_client, name) for name in ("Kept", "Api", "Sql"))
    _, resume = follow(api_client)

    assert api_client.delete(f"{DOGS}{by_api['id']}/").status_code == 204
    # Any DELETE statement at all (deletes by filter, retention, an operator's psql).
    runtime_for("dogs").model.objects.filter(pk=by_statement["id"]).delete()

    entries, _ = follow(api_client, resume)
    assert {(e["id"], e["_deleted"]) for e in entries} == {
        (by_api["id"], True),
        (by_statement["id"], True),
    }
    assert kept["id"] in table(api_client)


def test_a_key_deleted_and_created_again_shows_once_as_the_record(api_client, create_storage):
    create_storage({"name": "tags", "primary_key": {"name": "code", "type": "text"},
                    "fields": [{"name": "label", "type": "text"}]})  # fmt: skip
    url = "/api/v1/storage/tags/"
    assert api_client.post(url, {"code": "x", "label": "one"}, format="json").status_code == 201
    assert api_client.delete(f"{url}x/").status_code == 204
    assert api_client.post(url, {"code": "x", "label": "two"}, format="json").status_code == 201

    entries, _ = follow(api_client, f"{url}changes/")

    assert [(e["code"], e.get("label"), e.get("_deleted")) for e in entries] == [("x", "two", None)]


def test_filters_select_live_records_and_tombstones_always_pass(api_client, dogs):
    lab, poodle = dog(api_client, "Lab", breed="lab"), dog(api_client, "Poo", breed="poodle")
    assert api_client.delete(f"{DOGS}{poodle['id']}/").status_code == 204

    entries, _ = follow(api_client, breed="lab", fields="name")

    assert [(e["id"], set(e) - {"_position"}) for e in entries] == [
        (lab["id"], {"id", "name", "_version"}),
        (poodle["id"], {"id", "_version", "_deleted"}),
    ]


def test_next_is_there_on_an_empty_page_and_keeps_the_place(api_client, dogs):
    response = api_client.get(FEED)
    assert response.json()["results"] == []
    waiting_at = response.json()["next"]

    created = dog(api_client, "Late")

    assert [e["id"] for e in api_client.get(waiting_at).json()["results"]] == [created["id"]]


@pytest.mark.parametrize(
    "after",
    ["", "not-a-cursor", "WzEsMiwzLG51bGxd", "WzEsMiwzLG51bGxdAAAAAAAAAAAAAAAA"],
    ids=["empty", "garbage", "unsigned", "forged-signature"],
)
def test_a_tampered_cursor_answers_400_and_reads_nothing(api_client, dogs, after):
    response = api_client.get(FEED, {"after": after})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "validation-error"


def test_a_cursor_of_another_storage_answers_400(api_client, dogs, create_storage):
    create_storage(dogs_definition(name="cats"))
    cats_cursor = api_client.get("/api/v1/storage/cats/changes/").json()["next"]

    response = api_client.get(cats_cursor.replace("/cats/", "/dogs/"))

    assert response.status_code == 400
    assert response.json()["errors"] == {"after": ["This cursor belongs to another storage."]}


@pytest.mark.parametrize("query", [{"wait": "-1"}, {"wait": "31"}, {"wait": "x"},
                                   {"limit": "0"}, {"fields": "nope"}, {"cursor": "x"},
                                   {"nosuch": "1"}, {"breed__nope": "x"}])  # fmt: skip
def test_bad_parameters_answer_400(api_client, dogs, query):
    response = api_client.get(FEED, query)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_an_unchanged_feed_answers_304_to_its_etag(api_client, dogs):
    dog(api_client, "Rex")
    first = api_client.get(FEED)
    tag = first["ETag"]

    again = api_client.get(first.json()["next"], HTTP_IF_NONE_MATCH=tag)
    dog(api_client, "Ida")
    changed = api_client.get(first.json()["next"], HTTP_IF_NONE_MATCH=tag)

    assert again.status_code == 304
    assert again["ETag"] == tag
    assert changed.status_code == 200
    assert changed["ETag"] != tag
    assert [e["name"] for e in changed.json()["results"]] == ["Ida"]


def test_a_cursor_older_than_the_pruned_tombstones_answers_410(api_client, dogs, settings):
    settings.FEED_TOMBSTONE_DAYS = 7
    old = dog(api_client, "Old")
    _, before = follow(api_client)
    assert api_client.delete(f"{DOGS}{old['id']}/").status_code == 204
    FeedTombstone.objects.update(deleted_at=timezone.now() - timedelta(days=8))

    assert tombstones_prune() == 1
    expired = api_client.get(before)
    fresh = api_client.get(api_client.get(DOGS).json()["changes"])

    assert expired.status_code == 410
    assert expired.json()["type"] == "cursor-expired"
    assert expired.json()["list"] == DOGS
    assert fresh.status_code == 200


def test_a_token_without_read_gets_403_and_a_reader_200(dogs, create_storage):
    from rest_framework.test import APIClient

    create_storage(dogs_definition(name="cats"))
    writer = token_issue(name="w", grants=[{"storage": "dogs", "access": ["write"]}])
    reader = token_issue(name="r", grants=[{"storage": "dogs", "access": ["read"]}])
    other = token_issue(name="o", grants=[{"storage": "cats", "access": ["read"]}])
    answers = {}
    for name, token in (("writer", writer), ("reader", reader), ("other", other)):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.secret}")
        answers[name] = client.get(FEED).status_code

    assert answers == {"writer": 403, "reader": 200, "other": 403}
    assert APIClient().get(FEED).status_code == 401


def test_a_table_made_before_the_feed_answers_503_until_the_worker_installed_it(api_client, dogs):
    rex = dog(api_client, "Rex")
    StorageDefinition.objects.filter(name="dogs").update(feed_status=FeedStatus.PENDING)

    waiting = api_client.get(FEED)
    assert feeds_install_pending() == ["dogs"]
    served = follow(api_client)[0]

    assert waiting.status_code == 503
    assert waiting.json()["type"] == "feed-not-ready"
    assert waiting["Retry-After"]
    assert [e["id"] for e in served] == [rex["id"]]


def test_a_cursor_taken_before_a_schema_change_keeps_working(api_client, dogs):
    rex = dog(api_client, "Rex")
    _, resume = follow(api_client)
    definition = dogs_definition()
    definition["fields"].append({"name": "color", "type": "text", "default": "brown"})
    declared = api_client.put("/api/v1/factory/storage/dogs/", definition, format="json",
                              HTTP_IF_MATCH='"1"')  # fmt: skip
    assert declared.status_code in (200, 202), declared.content
    clear_runtimes()
    patched = api_client.patch(f"{DOGS}{rex['id']}/", {"color": "black"}, format="json",
                               HTTP_IF_MATCH=f'"{rex["_version"]}"')  # fmt: skip
    assert patched.status_code == 200, patched.content

    entries, _ = follow(api_client, resume)

    assert [(e["id"], e["color"]) for e in entries] == [(rex["id"], "black")]


# --- long-polls ---------------------------------------------------------------------------


def _poll_in_thread(client: Any, url: str, **params: Any) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def poll() -> None:
        started = time.monotonic()
        result["response"] = client.get(url, params)
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=poll)
    thread.start()
    return thread, result


def test_a_long_poll_with_nothing_new_waits_its_time_and_answers_an_empty_page(api_client, dogs):
    started = time.monotonic()
    response = api_client.get(FEED, {"wait": 1})

    assert response.status_code == 200
    assert response.json()["results"] == []
    assert time.monotonic() - started >= 1


def test_a_long_poll_wakes_on_a_write(api_client, dogs):
    _, resume = follow(api_client)
    thread, result = _poll_in_thread(api_client, resume, wait=20)
    time.sleep(0.5)

    dog(api_client, "Woken")
    thread.join(timeout=25)

    assert [e["name"] for e in result["response"].json()["results"]] == ["Woken"]
    assert result["seconds"] < 15


@pytest.mark.postgresql
def test_a_long_poll_wakes_on_a_write_from_another_process(api_client, dogs):
    _, resume = follow(api_client)
    thread, result = _poll_in_thread(api_client, resume, wait=20)
    time.sleep(0.5)

    # Another process, another connection: only NOTIFY (or the next poll) can tell.
    params = connection.get_connection_params()
    script = (
        "import psycopg, sys; c = psycopg.connect(dbname=sys.argv[1], user=sys.argv[2], "
        "password=sys.argv[3], host=sys.argv[4], port=sys.argv[5], autocommit=True); "
        'c.execute("INSERT INTO ds_dogs (name, age, vaccinated, registered_at, _created_at, '
        "_updated_at) VALUES ('Remote', 0, false, now(), now(), now())\")"
    )
    subprocess.run(
        [sys.executable, "-c", script, params["dbname"], params.get("user", ""),
         params.get("password", ""), params.get("host", ""), str(params.get("port", ""))],
        check=True, env=os.environ,
    )  # fmt: skip
    thread.join(timeout=25)

    assert [e["name"] for e in result["response"].json()["results"]] == ["Remote"]
    assert result["seconds"] < 15


def test_waiters_beyond_the_bound_answer_503_with_retry_after(api_client, dogs, settings):
    settings.FEED_MAX_WAITERS = 1
    _, resume = follow(api_client)
    thread, _ = _poll_in_thread(api_client, resume, wait=3)
    time.sleep(0.5)

    refused = api_client.get(resume, {"wait": 3})
    thread.join(timeout=10)

    assert refused.status_code == 503
    assert refused.json()["type"] == "server-busy"
    assert refused["Retry-After"] == "1"


# --- the ways of writing of upserts and by-filter requests ---------------------------------


def test_deletes_by_filter_at_once_and_as_a_job_leave_tombstones(api_client, dogs, settings):
    labs = [dog(api_client, f"Lab{n}", breed="lab") for n in range(5)]
    kept = dog(api_client, "Pug", breed="pug")
    _, resume = follow(api_client)

    at_once = api_client.delete(f"{DOGS}?breed=lab&name__in=Lab0,Lab1")
    settings.MAX_BULK_ITEMS = 2  # the three others: a job, run by the worker (inline here)
    job = api_client.delete(f"{DOGS}?breed=lab")

    assert (at_once.status_code, job.status_code) == (200, 202)
    entries, _ = follow(api_client, resume)
    assert sorted((e["id"], e.get("_deleted")) for e in entries) == [
        (lab["id"], True) for lab in labs
    ]
    assert list(table(api_client)) == [kept["id"]]


def test_an_unchanged_upsert_and_update_by_filter_add_no_entry_a_changed_one_does(api_client, dogs):
    rex = dog(api_client, "Rex", breed="lab", age=3, born="2020-01-01")
    _, resume = follow(api_client)
    merge = {"HTTP_PREFER": "resolution=merge-duplicates"}
    same = {"name": "Rex", "registered_at": REGISTERED, "breed": "lab", "age": 3}
    same["born"] = "2020-01-01"

    unchanged = api_client.post(f"{DOGS}?on_conflict=name,born", same, format="json", **merge)
    untouched = api_client.patch(f"{DOGS}?breed=lab", {"age": 3}, format="json")
    nothing, resume = follow(api_client, resume)
    changed = api_client.post(
        f"{DOGS}?on_conflict=name,born", {**same, "age": 4}, format="json", **merge
    )
    moved, _ = follow(api_client, resume)

    assert unchanged.json()["_op"] == "unchanged"
    assert untouched.status_code == 200
    assert nothing == []
    assert changed.json()["_op"] == "updated"
    assert [(e["id"], e["age"]) for e in moved] == [(rex["id"], 4)]
