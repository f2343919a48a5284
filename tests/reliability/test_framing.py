"""Request framing that could be read two ways, against the production server.

A request with both Content-Length and Transfer-Encoding: chunked is the classic request-
smuggling shape: a proxy and the server could each take a different body. granian's
HTTP layer (hyper) does what RFC 9112 (section 6.3) asks: the chunked framing wins, the
Content-Length header never reaches the application, and the connection is closed after
the answer, so that nothing left on it can be taken for a next request.
"""

from __future__ import annotations

import json
import socket

import pytest

from tests.reliability.support import Server

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

NOTES = {"name": "rel_framing", "fields": [{"name": "note", "type": "text"}]}


def test_chunked_framing_wins_over_content_length_and_the_connection_closes(
    processes, make_storage, admin_token
):
    make_storage(NOTES)
    server = Server(processes, WEB_CONCURRENCY="1").start()
    body = b'{"note": "chunked"}'
    smuggled = b"GET /api/v1/health/live/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    request = (
        b"POST /api/v1/storage/rel_framing/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {admin_token}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 4\r\n"
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
        + smuggled
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk

    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 ")
    assert b"connection: close" in head.lower()
    assert json.loads(payload)["note"] == "chunked"
    # One answer only: what followed the chunked body was not served as a second request.
    assert answer.count(b"HTTP/1.1 ") == 1
