"""Client errors are logged as one WARNING line, without a traceback.

Django logs a refused Host and a query of more than DATA_UPLOAD_MAX_NUMBER_FIELDS
parameters at ERROR with a traceback (django.security.*), and the front door logged the
latter once more: any client could fill the logs with ERRORs without a token. Requests go
through the WSGI application the server runs (the front door, then Django), as in
storage/tests/test_frontdoor.py, with real commits.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test.client import RequestFactory

from core.json import dumps
from datastorage.wsgi import application
from storage.tests.test_frontdoor import Reply, call

pytestmark = pytest.mark.django_db(transaction=True)

NOTES = "/api/v1/storage/notes/"
BAD_HOST = {
    "type": "bad-request",
    "title": "Bad request",
    "status": 400,
    "detail": "The Host header names a host this service does not answer for.",
}
TOO_MANY_FIELDS = {
    "type": "bad-request",
    "title": "Bad request",
    "status": 400,
    "detail": "The request has more than 1000 parameters.",
}


@pytest.fixture
def notes(create_storage, admin_token) -> RequestFactory:
    """A storage with one record (so the front door serves its reads); the admin's requests."""
    create_storage({"name": "notes", "fields": [{"name": "note", "type": "text"}]})
    admin = RequestFactory(headers={"Authorization": f"Bearer {admin_token}"})
    created = call(application, admin.post(NOTES, dumps({"note": "a"}), "application/json"))
    assert created.status == 201, created.body
    return admin


def logged(caplog, request: Any) -> tuple[Reply, list[logging.LogRecord]]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        reply = call(application, request)
    return reply, list(caplog.records)


def assert_no_error_and_no_traceback(records: list[logging.LogRecord]) -> None:
    loud = [(r.name, r.levelname, r.getMessage()) for r in records if r.levelno >= logging.ERROR]
    assert loud == []
    assert [r.name for r in records if r.exc_info or r.exc_text or r.stack_info] == []


def warnings_of(records: list[logging.LogRecord]) -> list[tuple[str, str]]:
    return [(r.name, r.getMessage()) for r in records if r.levelno == logging.WARNING]


def assert_names_the_request(records: list[logging.LogRecord], reply: Reply, path: str) -> None:
    """The WARNING line carries the request's id and path, not the request itself (whose
    repr holds the whole query: a thousand parameters)."""
    (warning,) = [r for r in records if r.levelno == logging.WARNING]
    assert (warning.path, warning.request_id) == (path, reply.headers["X-Request-ID"])
    assert (warning.status_code, hasattr(warning, "request")) == (400, False)


def request_lines(records: list[logging.LogRecord]) -> list[tuple[str, int]]:
    return [(r.levelname, r.status) for r in records if r.name == "datastorage.request"]


@pytest.mark.parametrize("path", [f"{NOTES}1/", NOTES, "/api/v1/health/live/", "/api/v1/storage/"])
def test_a_bad_host_is_one_warning_line(notes, caplog, path):
    reply, records = logged(caplog, notes.get(path, HTTP_HOST="evil.example"))

    assert (reply.status, reply.body) == (400, BAD_HOST)
    assert_no_error_and_no_traceback(records)
    assert warnings_of(records) == [
        (
            "django.security.DisallowedHost",
            "Invalid HTTP_HOST header: 'evil.example'. You may need to add 'evil.example' "
            "to ALLOWED_HOSTS.",
        )
    ]
    assert request_lines(records) == [("INFO", 400)]
    assert_names_the_request(records, reply, path)


@pytest.mark.parametrize("token", [True, False])
@pytest.mark.parametrize("path", [NOTES, f"{NOTES}1/"])
def test_more_than_a_thousand_query_parameters_is_one_warning_line(notes, caplog, path, token):
    query = {f"p{i}": "1" for i in range(1001)}
    client = notes if token else RequestFactory()  # the admin's reads take the front door

    reply, records = logged(caplog, client.get(path, query))

    assert (reply.status, reply.body) == (400, TOO_MANY_FIELDS)
    assert_no_error_and_no_traceback(records)
    assert warnings_of(records) == [
        (
            "django.security.TooManyFieldsSent",
            "The number of GET/POST parameters exceeded settings.DATA_UPLOAD_MAX_NUMBER_FIELDS.",
        )
    ]
    assert request_lines(records) == [("INFO", 400)]
    assert_names_the_request(records, reply, path)


def test_a_thousand_query_parameters_are_still_read(notes, caplog):
    """The limit is Django's, and 1,000 is within it: an unknown-parameter 400 as usual."""
    reply, records = logged(caplog, notes.get(NOTES, {f"p{i}": "1" for i in range(1000)}))

    assert reply.status == 400
    assert reply.body["type"] == "validation-error"
    assert_no_error_and_no_traceback(records)


def test_a_malformed_json_body_is_logged_without_error(notes, caplog):
    reply, records = logged(caplog, notes.post(NOTES, b'{"note": ', "application/json"))

    assert reply.status == 400
    assert reply.body == {
        "type": "malformed-request",
        "title": "Malformed request",
        "status": 400,
        "detail": reply.body["detail"],  # the parser's words
    }
    assert_no_error_and_no_traceback(records)
    assert request_lines(records) == [("INFO", 400)]


def test_an_unknown_filter_is_logged_without_error(notes, caplog):
    reply, records = logged(caplog, notes.get(NOTES, {"colour": "red"}))

    assert (reply.status, reply.body) == (
        400,
        {
            "type": "validation-error",
            "title": "Invalid input",
            "status": 400,
            "detail": "Unknown query parameters: colour",
            "errors": {"colour": ["Unknown filter or parameter for this storage."]},
        },
    )
    assert_no_error_and_no_traceback(records)
    assert request_lines(records) == [("INFO", 400)]


def test_too_many_form_fields_read_by_a_middleware_is_one_warning_line(notes, caplog):
    """Raised in CsrfViewMiddleware (the admin's login form with a CSRF cookie), not a view:
    Django answers it, through the same 400 handler."""
    form = "&".join(f"p{i}=1" for i in range(1001))
    request = RequestFactory().post(
        "/admin/login/",
        form,
        content_type="application/x-www-form-urlencoded",
        HTTP_COOKIE="csrftoken=" + "a" * 32,
    )

    reply, records = logged(caplog, request)

    assert (reply.status, reply.body) == (400, TOO_MANY_FIELDS)
    assert_no_error_and_no_traceback(records)
    assert [name for name, _ in warnings_of(records)] == ["django.security.TooManyFieldsSent"]
