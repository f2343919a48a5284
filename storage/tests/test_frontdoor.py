"""storage.frontdoor: records requests answered in front of Django, answered the same.

Requests go through the WSGI application the server runs (datastorage.wsgi.application),
as environs built by Django's RequestFactory, with real commits (signals and connection
handling run as in production). The answers are compared whole with those of Django's
own stack with every shortcut off: status, body and every header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection, connections
from django.test.client import RequestFactory
from django.urls import resolve

from access.services import token_issue
from core.json import dumps, loads
from datastorage.wsgi import django_application
from factory.services.storages import storage_create, storage_delete
from factory.tests.factories import dogs_definition
from storage.frontdoor import _RECORDS, FrontDoor
from storage.runtime import clear_runtimes

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/storage/dogs/"
REX = {"name": "Rex", "breed": "lab", "age": 3, "registered_at": "2024-05-01T12:00:00Z"}
CHANGING = ("_created_at", "_updated_at")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Spy:
    """Django's handler, counting the requests the front door handed to it."""

    handed: list[str] = field(default_factory=list)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        self.handed.append(environ["PATH_INFO"] + "?" + environ.get("QUERY_STRING", ""))
        return django_application(environ, start_response)


@pytest.fixture
def spy() -> Spy:
    return Spy()


@pytest.fixture
def app(spy: Spy) -> FrontDoor:
    return FrontDoor(spy)


def call(app: Callable, request: Any) -> Reply:
    """`request` (from RequestFactory) sent through `app` as a WSGI server sends it."""
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        started["status"], started["headers"] = int(status.split()[0]), dict(headers)

    chunks = app(dict(request.environ), start_response)
    try:
        raw = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()  # what the server does: Django's request_finished
    json = started["headers"].get("Content-Type", "").startswith(("application/json", "app"))
    return Reply(started["status"], started["headers"], loads(raw) if raw and json else raw)


def factory(secret: str | None, **headers: str) -> RequestFactory:
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    return RequestFactory(headers=headers)


def _requests(admin: str, reader: str) -> list[Any]:
    """Reads the front door takes, and reads its gate hands to Django, in one story."""
    a, one = factory(admin), f"{URL}1/"
    return [
        a.get(one),
        a.get(one, headers={"X-Request-ID": "client-id-1"}),
        a.get(f"{URL}2/"),
        a.get(f"{URL}999/"),  # 404
        a.get(f"{URL}abc/"),  # 404
        a.get(f"{URL}1"),  # 404: no slash
        a.get(one, {"x": "1"}),  # a query on a record: parsed, and read by nothing
        a.get(URL, {"breed": "lab", "limit": "1"}),
        a.get(URL, {"breed": "lab", "limit": "1", "ordering": "-age"}),
        a.get(URL, {"limit": "1", "cursor": "not-a-cursor"}),  # 400
        a.get(URL, {"limit": "zero"}),  # 400
        a.get(URL, {"colour": "red"}),  # 400
        a.get(URL, {"count": "exact", "fields": "name"}),
        a.get(URL, {"name": "Rébus"}),  # non-ASCII query
        a.get(URL, {"format": "csv", "fields": "name"}),  # an export: Django's way
        a.get(one, secure=True),
        a.get(one, headers={"Accept": "application/json"}),
        a.get(one, headers={"Accept": "application/xml"}),  # 406
        a.get(one, headers={"Origin": "https://elsewhere.example"}),
        a.get(one, headers={"Cookie": "csrftoken=bad; sessionid=nothing"}),
        a.get(one, headers={"If-None-Match": '"1"'}),
        a.get(one, headers={"Idempotency-Key": "k"}),
        a.get(one, HTTP_HOST="evil.example"),  # 400: not an allowed host
        a.head(one),
        a.generic("GET", one, b"{}", content_type="application/json"),  # a body
        factory(reader).get(one),
        factory(reader).get(URL),
        factory(None).get(one),  # 401
        factory("dst_not-a-token").get(URL),  # 401
        factory(admin).get("/api/v1/storage/cats/1/"),  # 404: no such storage
        factory(admin).get("/api/v1/storage/cats/"),
        a.get(one, SCRIPT_NAME="/mounted"),  # a script prefix: Django's way
        a.get(one, headers={"Accept": ""}),  # an empty Accept accepts nothing: 406
        a.get(URL, headers={"Accept": ""}),
        a.head(URL),
        *_writes(admin, reader),
    ]


def _writes(admin: str, reader: str) -> list[Any]:
    """Every write method through the whole stack, the successes first: a refused write
    may draw a version number."""
    a, r, none, one = factory(admin), factory(reader), factory(None), f"{URL}1/"

    def body(method: Callable, url: str, data: Any, **headers: str) -> Any:
        return method(url, dumps(data), content_type="application/json", headers=headers)

    return [
        body(a.post, URL, {**REX, "name": "Bo", "born": "2020-02-02"}),  # 201
        body(a.post, URL, [{**REX, "name": "Cy"}, {**REX, "name": "Di"}]),  # 201: a bulk
        body(a.patch, one, {"age": 4}, **{"If-Match": '"1"'}),  # 200
        body(a.put, one, {**REX, "age": 5}, **{"If-Match": "*"}),  # 200
        a.delete(f"{URL}2/", headers={"If-Match": "*"}),  # 204
        body(a.post, URL, {**REX, "age": 99}),  # 400
        body(a.post, URL, [{**REX, "name": "Bo", "born": "2020-02-02"}]),  # 409
        body(a.patch, one, {"age": 6}, **{"If-Match": '"1"'}),  # 412
        body(a.patch, one, {"age": 6}),  # 428
        body(a.put, f"{URL}999/", REX, **{"If-Match": "*"}),  # 404
        body(r.patch, one, {"age": 6}, **{"If-Match": "*"}),  # 403
        body(none.post, URL, REX),  # 401
        a.delete(f"{URL}2/"),  # 404
    ]


def _story(app: Callable) -> list[Reply]:
    clear_runtimes()
    storage_create(data=dogs_definition())
    admin = token_issue(name="admin", admin=True).secret
    reader = token_issue(name="reader", grants=[{"storage": "dogs", "access": ["read"]}]).secret
    post = factory(admin)
    for body in (REX, {**REX, "name": "Ida", "age": 5}, {**REX, "name": "Rébus", "breed": None}):
        created = call(app, post.post(URL, dumps(body), content_type="application/json"))
        assert created.status == 201, created.body
    replies = [call(app, request) for request in _requests(admin, reader)]
    storage_delete(name="dogs", if_match="*")
    for reply in replies:
        body = reply.body if isinstance(reply.body, dict | list) else {}
        for record in body.get("results", [body]) if isinstance(body, dict) else body:
            for name in CHANGING:
                record.pop(name, None)
        if isinstance(body, dict) and "changes" in body:
            # A first page's feed cursor is the database's position when it was read.
            body["changes"] = body["changes"].split("?after=")[0]
    return replies


def test_the_front_door_answers_as_django_does(app, spy, settings):
    settings.RECORDS_FAST_PATH = False  # Django's stack alone, DRF views only
    general = _story(app)
    settings.RECORDS_FAST_PATH = True
    spy.handed.clear()
    fast = _story(app)

    assert [reply.status for reply in general] == [
        200, 200, 200, 404, 404, 404, 200, 200, 200, 400, 400, 400, 200, 200, 200, 200,
        200, 406, 200, 200, 304, 200, 400, 200, 200, 200, 200, 401, 401, 404, 404, 200,
        406, 406, 200,
        201, 201, 200, 200, 204, 400, 409, 412, 428, 404, 403, 401, 404,
    ]  # fmt: skip
    for position, (expected, got) in enumerate(zip(general, fast, strict=True)):
        assert got.status == expected.status, f"request {position}"
        assert got.body == expected.body, f"request {position}"
        generated = {"X-Request-ID"} if position != 1 else set()
        assert got.headers.keys() == expected.headers.keys(), f"request {position}"
        for name in got.headers.keys() - generated:
            assert got.headers[name] == expected.headers[name], f"request {position}: {name}"
    assert fast[1].headers["X-Request-ID"] == "client-id-1"
    # What the gate hands to Django: no slash, an export, another Accept, Origin, Cookie,
    # Idempotency-Key, a disallowed host, HEAD, a GET with a body, a script prefix, an
    # empty Accept, HEAD. Everything else, refusals included, the front door answers.
    handed = {5, 14, 17, 18, 19, 21, 22, 23, 24, 31, 32, 33, 34}
    assert len(spy.handed) == len(handed)
    assert spy.handed[1] == "/api/v1/storage/dogs/?format=csv&fields=name"


@pytest.mark.fastpath  # the front door answers both pages itself (spy.handed)
def test_a_page_names_its_next_page_as_django_does(app, spy, admin_token, dogs, add_dog):
    for name in ("Ada", "Bo", "Cy"):
        add_dog(name=name, breed="lab")

    first = call(app, factory(admin_token).get(URL, {"breed": "lab", "limit": "2"}))
    second = call(app, factory(admin_token).get(first.body["next"]))

    assert spy.handed == []
    assert first.body["next"].startswith("http://testserver/api/v1/storage/dogs/?breed=lab&")
    assert [r["name"] for r in first.body["results"] + second.body["results"]] == [
        "Ada",
        "Bo",
        "Cy",
    ]
    assert second.body["next"] is None


@pytest.fixture
def served(app, spy, admin_token, dogs, add_dog) -> Callable[[], Reply]:
    """One dog, read once through the front door (this process has served `dogs`)."""
    key = add_dog()["id"]

    def read() -> Reply:
        return call(app, factory(admin_token).get(f"{URL}{key}/"))

    assert read().status == 200
    spy.handed.clear()
    return read


def test_a_read_writes_the_request_log_line(served, caplog):
    with caplog.at_level(logging.INFO, logger="datastorage.request"):
        reply = served()

    (line,) = [r for r in caplog.records if r.name == "datastorage.request"]
    assert line.getMessage() == f"GET {URL}1/ 200"
    assert (line.method, line.path, line.status) == ("GET", f"{URL}1/", 200)
    assert line.request_id == reply.headers["X-Request-ID"]
    assert line.duration_ms >= 0


def test_the_front_door_is_off_with_another_middleware_list(served, spy, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "clickjacking" not in m]

    reply = served()

    assert reply.status == 200
    assert spy.handed == [f"{URL}1/?"]  # (Django's handler loaded its list at start-up)


@pytest.mark.fastpath  # the front door's own header template (spy.handed)
def test_strict_transport_security_is_added_as_django_adds_it(served, spy, settings, admin_token):
    settings.SECURE_HSTS_SECONDS = 3600
    app = FrontDoor(spy)  # the headers of an answer are computed once per front door

    secure = call(app, factory(admin_token).get(f"{URL}1/", secure=True))
    plain = call(app, factory(admin_token).get(f"{URL}1/"))

    assert spy.handed == []
    assert secure.headers["Strict-Transport-Security"] == "max-age=3600"
    assert "Strict-Transport-Security" not in plain.headers


@pytest.mark.postgresql  # the pool's behaviour (SQLite's test database is never closed)
@pytest.mark.fastpath  # the connection the front door keeps between reads
def test_a_read_keeps_its_connection_and_django_returns_it(served, app):
    served()
    held = connection.connection

    assert held is not None
    assert served().status == 200
    assert connection.connection is held  # no round trip to the pool in between

    call(app, RequestFactory().get("/api/v1/health/live/"))  # a request Django serves

    assert connection.connection is None  # back in the pool


@pytest.mark.postgresql
@pytest.mark.fastpath  # the connection the front door keeps between reads
def test_a_read_on_a_killed_connection_is_answered(served, spy, caplog):
    served()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s::int)", [pid])
    finally:
        other.close()

    with caplog.at_level(logging.INFO):
        replies = [served(), served()]

    assert [reply.status for reply in replies] == [200, 200]
    assert spy.handed == [f"{URL}1/?"]  # Django answered the first, on a new connection
    assert connection.connection.info.backend_pid != pid
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def _record_paths() -> Iterator[str]:
    for name in ("dogs", "a", "a_b9", "Dogs", "9dogs", "d-o-g", "dögs"):
        for key in ("", "1", "-7", "abc", "a.b", "~x_", "%20", "a b", "ä", "1/2", "."):
            yield f"/api/v1/storage/{name}/{key}/" if key else f"/api/v1/storage/{name}/"


@pytest.mark.django_db(transaction=False)
def test_the_front_door_takes_only_paths_routed_to_the_records_views():
    taken = 0
    for path in _record_paths():
        match = _RECORDS.fullmatch(path)
        if match is None:
            continue
        taken += 1
        resolved = resolve(path)
        name, key = match.groups()
        assert resolved.url_name == ("record-list" if key is None else "record-detail"), path
        assert resolved.kwargs == ({"name": name} if key is None else {"name": name, "key": key})
    assert taken == 3 * 7  # three names of the seven, seven keys of the eleven (list included)


@pytest.mark.fastpath  # what the front door answers itself (spy.handed)
def test_a_read_that_times_out_is_answered_once(served, spy, admin_token, monkeypatch):
    """Found in review: any OperationalError of a read (a statement timeout, a pool
    timeout) sent the request to Django, which ran it again, so a read could take twice
    DB_STATEMENT_TIMEOUT_MS. Only a connection that died is a reason to hand a read over."""
    from django.db import OperationalError

    from storage import selectors

    runs = []

    def timed_out(**kwargs: Any) -> Any:
        runs.append(kwargs)
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(selectors, "record_list", timed_out)
    reply = call(FrontDoor(spy), factory(admin_token).get(URL))

    assert reply.status == 503
    assert reply.body["type"] == "database-unavailable"
    assert (len(runs), spy.handed) == (1, [])


def test_a_content_length_of_other_digits_is_django_s_400(app, spy, admin_token, dogs):
    """Found in review: `"²".isdigit()` holds and int("²") fails: the gate raised (a 500
    without a request id) where Django answers 400."""
    request = factory(admin_token).post(URL, b"{}", content_type="application/json")
    request.environ["CONTENT_LENGTH"] = "²"

    reply = call(app, request)

    assert reply.status == 400
    assert spy.handed == [f"{URL}?"]


def test_a_location_never_carries_another_request_s_script_prefix(app, admin_token, dogs):
    """Found in review: reverse() reads a per-thread script prefix that Django sets per
    request; after a request under SCRIPT_NAME on the same thread, the front door's
    Location carried it."""
    a = factory(admin_token)
    assert call(app, a.get(URL, SCRIPT_NAME="/mounted")).status == 200  # Django's way

    created = call(app, a.post(URL, dumps(REX), content_type="application/json"))

    assert created.status == 201
    assert created.headers["Location"] == "http://testserver/api/v1/storage/dogs/1/"
