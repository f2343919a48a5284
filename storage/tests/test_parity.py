"""The records API's two adapters give the same answers: the front door (storage.frontdoor)
and the DRF viewset (storage.views), both around the records operations (storage.records).

Every records-API test of the suite sends its requests through the front door first (the
test client does, see conftest.py), and again with it closed (RECORDS_FAST_PATH=0, make
test-sqlite-slowpath). Here the same requests go both ways, each on a fresh `dogs`
storage, and the answers are compared whole: status, body and every header (but the
request id, fresh each time), for every method, successes and errors alike. Then what the
front door must not do: run a statement twice, or answer 500 on a stale guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.client import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from access.services import token_issue
from factory.services.storages import storage_create, storage_delete
from factory.services.versions import version_declare
from factory.tests.factories import dogs_definition
from storage.runtime import clear_runtimes, last_served, runtime_for

URL = "/api/v1/storage/dogs/"
REX = {"name": "Rex", "breed": "lab", "age": 3, "registered_at": "2024-05-01T12:00:00Z"}
# A fresh id per request on both paths; the body's length, which changing values (times,
# versions) change: checked against the body, which is compared.
GENERATED = ("X-Request-ID", "Content-Length")
CHANGING = ("_created_at", "_updated_at")


def _client(secret: str | None, **headers: str) -> APIClient:
    client = APIClient()
    if secret is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}", **headers)
    return client


def _scenario(admin: APIClient, reader: APIClient, anonymous: APIClient) -> list[Any]:
    """Successes and refusals of every kind, in one story."""
    one = f"{URL}1/"
    return [
        admin.post(URL, REX, format="json"),
        admin.post(URL, {**REX, "name": "Ida", "born": "2020-02-02"}, format="json"),
        admin.post(URL, {**REX, "age": 99}, format="json"),  # 400
        admin.post(URL, {**REX, "name": "Ida", "born": "2020-02-02"}, format="json"),  # 409
        admin.post(URL, b"[1", content_type="application/json"),  # malformed
        admin.post(URL, b"{}", content_type="text/plain"),  # 415
        admin.generic("POST", URL, b"", content_type="application/json"),  # empty
        admin.get(one),
        admin.get(f"{URL}999/"),
        admin.get(f"{URL}abc/"),
        admin.get(f"{URL}?breed=lab&limit=1"),
        admin.get(f"{URL}?breed=lab&limit=1&ordering=-age"),
        admin.get(f"{URL}?limit=zero"),
        admin.get(f"{URL}?colour=red"),
        admin.get(f"{URL}?count=exact&fields=name"),
        admin.patch(one, {"age": 4}, format="json", HTTP_IF_MATCH='"1"'),
        admin.patch(one, {"age": 5}, format="json", HTTP_IF_MATCH='"1"'),  # 412
        admin.patch(one, {"age": 5}, format="json"),  # 428
        admin.patch(one, {"age": "old"}, format="json", HTTP_IF_MATCH='"2"'),  # 400
        admin.patch(f"{URL}999/", {"age": 5}, format="json", HTTP_IF_MATCH='"1"'),  # 404
        admin.patch(one, {"name": "Ida", "born": "2020-02-02"}, format="json", HTTP_IF_MATCH="*"),
        admin.put(one, {**REX, "age": 7}, format="json", HTTP_IF_MATCH=_etag(admin, one)),
        admin.put(one, {"name": "Rex"}, format="json", HTTP_IF_MATCH='"3"'),  # 400: required
        admin.patch(one, {"age": 8, "_version": _version(admin, one)}, format="json"),
        admin.patch(one, {"age": 9, "_version": -1}, format="json"),  # 412, not a wildcard
        admin.get(one),
        reader.get(one),
        reader.post(URL, REX, format="json"),  # 403: read only
        reader.patch(one, {"age": 1}, format="json", HTTP_IF_MATCH='"4"'),  # 403
        anonymous.patch(one, {"age": 1}, format="json", HTTP_IF_MATCH='"4"'),  # 401
        _client("dst_not-a-token").put(one, REX, format="json", HTTP_IF_MATCH='"4"'),  # 401
        anonymous.get(one),  # 401
        _client("dst_not-a-token").get(one),  # 401
        admin.get(f"{URL}1/", HTTP_ACCEPT="application/xml"),  # 406
        admin.get("/api/v1/storage/cats/1/"),  # 404: no such storage
        admin.get("/api/v1/storage/cats/"),
        *_more(admin, reader, anonymous),
    ]


def _more(admin: APIClient, reader: APIClient, anonymous: APIClient) -> list[Any]:
    """Every other method, and what the front door must not answer differently."""
    two, bo, cy = f"{URL}2/", {**REX, "name": "Bo"}, {**REX, "name": "Cy"}
    return [
        admin.head(f"{URL}1/"),
        admin.head(f"{URL}?limit=1"),
        admin.post(URL, [bo, cy], format="json"),  # bulk: 201
        admin.post(URL, [{**REX, "name": "Al"}, {**REX, "age": 99}], format="json"),  # 400
        admin.post(URL, [{**REX, "name": "Ida", "born": "2020-02-02"}], format="json"),  # 409
        reader.post(URL, [bo], format="json"),  # 403
        anonymous.post(URL, REX, format="json"),  # 401
        admin.put(f"{URL}999/", REX, format="json", HTTP_IF_MATCH="*"),  # 404
        admin.put(two, REX, format="json"),  # 428
        admin.delete(two, HTTP_IF_MATCH='"999"'),  # 412
        reader.delete(two, HTTP_IF_MATCH="*"),  # 403
        anonymous.delete(two, HTTP_IF_MATCH="*"),  # 401
        admin.delete(two, HTTP_IF_MATCH="*"),  # 204
        admin.delete(two),  # 404 (without If-Match: unconditional)
        admin.get(f"{URL}1/", HTTP_ACCEPT=""),  # an empty Accept: what DRF negotiates
        admin.get(URL, HTTP_ACCEPT=""),
        admin.get(f"{URL}1/", HTTP_ACCEPT="application/json"),
        admin.get(URL, HTTP_ACCEPT="*/*"),
        *_upserts(admin, reader),
        *_write_only(),
    ]


def _upserts(admin: APIClient, reader: APIClient) -> list[Any]:
    """Prefer: resolution=...: created, updated, unchanged, and the refusals."""
    merge = {"HTTP_PREFER": "resolution=merge-duplicates"}
    by_name = f"{URL}?on_conflict=name,born"
    zed = {**REX, "name": "Zed", "born": "2021-01-01"}
    return [
        admin.post(by_name, zed, format="json", **merge),  # 201
        admin.post(by_name, [{**zed, "age": 6}, zed], format="json", **merge),  # 200
        admin.post(by_name, {**zed, "age": 3}, format="json", **merge),  # 200: unchanged
        admin.post(f"{URL}?on_conflict=breed", zed, format="json", **merge),  # 400
        admin.post(URL, zed, format="json", **merge),  # 400: a serial key
        admin.post(by_name, zed, format="json", HTTP_PREFER="resolution=no"),  # 400
        reader.post(by_name, zed, format="json", **merge),  # 403
        admin.patch(f"{URL}?name=Zed", {"age": 7}, format="json"),  # 200, by filter
        admin.patch(f"{URL}?name=Zed", {"age": "old"}, format="json"),  # 400
        admin.delete(f"{URL}?name=Nobody"),  # 200: nothing matched
        admin.delete(URL),  # 400: no filter
        reader.delete(f"{URL}?name=Zed"),  # 403
    ]


def _write_only() -> list[Any]:
    """A token that may write but not read: answered its key and `_version` alone."""
    writer = _client(
        token_issue(name="writer", grants=[{"storage": "dogs", "access": ["write"]}]).secret
    )
    return [
        writer.post(URL, {**REX, "name": "Wo"}, format="json"),  # 201
        writer.patch(f"{URL}1/", {"age": 2}, format="json", HTTP_IF_MATCH="*"),  # 200
        writer.put(f"{URL}1/", {**REX, "age": 3}, format="json", HTTP_IF_MATCH='"999"'),  # 412
        writer.get(f"{URL}1/"),  # 403
        writer.delete(f"{URL}1/", HTTP_IF_MATCH="*"),  # 204
    ]


def _etag(client: APIClient, url: str) -> str:
    """The record's current ETag (versions are not consecutive: record_versions)."""
    return client.get(url)["ETag"]


def _version(client: APIClient, url: str) -> int:
    return int(_etag(client, url).strip('"'))


def _answers(responses: list[Any]) -> list[tuple]:
    """Status, headers and body of each answer; keys and versions as they are, so a request
    that drew a key or a version it did not use (a write run twice) shows as a difference."""
    answers = []
    for response in responses:
        body = response.json() if response.content else None
        for record in _records(body):
            for name in CHANGING:
                record.pop(name, None)
        if isinstance(body, dict) and "changes" in body:
            # A first page's feed cursor is the database's position when it was read.
            body["changes"] = body["changes"].split("?after=")[0]
        headers = {name: value for name, value in response.items() if name not in GENERATED}
        assert response["X-Request-ID"]
        if response.request["REQUEST_METHOD"] != "HEAD":  # (the test client drops its body)
            assert int(response.get("Content-Length", 0)) == len(response.content)
        answers.append((response.status_code, headers, body))
    return answers


def _records(body: Any) -> list[dict]:
    """The records of an answer: one, a page's or a bulk's."""
    if isinstance(body, dict):
        body = body.get("results", [body])
    return [record for record in body or () if isinstance(record, dict)]


def _run(fast: bool, settings: Any) -> list[tuple]:
    settings.RECORDS_FAST_PATH = fast
    clear_runtimes()
    storage_create(data=dogs_definition())
    admin = _client(token_issue(name="admin", admin=True).secret)
    reader = token_issue(name="reader", grants=[{"storage": "dogs", "access": ["read"]}])
    answers = _answers(_scenario(admin, _client(reader.secret), APIClient()))
    storage_delete(name="dogs", if_match="*")
    return answers


@pytest.mark.django_db(transaction=True)
def test_both_paths_give_the_same_answers(settings):
    general = _run(False, settings)
    fast = _run(True, settings)

    assert [status for status, _, _ in general] == [
        201, 201, 400, 409, 400, 415, 400, 200, 404, 404, 200, 200, 400, 400, 200,
        200, 412, 428, 400, 404, 409, 200, 400, 200, 412, 200, 200, 403, 403, 401,
        401, 401, 401, 406, 404, 404,
        200, 200, 201, 400, 409, 403, 401, 404, 428, 412, 403, 401, 204, 404,
        406, 406, 200, 200,
        201, 200, 200, 400, 400, 400, 403, 200, 400, 200, 400, 403,
        201, 200, 412, 403, 204,
    ]  # fmt: skip
    for position, (expected, got) in enumerate(zip(general, fast, strict=True)):
        assert got == expected, f"request {position}"


@pytest.fixture
def served(api_client, create_storage) -> Callable[[], dict]:
    """A dogs storage with one record, read once so that this process has served it."""
    create_storage(dogs_definition())
    created = api_client.post(URL, REX, format="json").json()
    assert api_client.get(f"{URL}{created['id']}/").status_code == 200
    assert last_served("dogs") is not None
    return lambda: api_client.get(f"{URL}{created['id']}/")


@pytest.mark.fastpath  # the front door's one statement
@pytest.mark.django_db(transaction=True)
def test_a_read_costs_one_query_once_the_storage_was_served(served, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = served()

    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_read_sees_a_new_version_at_once(served):
    definition = dogs_definition()
    definition["fields"].append({"name": "colour", "type": "text", "default": "brown"})
    version_declare(name="dogs", data=definition, if_match='"1"')

    body = served().json()

    assert body["colour"] == "brown"


@pytest.mark.django_db(transaction=True)
def test_a_read_after_the_storage_was_dropped_and_created_again(served, api_client):
    storage_delete(name="dogs", if_match="*")
    other = dogs_definition(primary_key={"name": "code", "type": "text"})
    storage_create(data=other)
    api_client.post(URL, {**REX, "code": "1"}, format="json")

    response = api_client.get(f"{URL}1/")

    assert response.status_code == 200
    assert response.json()["code"] == "1"
    assert "id" not in response.json()


@pytest.mark.django_db(transaction=True)
def test_a_revoked_token_is_refused_by_the_front_door_too(served, admin_token, api_client):
    from access.models import ApiToken
    from access.services import hash_secret, token_revoke

    token_revoke(token_id=ApiToken.objects.get(secret_hash=hash_secret(admin_token)).id)

    assert served().status_code == 401


@pytest.mark.fastpath  # the front door's one statement
@pytest.mark.django_db(transaction=True)
def test_an_update_costs_one_query_once_the_storage_was_served(
    served, api_client, django_assert_num_queries
):
    etag = served()["ETag"]

    # On SQLite the new version is drawn first, in the write's transaction (BEGIN, the
    # draw, the UPDATE, COMMIT: factory.schema.record_versions).
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 4):
        response = api_client.patch(f"{URL}1/", {"age": 4}, format="json", HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response.json()["age"] == 4


@pytest.mark.django_db(transaction=True)
def test_an_update_after_a_new_version_is_applied_to_it(served, api_client):
    definition = dogs_definition()
    definition["fields"].append({"name": "colour", "type": "text", "default": "brown"})
    version_declare(name="dogs", data=definition, if_match='"1"')

    response = api_client.patch(f"{URL}1/", {"colour": "black"}, format="json", HTTP_IF_MATCH="*")

    assert response.status_code == 200
    assert response.json()["colour"] == "black"


@pytest.mark.django_db(transaction=True)
def test_a_revoked_token_cannot_update_through_the_front_door(served, admin_token, api_client):
    from access.models import ApiToken
    from access.services import hash_secret, token_revoke

    token_revoke(token_id=ApiToken.objects.get(secret_hash=hash_secret(admin_token)).id)

    response = api_client.patch(f"{URL}1/", {"age": 9}, format="json", HTTP_IF_MATCH="*")

    assert response.status_code == 401
    assert runtime_for("dogs").model.objects.get(pk=1).age == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("url", [f"{URL}1/", URL])
def test_an_empty_accept_header_has_one_answer_whatever_this_worker_served(api_client, url):
    # Issue 16: an empty Accept answered 406 before this process had served the storage
    # and 200 after (the old fast lane read it as no Accept at all, which means */*).
    storage_create(data=dogs_definition())
    assert api_client.post(URL, REX, format="json").status_code == 201
    clear_runtimes()  # a worker that has not served `dogs` yet

    before = api_client.get(url, HTTP_ACCEPT="")
    assert api_client.get(url).status_code == 200  # now it has
    after = api_client.get(url, HTTP_ACCEPT="")

    assert (before.status_code, after.status_code) == (406, 406)
    assert before.json() == after.json()
    assert last_served("dogs") is not None


@pytest.mark.django_db(transaction=True)
def test_a_refused_create_runs_its_insert_once(served, api_client):
    """A create the database refuses (a unique index) is answered where it was refused,
    by the same exception handler, not run a second time through the DRF viewset."""
    rex = {**REX, "born": "2020-01-01"}
    assert api_client.post(URL, rex, format="json").status_code == 201

    with CaptureQueriesContext(connection) as queries:
        response = api_client.post(URL, rex, format="json")

    assert response.status_code == 409
    assert response.json()["type"] == "unique-violation"
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1


def _statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements a request ran, transaction control left out."""
    control = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")
    return [
        query["sql"]
        for query in queries.captured_queries
        if not query["sql"].upper().startswith(control)
    ]


@pytest.mark.django_db(transaction=True)
def test_no_refused_request_runs_a_statement_twice(served, api_client, admin_token):
    """Issue 16: a refused request ran again through DRF (a 409 POST: 4 statements against
    2; a 412 PATCH: 4 against 3). Each request below is answered once, on whichever
    adapter: no statement repeats, and none costs more than the DRF viewset alone."""
    reader = _client(
        token_issue(name="reader", grants=[{"storage": "dogs", "access": ["read"]}]).secret
    )
    rex = {**REX, "born": "2020-01-01"}
    assert api_client.post(URL, rex, format="json").status_code == 201
    one = f"{URL}1/"
    refused = [
        (409, lambda: api_client.post(URL, rex, format="json")),
        (412, lambda: api_client.patch(one, {"age": 4}, format="json", HTTP_IF_MATCH='"999"')),
        (412, lambda: api_client.put(one, REX, format="json", HTTP_IF_MATCH='"999"')),
        (404, lambda: api_client.patch(f"{URL}999/", {"age": 4}, format="json", HTTP_IF_MATCH="*")),
        (400, lambda: api_client.patch(one, {"age": "old"}, format="json", HTTP_IF_MATCH="*")),
        (428, lambda: api_client.patch(one, {"age": 4}, format="json")),
        (403, lambda: reader.patch(one, {"age": 4}, format="json", HTTP_IF_MATCH="*")),
        (412, lambda: api_client.delete(one, HTTP_IF_MATCH='"999"')),
        (401, lambda: APIClient().post(URL, rex, format="json")),
    ]
    # On SQLite a write draws its version first, in a statement of its own (record_versions).
    most = 3 if connection.vendor == "postgresql" else 4
    for expected, send in refused:
        with CaptureQueriesContext(connection) as queries:
            response = send()
        statements = _statements(queries)

        assert response.status_code == expected, response.content
        assert len(statements) == len(set(statements)), statements
        assert len(statements) <= most, (expected, [sql[:90] for sql in statements])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["patch", "put"])
def test_a_write_after_the_storage_was_dropped_is_never_a_500(served, api_client, method):
    """Issue 16: PATCH/PUT after a storage was deleted, or deleted and created again with
    another key type, answered 500 on a worker that had served it (its guess of the
    version named the old table), with any token or none, and went on doing so."""
    write = getattr(api_client, method)
    etag = served()["ETag"]
    assert write(f"{URL}1/", REX, format="json", HTTP_IF_MATCH=etag).status_code == 200

    storage_delete(name="dogs", if_match="*")
    gone = write(f"{URL}1/", REX, format="json", HTTP_IF_MATCH="*")
    anonymous = getattr(APIClient(), method)(f"{URL}1/", REX, format="json", HTTP_IF_MATCH="*")
    storage_create(data=dogs_definition(primary_key={"name": "code", "type": "text"}))
    assert api_client.post(URL, {**REX, "code": "1"}, format="json").status_code == 201
    again = [write(f"{URL}1/", REX, format="json", HTTP_IF_MATCH="*") for _ in range(3)]

    assert (gone.status_code, anonymous.status_code) == (404, 401)
    assert [response.status_code for response in again] == [200, 200, 200]
    assert again[-1].json()["code"] == "1"


@pytest.mark.django_db(transaction=True)
def test_a_storage_dropped_after_its_row_was_read_is_not_a_500(api_client):
    """Found by a hostile run: a storage deleted between the token lookup (which read its
    row) and the compiling of its runtime answered 500 (StorageVersion.DoesNotExist)."""
    from access.selectors import StorageRow
    from core.errors import StorageNotFound
    from storage.runtime import runtime_for_row

    row = StorageRow(id=987_654, serving_version=1, status="ready")  # read, then dropped

    with pytest.raises(StorageNotFound):
        runtime_for_row("dogs", row)


@pytest.mark.fastpath  # the front door's one-statement update
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["patch", "put"])
def test_a_token_without_write_never_has_its_body_waited_for(served, method):
    """Found by a hostile run: a read-only token found valid lately had its PATCH body read
    before its grant was checked (the one-statement UPDATE path), so a slow body held a
    thread. Only tokens that may write and read a storage take that path there."""
    from storage.frontdoor import FrontDoor

    reader = token_issue(name="reader", grants=[{"storage": "dogs", "access": ["read"]}])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {reader.secret}"}
    assert _client(reader.secret).get(f"{URL}1/").status_code == 200  # verified lately

    class NeverRead:
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the body was read before the grant was checked")

    factory = RequestFactory(HTTP_IF_MATCH="*", **headers)
    environ = factory.generic(method.upper(), f"{URL}1/").environ
    environ.update(CONTENT_TYPE="application/json", CONTENT_LENGTH="20")
    environ["wsgi.input"] = NeverRead()  # a body that would hold the thread

    reply = FrontDoor(lambda environ, start_response: []).respond(environ)

    assert reply is not None
    assert reply.status == 403
