"""Headers: conditional headers, request ids, credentials and hosts that try injection are
refused (4xx) or ignored, never echoed into a response header and never a 5xx."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.hostile.conftest import assert_problem, snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("world")]

NOTE = "/api/v1/storage/notes/1/"
TAGS = {
    "crlf-injection": '"1"\r\nX-Injected: yes',
    "lf-injection": '"1"\nX-Injected: yes',
    "sql": "1 OR 1=1",
    "statement": '"1"; DROP TABLE ds_notes',
    "20-digits": '"' + "9" * 20 + '"',
    "above-int64": '"9223372036854775808"',
    "19-nines": '"9999999999999999999"',
    "negative": '"-1"',
    "arabic-digit": '"\u0661"',
    "fullwidth-digit": '"\uff11"',
    "weak-prefix-only": "W/",
    "empty-quotes": '""',
    "commas": ",",
    "one-bad-in-list": '"1", "x"',
    "nul": '"1"\x00',
    "star-and-more": "*x",
    "10000-chars": "1" * 10_000,
}


@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", '{"note": "x"}'), ("PUT", '{"note": "x"}'), ("DELETE", None)],
)
@pytest.mark.parametrize("tag", list(TAGS.values()), ids=list(TAGS))
def test_hostile_if_match_on_a_record_is_refused(refused, method, body, tag):
    problem = refused(method, NOTE, body, 400, "validation-error", HTTP_IF_MATCH=tag)

    assert list(problem["errors"]) == ["If-Match"]


@pytest.mark.parametrize("tag", list(TAGS.values()), ids=list(TAGS))
def test_hostile_if_match_on_a_definition_is_refused(refused, tag):
    definition = {"name": "notes", "fields": [{"name": "note", "type": "text"}]}

    refused(
        "PUT",
        "/api/v1/factory/storage/notes/",
        definition,
        400,
        "validation-error",
        HTTP_IF_MATCH=tag,
    )


@pytest.mark.parametrize("tag", list(TAGS.values()), ids=list(TAGS))
def test_hostile_if_none_match_is_refused(refused, tag):
    problem = refused("GET", NOTE, None, 400, "validation-error", HTTP_IF_NONE_MATCH=tag)

    assert list(problem["errors"]) == ["If-None-Match"]


REQUEST_IDS = {
    "crlf-injection": "abc\r\nSet-Cookie: session=stolen",
    "trailing-newline": "abc\n",
    "nul": "abc\x00",
    "129-chars": "a" * 129,
    "non-ascii": "\u00e9t\u00e9",
    "html": "<script>alert(1)</script>",
    "spaces": "a b",
    "empty": "",
}
FRESH_ID = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("request_id", list(REQUEST_IDS.values()), ids=list(REQUEST_IDS))
def test_hostile_request_id_is_replaced_not_echoed(api_client, request_id):
    before = snapshot()

    served = api_client.get(NOTE, HTTP_X_REQUEST_ID=request_id)
    refused = api_client.get("/api/v1/storage/notes/x/", HTTP_X_REQUEST_ID=request_id)

    assert served.status_code == 200
    assert FRESH_ID.fullmatch(served["X-Request-ID"])
    assert_problem(refused, 404, "record-not-found")
    assert FRESH_ID.fullmatch(refused["X-Request-ID"])
    assert snapshot() == before


def test_safe_request_id_is_echoed(api_client):
    assert api_client.get(NOTE, HTTP_X_REQUEST_ID="pipeline-42.a:b")["X-Request-ID"] == (
        "pipeline-42.a:b"
    )


CREDENTIALS = {
    "crlf-injection": "Bearer x\r\nX-Injected: 1",
    "sql": "Bearer ' OR '1'='1",
    "10000-chars": "Bearer " + "a" * 10_000,
    "nul": "Bearer a\x00b",
    "non-ascii": "Bearer \u00e9t\u00e9",
    "two-tokens": "Bearer a, Bearer b",
    "basic": "Basic YWRtaW46YWRtaW4=",
}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/storage/notes/", None),
        ("POST", "/api/v1/storage/notes/", '{"note": "x"}'),
        ("DELETE", NOTE, None),
        ("DELETE", "/api/v1/auth/tokens/1/", None),
        ("POST", "/api/v1/auth/tokens/", '{"name": "x", "admin": true}'),
    ],
)
@pytest.mark.parametrize("credentials", list(CREDENTIALS.values()), ids=list(CREDENTIALS))
def test_hostile_credentials_answer_401(refused, anonymous_client, method, path, body, credentials):
    refused(
        method,
        path,
        body,
        401,
        "not-authenticated",
        client=anonymous_client,
        HTTP_AUTHORIZATION=credentials,
    )


@pytest.mark.parametrize(
    "host", ["evil.example.com", "testserver\r\nX-Injected: 1", "testserver:abc", "a" * 300]
)
def test_host_outside_allowed_hosts_answers_400(refused, host):
    refused("GET", "/api/v1/storage/notes/", None, 400, "bad-request", HTTP_HOST=host)


# --- every answer carries the security headers ---------------------------------------------

SECURITY_HEADERS = (
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "X-Frame-Options",
    "X-Request-ID",
)


def _early_refusals() -> dict[str, tuple[int, Any]]:
    """Answers decided before routing, each sent through the whole WSGI application."""
    from django.test.client import RequestFactory

    plain = RequestFactory()
    huge = plain.post("/api/v1/storage/notes/", "{}", "application/json")
    huge.environ["CONTENT_LENGTH"] = str(10**12)
    not_a_number = plain.post("/api/v1/storage/notes/", "{}", "application/json")
    not_a_number.environ["CONTENT_LENGTH"] = "abc"
    return {
        "413-body-too-large": (413, huge),
        "400-content-length": (400, not_a_number),
        "404-nul-in-path": (404, plain.get("/api/v1/storage/no\x00tes/")),
        "400-bad-host": (400, RequestFactory(headers={"Host": "evil.example"}).get(NOTE)),
        "404-unknown-url": (404, plain.get("/nothing/here/")),
        "401-no-token": (401, plain.get(NOTE)),
    }


@pytest.mark.parametrize("case", list(_early_refusals()))
def test_every_answer_carries_the_security_headers(case):
    from datastorage.wsgi import application
    from storage.tests.test_frontdoor import call

    status, request = _early_refusals()[case]

    reply = call(application, request)

    assert reply.status == status
    assert [name for name in SECURITY_HEADERS if name not in reply.headers] == []
