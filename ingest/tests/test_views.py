"""POST /api/v1/ingest/: events in (one, an array, or streamed NDJSON), routed to every
storage whose source matches, validated, and written (a duplicate rejects its event alone)."""

from __future__ import annotations

import datetime
import io
from typing import Any
from unittest import mock

import orjson
import pytest

from access.services import token_issue
from core.errors import PayloadTooLarge
from core.testing import storage_db
from factory.models import StorageDefinition
from factory.services.migrations import migration_run
from ingest.parsers import iter_ndjson
from ingest.tests.animals import DOGS, cat, cow, definition, dog
from storage.runtime import runtime_for

pytestmark = storage_db

URL = "/api/v1/ingest/"
PROBLEM = "application/problem+json"
NDJSON = "application/x-ndjson"
DUPLICATE_NAME = {"non_field_errors": ["Another record already has the same name."]}


def post(client, body: Any):
    return client.post(URL, body, format="json")


def post_ndjson(client, body: bytes):
    return client.generic("POST", URL, body, content_type=NDJSON)


def ndjson(*events: Any) -> bytes:
    return b"".join(orjson.dumps(event) + b"\n" for event in events)


def rows(name: str) -> list[dict[str, Any]]:
    """Every record of a storage, in key order, without the system columns."""
    runtime = runtime_for(name)
    names = [spec["name"] for spec in runtime.definition["fields"]]
    return list(runtime.model.objects.order_by("pk").values(*names))


def counts() -> dict[str, int]:
    return {name: runtime_for(name).model.objects.count() for name in ("cats", "dogs")}


def report(events: int, unmatched: int, **storages: tuple[int, list]) -> dict[str, Any]:
    return {
        "events": events,
        "unmatched": unmatched,
        "storages": {
            name: {
                "written": written,
                "updated": 0,
                "unchanged": 0,
                "skipped": 0,
                "stale": 0,
                "deleted": 0,
                "rejected": rejected,
            }
            for name, (written, rejected) in storages.items()
        },
    }


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": code, "title": title, "status": status, "detail": detail, **extra}


def client_with(grants: list[dict[str, Any]]):
    from rest_framework.test import APIClient

    client = APIClient()
    secret = token_issue(name="producer", grants=grants).secret
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


MAY_2 = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC)


# --- one event, an array, NDJSON -------------------------------------------------------------


def test_one_event_is_projected_into_the_storage_it_matches(api_client, animals):
    response = post(api_client, dog("Rex"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == report(1, 0, dogs=(1, []))
    assert rows("dogs") == [
        {"name": "Rex", "age": 3, "breed": "beagle", "registered_at": MAY_2},
    ]
    assert rows("cats") == []


def test_a_json_array_routes_each_event_to_the_storages_it_matches(api_client, animals):
    events = [dog("Rex"), cat("Tom"), cow("Daisy"), dog("Fido", 7), cat("Kitty", 4, False)]

    response = post(api_client, events)

    assert response.status_code == 200
    assert response.json() == report(5, 1, cats=(2, []), dogs=(2, []))
    assert [row["name"] for row in rows("dogs")] == ["Rex", "Fido"]
    assert rows("cats") == [
        {"name": "Tom", "age": 2, "indoor": True},
        {"name": "Kitty", "age": 4, "indoor": False},
    ]


def test_records_hold_exactly_the_declared_attributes(api_client, animals):
    post(api_client, [dog("Rex"), cat("Tom")])

    listed = api_client.get("/api/v1/storage/dogs/").json()["results"]
    assert [{k: v for k, v in record.items() if not k.startswith("_")} for record in listed] == [
        {
            "id": listed[0]["id"],
            "name": "Rex",
            "age": 3,
            "breed": "beagle",
            "registered_at": "2024-05-01T12:00:00Z",
        }
    ]
    assert set(listed[0]) == {"id", "name", "age", "breed", "registered_at"} | {
        "_version",
        "_created_at",
        "_updated_at",
    }


def test_missing_paths_leave_fields_to_their_defaults(api_client, animals):
    no_age = dog("Rex")
    del no_age["animal"]["age_years"], no_age["animal"]["details"]
    no_indoor = cat("Tom")
    del no_indoor["animal"]["indoor"]

    response = post(api_client, [no_age, no_indoor])

    assert response.json() == report(2, 0, cats=(1, []), dogs=(1, []))
    assert rows("dogs") == [{"name": "Rex", "age": 0, "breed": None, "registered_at": MAY_2}]
    assert rows("cats") == [{"name": "Tom", "age": 2, "indoor": False}]


def test_an_event_may_feed_several_storages(api_client, animals, create_storage):
    create_storage(
        {
            "name": "registry",
            "fields": [{"name": "name", "type": "text"}, {"name": "species", "type": "text"}],
            "source": {
                "match": {"path": "/animal/species", "in": ["dog", "cat"]},
                "map": {"name": "/animal/name", "species": "/animal/species"},
            },
        }
    )

    response = post(api_client, [dog("Rex"), cat("Tom"), cow("Daisy")])

    assert response.json() == report(3, 1, cats=(1, []), dogs=(1, []), registry=(2, []))
    assert rows("registry") == [
        {"name": "Rex", "species": "dog"},
        {"name": "Tom", "species": "cat"},
    ]
    assert counts() == {"cats": 1, "dogs": 1}


def test_events_that_match_nothing_are_only_counted(api_client, animals):
    deleted_dog = dog("Ghost", deleted=True)
    deleted_but_null = dog("Shade", deleted=None)  # present, so not "absent"

    response = post(api_client, [cow("Daisy"), deleted_dog, deleted_but_null, {}, [], "dog", 7])

    assert response.status_code == 200
    assert response.json() == report(7, 7)
    assert counts() == {"cats": 0, "dogs": 0}


def test_an_empty_array_is_zero_events(api_client, animals):
    response = post(api_client, [])

    assert response.status_code == 200
    assert response.json() == report(0, 0)


@pytest.mark.parametrize("body", [b'"dog"', b"7", b"null", b"true"])
def test_a_json_scalar_is_one_event_that_matches_nothing(api_client, animals, body):
    response = api_client.post(URL, body, content_type="application/json")

    assert response.status_code == 200
    assert response.json() == report(1, 1)


def test_an_empty_body_answers_400(api_client, animals):
    for content_type in ("application/json", NDJSON):
        response = api_client.generic("POST", URL, b"", content_type=content_type)

        assert response.status_code == 400
        assert response.json() == problem(
            400,
            "malformed-request",
            "Malformed request",
            "The request body is empty; send an event, a JSON array of events or NDJSON.",
        )


def test_malformed_json_answers_400(api_client, animals):
    response = api_client.post(URL, b'{"animal": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["type"] == "malformed-request"
    assert response.json()["detail"].startswith("Malformed JSON: ")


def test_another_content_type_answers_415(api_client, animals):
    response = api_client.post(URL, b"species=dog", content_type="text/plain")

    assert response.status_code == 415
    assert response.json() == problem(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        'Unsupported media type "text/plain" in request.',
    )


def test_ndjson_is_read_event_by_event(api_client, animals):
    body = b"\n".join(
        [
            orjson.dumps(dog("Rex")),
            b"",
            orjson.dumps(cat("Tom")),
            b"   ",
            b"\t\r",
            orjson.dumps(cow("Daisy")) + b"\r",  # CRLF line ends
            orjson.dumps(dog("Fido")),  # the last line has no newline
        ]
    )

    response = post_ndjson(api_client, body)

    assert response.status_code == 200
    assert response.json() == report(4, 1, cats=(1, []), dogs=(2, []))
    assert [row["name"] for row in rows("dogs")] == ["Rex", "Fido"]


def test_ndjson_with_only_blank_lines_is_zero_events(api_client, animals):
    response = post_ndjson(api_client, b"\n\n  \n")

    assert response.status_code == 200
    assert response.json() == report(0, 0)


def test_ndjson_bodies_are_not_held_to_the_total_body_cap(api_client, animals, settings):
    settings.MAX_REQUEST_BYTES = 1000
    body = ndjson(*(dog(f"dog-{i}") for i in range(50)))
    assert len(body) > 10 * settings.MAX_REQUEST_BYTES

    response = post_ndjson(api_client, body)

    assert response.status_code == 200
    assert response.json() == report(50, 0, dogs=(50, []))


def test_json_bodies_stay_under_the_total_body_cap(api_client, animals, settings):
    settings.MAX_REQUEST_BYTES = 1000
    body = orjson.dumps([dog(f"dog-{i}") for i in range(20)])

    response = api_client.post(URL, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == problem(
        413,
        "payload-too-large",
        "Payload too large",
        "The request body exceeds the limit of 1000 bytes.",
    )
    assert counts() == {"cats": 0, "dogs": 0}


def test_an_ndjson_line_over_max_event_bytes_answers_413_and_writes_nothing(
    api_client, animals, settings
):
    settings.MAX_EVENT_BYTES = 600
    small = orjson.dumps(dog("Rex"))
    big = orjson.dumps({**dog("Big"), "padding": "x" * 600})
    assert len(small) < 600 < len(big)
    body = b"\n".join([small, orjson.dumps(cat("Tom")), b"", big, small])

    response = post_ndjson(api_client, body)

    assert response.status_code == 413
    assert response.json() == problem(
        413, "payload-too-large", "Payload too large", "Line 4 is longer than 600 bytes."
    )
    assert counts() == {"cats": 0, "dogs": 0}


def test_a_line_of_exactly_max_event_bytes_is_accepted(settings):
    settings.MAX_EVENT_BYTES = 64
    padding = "x" * (64 - len(orjson.dumps({"padding": ""})))
    line = orjson.dumps({"padding": padding})
    assert len(line) == 64

    assert list(iter_ndjson(io.BytesIO(line + b"\n" + line))) == [{"padding": padding}] * 2
    with pytest.raises(PayloadTooLarge, match="Line 1 is longer than 64 bytes"):
        list(iter_ndjson(io.BytesIO(line + b"x\n")))
    with pytest.raises(PayloadTooLarge, match="Line 2 is longer than 64 bytes"):
        list(iter_ndjson(io.BytesIO(line + b"\n" + line + b"x")))


@pytest.mark.parametrize("block", [1, 7, 64, 65, 4096])
def test_lines_are_found_across_read_blocks(settings, monkeypatch, block):
    monkeypatch.setattr("ingest.parsers.READ_BLOCK", block)
    settings.MAX_EVENT_BYTES = 100
    events = [{"n": i, "text": "y" * (i * 7)} for i in range(10)]
    body = b"\n\n".join(orjson.dumps(event) for event in events) + b"\n\r\n  "

    assert list(iter_ndjson(io.BytesIO(body))) == events


def test_a_long_line_is_refused_before_it_is_read_whole(settings):
    settings.MAX_EVENT_BYTES = 1000
    body = io.BytesIO(b"[" + b"1," * 10_000_000)

    with pytest.raises(PayloadTooLarge, match="Line 1 is longer than 1000 bytes"):
        list(iter_ndjson(body))
    assert body.tell() <= 1000 + 2 * 64 * 1024


def test_a_bad_json_line_answers_400_naming_the_line_and_writes_nothing(api_client, animals):
    body = (
        ndjson(dog("Rex"), cat("Tom"))
        + b"\n"
        + b'{"animal": {"species": "dog"\n'
        + ndjson(dog("Fido"))
    )

    response = post_ndjson(api_client, body)

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json() == problem(400, "malformed-request", "Malformed request", mock.ANY)
    assert response.json()["detail"].startswith("Line 4 is not valid JSON: ")
    assert counts() == {"cats": 0, "dogs": 0}


@pytest.mark.parametrize("line", [b"NaN", b'{"a": Infinity}', b"{'a': 1}", b"[1, 2"])
def test_lines_that_are_not_strict_json_are_refused(api_client, animals, line):
    response = post_ndjson(api_client, ndjson(dog("Rex")) + line + b"\n")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("Line 2 is not valid JSON: ")
    assert counts() == {"cats": 0, "dogs": 0}


# --- the report: written and rejected --------------------------------------------------------


def test_invalid_events_are_rejected_with_their_index_and_reasons(api_client, animals):
    old = dog("Old", 41)
    unnamed = dog(None)
    unregistered = dog("Nobody")
    del unregistered["meta"]
    typed = cat("Tom", "two", indoor="yes")

    response = post(api_client, [dog("Rex"), old, cow("Daisy"), unnamed, typed, unregistered])

    assert response.status_code == 200
    assert response.json() == report(
        6,
        1,
        cats=(
            0,
            [
                {
                    "event": 4,
                    "errors": {
                        "age": ["Must be an integer (a JSON number without a fraction)."],
                        "indoor": ["Must be true or false."],
                    },
                }
            ],
        ),
        dogs=(
            1,
            [
                {"event": 1, "errors": {"age": ["Ensure this value is less than or equal to 40."]}},
                {"event": 3, "errors": {"name": ["This field may not be null."]}},
                {"event": 5, "errors": {"registered_at": ["This field is required."]}},
            ],
        ),
    )
    assert rows("dogs") == [{"name": "Rex", "age": 3, "breed": "beagle", "registered_at": MAY_2}]
    assert rows("cats") == []


def test_a_duplicate_rejects_that_event_alone(api_client, animals):
    events = [dog("Rex"), cat("Tom"), dog("Fido"), dog("Rex", 5), cat("Kitty"), dog("Old", 41)]

    response = post(api_client, events)

    assert response.status_code == 200
    assert response.json() == report(
        6,
        0,
        cats=(2, []),
        dogs=(
            2,
            [
                {"event": 3, "errors": DUPLICATE_NAME},
                {"event": 5, "errors": {"age": ["Ensure this value is less than or equal to 40."]}},
            ],
        ),
    )
    assert counts() == {"cats": 2, "dogs": 2}


def test_a_clash_with_a_stored_record_rejects_that_event_and_keeps_the_stored_one(
    api_client, animals
):
    post(api_client, dog("Rex", 9))

    response = post(api_client, [dog("Fido"), dog("Rex"), cat("Tom")])

    assert response.json() == report(
        3, 0, cats=(1, []), dogs=(1, [{"event": 1, "errors": DUPLICATE_NAME}])
    )
    assert rows("dogs") == [
        {"name": "Rex", "age": 9, "breed": "beagle", "registered_at": MAY_2},
        {"name": "Fido", "age": 3, "breed": "beagle", "registered_at": MAY_2},
    ]


# --- permissions -----------------------------------------------------------------------------


def test_anonymous_answers_401(anonymous_client, animals):
    response = post(anonymous_client, dog("Rex"))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="datastorage"'
    assert response.json() == problem(
        401,
        "not-authenticated",
        "Authentication required",
        "Authentication credentials were not provided.",
    )
    assert counts() == {"cats": 0, "dogs": 0}


def test_a_token_with_write_on_every_matched_storage_may_ingest(animals):
    client = client_with(
        [{"storage": "dogs", "access": ["write"]}, {"storage": "cats", "access": ["write"]}]
    )

    response = post(client, [dog("Rex"), cat("Tom")])

    assert response.status_code == 200
    assert response.json() == report(2, 0, cats=(1, []), dogs=(1, []))
    assert counts() == {"cats": 1, "dogs": 1}


@pytest.mark.parametrize(
    "cats_access", [[], ["read"], ["read", "manage"]], ids=["no-grant", "read", "read-manage"]
)
def test_a_storage_the_token_may_not_write_is_skipped_and_not_named(animals, cats_access):
    grants = [{"storage": "dogs", "access": ["read", "write"]}]
    if cats_access:
        grants.append({"storage": "cats", "access": cats_access})
    client = client_with(grants)

    response = post(client, [dog("Rex"), dog("Fido"), cat("Tom"), dog("Spot")])

    assert response.status_code == 200
    # The cat matched only a storage this token may not write: counted as unmatched.
    assert response.json() == report(4, 1, dogs=(3, []))
    assert counts() == {"cats": 0, "dogs": 3}


def test_a_skipped_match_at_the_end_of_a_stream_writes_the_rest(animals):
    client = client_with([{"storage": "dogs", "access": ["write"]}])
    body = ndjson(*(dog(f"dog-{i}") for i in range(50)), cat("Tom"))

    response = post_ndjson(client, body)

    assert response.status_code == 200
    assert response.json() == report(51, 1, dogs=(50, []))
    assert counts() == {"cats": 0, "dogs": 50}


def test_a_token_needs_write_only_where_events_match(animals):
    client = client_with([{"storage": "dogs", "access": ["write"]}])

    response = post(client, [dog("Rex"), cow("Daisy")])

    assert response.status_code == 200
    assert response.json() == report(2, 1, dogs=(1, []))


def test_a_token_without_grants_may_send_events_that_match_nothing(animals):
    response = post(client_with([]), [cow("Daisy"), dog("Ghost", deleted=True)])

    assert response.status_code == 200
    assert response.json() == report(2, 2)


def test_a_revoked_token_answers_401(animals):
    client = client_with([])
    from access.models import ApiToken
    from access.services import token_revoke

    token_revoke(token_id=ApiToken.objects.get(name="producer").pk)

    response = post(client, dog("Rex"))

    assert response.status_code == 401
    assert counts() == {"cats": 0, "dogs": 0}


# --- limits ----------------------------------------------------------------------------------


def test_more_events_than_max_ingest_events_answers_413_and_writes_nothing(
    api_client, animals, settings
):
    settings.MAX_INGEST_EVENTS = 3
    four = [dog("Rex"), cat("Tom"), cow("Daisy"), dog("Fido")]
    expected = problem(
        413, "payload-too-large", "Payload too large", "An ingest request takes at most 3 events."
    )

    as_array = post(api_client, four)
    as_ndjson = post_ndjson(api_client, ndjson(*four))

    assert (as_array.status_code, as_array.json()) == (413, expected)
    assert (as_ndjson.status_code, as_ndjson.json()) == (413, expected)
    assert counts() == {"cats": 0, "dogs": 0}


def test_exactly_max_ingest_events_is_accepted(api_client, animals, settings):
    settings.MAX_INGEST_EVENTS = 3

    response = post_ndjson(api_client, ndjson(dog("Rex"), cat("Tom"), cow("Daisy")) + b"\n\n")

    assert response.status_code == 200
    assert response.json() == report(3, 1, cats=(1, []), dogs=(1, []))


# --- which storages are fed ------------------------------------------------------------------


def test_storages_without_a_source_are_never_fed(api_client, animals, create_storage):
    plain = definition(DOGS, name="plain_dogs")
    del plain["source"]
    create_storage(plain)

    response = post(api_client, [dog("Rex"), cat("Tom")])

    assert response.json() == report(2, 0, cats=(1, []), dogs=(1, []))
    assert runtime_for("plain_dogs").model.objects.count() == 0


def test_only_the_serving_versions_source_is_used(api_client, animals):
    # v2 adds a field (DDL: pending until the worker applies it) and turns dogs into puppies.
    v2 = definition(DOGS)
    v2["fields"].append({"name": "colour", "type": "text"})
    v2["source"]["match"]["all"].append({"path": "/animal/age_years", "lt": 2})
    v2["source"]["map"]["colour"] = "/animal/details/colour"
    with mock.patch("factory.services.versions.enqueue_migration"):
        put = api_client.put(
            "/api/v1/factory/storage/dogs/", v2, format="json", HTTP_IF_MATCH='"1"'
        )
    assert (put.status_code, put.json()["status"]) == (202, "pending")

    while_pending = post(api_client, [dog("Rex", 5), dog("Pup", 1)])

    assert while_pending.json() == report(2, 0, dogs=(2, []))
    storage = StorageDefinition.objects.get(name="dogs")
    migration_run(storage_id=storage.id, number=2)

    once_ready = post(api_client, [dog("Max", 5), dog("Bit", 1)])

    assert once_ready.json() == report(2, 1, dogs=(1, []))
    assert [(row["name"], row["colour"]) for row in rows("dogs")] == [
        ("Rex", None),
        ("Pup", None),
        ("Bit", "brown"),
    ]


def test_a_source_change_without_ddl_is_routed_at_once(api_client, animals):
    v2 = definition(DOGS)
    v2["source"]["match"] = {"path": "/animal/species", "in": ["dog", "wolf"]}
    put = api_client.put("/api/v1/factory/storage/dogs/", v2, format="json", HTTP_IF_MATCH='"1"')
    assert (put.status_code, put.json()["changes"]) == (200, [{"op": "change_source"}])

    response = post(
        api_client,
        [
            {**dog("Grey"), "animal": {**dog("Grey")["animal"], "species": "wolf"}},
            dog("Ghost", deleted=True),
        ],
    )

    assert response.json() == report(2, 0, dogs=(2, []))


def test_removing_the_source_stops_the_feed(api_client, animals):
    v2 = definition(DOGS)
    del v2["source"]
    api_client.put("/api/v1/factory/storage/dogs/", v2, format="json", HTTP_IF_MATCH='"1"')

    response = post(api_client, [dog("Rex"), cat("Tom")])

    assert response.json() == report(2, 1, cats=(1, []))
    assert counts() == {"cats": 1, "dogs": 0}


def test_a_deleted_storage_is_no_longer_fed(api_client, animals):
    api_client.delete("/api/v1/factory/storage/cats/", HTTP_IF_MATCH='"1"')

    response = post(api_client, [dog("Rex"), cat("Tom")])

    assert response.status_code == 200
    assert response.json() == report(2, 1, dogs=(1, []))


# --- Idempotency-Key ----------------------------------------------------------------------


def test_a_retried_ingest_with_the_same_key_is_applied_once(api_client, animals):
    body = ndjson(dog(name="Rex"), cat(name="Tom"), cow(name="Daisy"))
    first = api_client.generic(
        "POST", URL, body, content_type=NDJSON, HTTP_IDEMPOTENCY_KEY="batch-1"
    )

    again = api_client.generic(
        "POST", URL, body, content_type=NDJSON, HTTP_IDEMPOTENCY_KEY="batch-1"
    )

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() == report(3, 1, cats=(1, []), dogs=(1, []))
    assert again["Idempotent-Replayed"] == "true"
    assert counts() == {"cats": 1, "dogs": 1}


def test_the_same_key_with_other_events_answers_409_and_writes_nothing(api_client, animals):
    api_client.post(URL, [dog(name="Rex")], format="json", HTTP_IDEMPOTENCY_KEY="k")

    response = api_client.post(URL, [dog(name="Max")], format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"] == "idempotency-key-reused"
    assert counts() == {"cats": 0, "dogs": 1}


def test_a_json_body_and_its_ndjson_twin_share_a_key(api_client, animals):
    """The key is bound to the events, not to their wire format."""
    events = [dog(name="Rex")]
    api_client.post(URL, events, format="json", HTTP_IDEMPOTENCY_KEY="same")

    again = api_client.generic(
        "POST", URL, ndjson(*events), content_type=NDJSON, HTTP_IDEMPOTENCY_KEY="same"
    )

    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert counts() == {"cats": 0, "dogs": 1}
