"""Client errors in the production server's own log (`python -m datastorage.serve`, its
JSON lines on stdout): WARNING lines at most, never an ERROR or a stack trace, so that no
client can flood the log with them (issue 15). tests/hostile/test_logs.py checks the same
records in-process, with the whole answers."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from tests.reliability.support import CLIENT_TIMEOUT, Server, bearer, call

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

NOTES = "/api/v1/storage/notes/"
MANY = "&".join(f"p{i}=1" for i in range(1001))


def raw(port: int, method: str, path: str, body: bytes = b"", **headers: str) -> int:
    """The status of one request sent as given (a Host of its own, a body that is no JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_client_errors_leave_no_error_and_no_traceback_in_the_server_log(
    processes, make_storage, admin_token
):
    make_storage({"name": "notes", "fields": [{"name": "note", "type": "text"}]})
    server = Server(processes, WEB_CONCURRENCY="1", LOG_LEVEL="INFO").start()
    port, auth = server.port, bearer(admin_token)
    assert call(port, "POST", NOTES, {"note": "a"}, **auth).status == 201
    assert call(port, "GET", f"{NOTES}1/", **auth).status == 200  # the front door serves

    statuses = [
        raw(port, "GET", f"{NOTES}1/", Host="evil.example", **auth),
        raw(port, "GET", "/api/v1/health/live/", Host="evil.example"),
        raw(port, "GET", f"{NOTES}?{MANY}", **auth),  # through the front door
        raw(port, "GET", f"{NOTES}?{MANY}"),  # without a token
        raw(port, "POST", NOTES, b'{"note": ', **{"Content-Type": "application/json"}, **auth),
        raw(port, "GET", f"{NOTES}?colour=red", **auth),
    ]

    assert statuses == [400, 400, 400, 400, 400, 400]
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert [_brief(line) for line in lines if line["level"] not in ("INFO", "DEBUG")] == [
        ("WARNING", "django.security.DisallowedHost"),
        ("WARNING", "django.security.DisallowedHost"),
        ("WARNING", "django.security.TooManyFieldsSent"),
        ("WARNING", "django.security.TooManyFieldsSent"),
    ]
    assert [line for line in lines if "exc_info" in line] == []
    warnings = [line for line in lines if line["level"] == "WARNING"]
    assert all(len(line["request_id"]) == 32 and "request" not in line for line in warnings)
    assert "Traceback" not in server.log()
    assert sum(line.get("status") == 400 for line in lines) == 6  # one request line each


def _brief(line: dict[str, Any]) -> tuple[str, str]:
    return line["level"], line["logger"]
