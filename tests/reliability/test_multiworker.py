"""Every process in step: real granian workers and a real task worker, over real HTTP.

Three granian workers each cache the storage's model for version 1; a schema change is
declared through one of them and applied by `manage.py run_worker`. Once ready_status says
ready, every worker must accept and return the new field, and a writer posting across the
whole change must lose and duplicate nothing.
"""

from __future__ import annotations

import http.client
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.runtime import runtime_for
from tests.reliability.support import Processes, Reply, Server, bearer, call, send

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

WORKERS = 3
STORAGE = "/api/v1/factory/storage/"
PETS = "/api/v1/factory/storage/pets/"
READY = "/api/v1/factory/ready_status/pets/"
RECORDS = "/api/v1/storage/pets/"

# The admin token every request of this module sends (set by the `stack` fixture).
AUTHORIZATION: dict[str, str] = {}


# --- the processes ---------------------------------------------------------------------------


class Stack:
    """The server (WORKERS granian workers) and the task worker, against the test database."""

    def __init__(self, processes: Processes) -> None:
        self.server = Server(
            processes,
            WEB_CONCURRENCY=str(WORKERS),
            # Pinned connections stay open across the whole change: granian closes one
            # idle for this long (ms; its default 30 s, at most 60 s).
            GRANIAN_HTTP1_HEADER_READ_TIMEOUT="60000",
        )
        self.worker = processes.spawn(
            "worker", [sys.executable, "manage.py", "run_worker", "--interval", "0.1"]
        )
        self.server.start()
        self.port = self.server.port

    def check_alive(self) -> None:
        assert self.server.process is not None
        assert self.server.process.poll() is None, f"the server exited:\n{self.server.log()}"
        assert self.worker.poll() is None, "the task worker exited"


@pytest.fixture
def stack(processes: Processes, admin_token: str) -> Iterator[Stack]:
    AUTHORIZATION.update(bearer(admin_token))
    stack = Stack(processes)
    yield stack
    stack.check_alive()


# --- HTTP ------------------------------------------------------------------------------------


def request(method: str, port: int, path: str, body: Any = None, **headers: str) -> Reply:
    """One request on a connection of its own (any worker may take it), as the admin."""
    return call(port, method, path, body, **AUTHORIZATION, **headers)


def on(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> Reply:
    """One request on a kept-alive connection (the worker holding it answers), as the admin."""
    return send(conn, method, path, body, **AUTHORIZATION)


def serving_pid(conn: http.client.HTTPConnection, port: int, pids: set[int]) -> int | None:
    """Which worker holds the server end of this (already used) connection, from /proc."""
    client_port = conn.sock.getsockname()[1]
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            local, remote = parts[1], parts[2]
            if (
                int(local.rsplit(":", 1)[1], 16) == port
                and int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                inode = parts[9]
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


def one_connection_per_worker(stack: Stack) -> dict[int, http.client.HTTPConnection]:
    """Open connections until each worker holds one; on each, a first read of the records
    makes that worker compile (and cache) the storage's version 1."""
    pids = stack.server.worker_pids()
    pinned: dict[int, http.client.HTTPConnection] = {}
    for _attempt in range(20):
        batch = [http.client.HTTPConnection("127.0.0.1", stack.port, timeout=15) for _ in range(8)]
        for conn in batch:
            conn.connect()
        for conn in batch:
            reply = on(conn, "GET", RECORDS)
            assert reply.status == 200, reply.body
            pid = serving_pid(conn, stack.port, pids)
            if pid is not None and pid not in pinned:
                pinned[pid] = conn
            else:
                conn.close()
        if len(pinned) == WORKERS:
            return pinned
    raise AssertionError(f"connections reached only workers {sorted(pinned)} of {sorted(pids)}")


# --- the writer ------------------------------------------------------------------------------


class Writer(threading.Thread):
    """Posts records over HTTP (a new connection each, so every worker gets some) until
    stopped; each has a unique name, so that losses and duplicates show."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.written: list[str] = []
        self.refused: list[tuple[str, int, Any]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            name = f"w{len(self.written) + len(self.refused)}"
            reply = request("POST", self.port, RECORDS, {"name": name})
            if reply.status == 201 and reply.body["name"] == name:
                self.written.append(name)
            else:
                self.refused.append((name, reply.status, reply.body))

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while len(self.written) < count and self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)
        assert not self.is_alive()


def wait_until_ready(port: int, version: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = request("GET", port, READY).body
        if status["version"] == version and status["status"] in ("ready", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"version {version} never became ready: {status}")


# --- the test ----------------------------------------------------------------------------------

PETS_V1 = {
    "name": "pets",
    "fields": [{"name": "name", "type": "text", "required": True}],
}
PETS_V2 = {
    "name": "pets",
    "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "color", "type": "text", "nullable": False, "default": "unknown"},
    ],
    "indexes": [{"fields": ["color"]}],
}


def test_every_worker_serves_the_new_field_once_ready(stack):
    port = stack.port
    assert request("POST", port, STORAGE, PETS_V1).status == 201
    old = [request("POST", port, RECORDS, {"name": f"old{i}"}).body for i in range(20)]
    pinned = one_connection_per_worker(stack)
    writer = Writer(port)
    writer.start()
    try:
        writer.wait_for(20)
        reply = request("PUT", port, PETS, PETS_V2, **{"If-Match": '"1"'})
        assert (reply.status, reply.headers["etag"], reply.body["status"]) == (
            202,
            '"2"',
            "pending",
        ), reply.body
        ready = wait_until_ready(port, 2)
        assert ready == {
            "name": "pets",
            "version": 2,
            "serving_version": 2,
            "status": "ready",
            "ready": True,
            "detail": None,
            "retention": None,
            "partitions": None,
        }
        # From here on, each worker (one pinned connection each) must take the new field.
        problems = []
        for i in range(102):
            conn = list(pinned.values())[i % WORKERS]
            created = on(conn, "POST", RECORDS, {"name": f"new{i}", "color": "brown"})
            if created.status != 201 or created.body.get("color") != "brown":
                problems.append(("POST", i, created.status, created.body))
                continue
            read = on(conn, "GET", f"{RECORDS}{created.body['id']}/")
            if read.status != 200 or read.body.get("color") != "brown":
                problems.append(("GET", i, read.status, read.body))
        assert problems == []
        for conn in pinned.values():
            page = on(conn, "GET", f"{RECORDS}?color=unknown&limit=1")
            assert page.status == 200, page.body
            assert page.body["results"][0]["color"] == "unknown"
        writer.wait_for(len(writer.written) + 20)
    finally:
        writer.stop()
        for conn in pinned.values():
            conn.close()

    assert writer.refused == []
    rows = runtime_for("pets").model.objects.values_list("name", "color")
    names = Counter(name for name, _ in rows)
    assert {name for name, count in names.items() if count > 1} == set()
    expected = {r["name"] for r in old} | set(writer.written) | {f"new{i}" for i in range(102)}
    assert set(names) == expected
    colors = dict(rows)
    assert {colors[r["name"]] for r in old} == {"unknown"}
    assert {colors[name] for name in writer.written} == {"unknown"}
