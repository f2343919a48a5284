"""Every process in step: real granian workers and a real task worker, over real HTTP.

Three granian workers each cache the storage's model for version 1; a schema change is
declared through one of them and applied by `manage.py run_worker`. Once ready_status says
ready, every worker must accept and return the new field, and a writer posting across the
whole change must lose and duplicate nothing.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from storage.runtime import runtime_for

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]
WORKERS = 3
STORAGE = "/api/v1/factory/storage/"
PETS = "/api/v1/factory/storage/pets/"
READY = "/api/v1/factory/ready_status/pets/"
RECORDS = "/api/v1/storage/pets/"


# --- the processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_tests() -> str:
    """DATABASE_URL, pointed at the database pytest-django made for this session."""
    url = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))


class Stack:
    """The server (granian, WORKERS workers) and the task worker, against the test database."""

    def __init__(self, logs: Path) -> None:
        self.port = free_port()
        self.logs = logs
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(WORKERS),
            "TASK_BACKEND": "django_tasks_db.DatabaseBackend",
            # Pinned connections stay open across the whole change: granian closes one idle
            # for this long (ms; its default 30 s, at most 60 s).
            "GRANIAN_HTTP1_HEADER_READ_TIMEOUT": "60000",
            "LOG_LEVEL": "WARNING",
        }
        self.env.setdefault("SECRET_KEY", "multiworker-test-key")
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        self._spawn("server", [sys.executable, "-m", "datastorage.serve"])
        self._spawn("worker", [sys.executable, "manage.py", "run_worker", "--interval", "0.1"])
        self._wait_until_serving()

    def _spawn(self, name: str, command: list[Any]) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [str(part) for part in command],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.check_alive()
            if len(self.worker_pids()) == WORKERS:
                try:
                    if request("GET", self.port, "/api/v1/health/")[0] == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not start:\n{self.log('server')}")

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited:\n{self.log(name)}"

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-5000:]

    def worker_pids(self) -> set[int]:
        """The workers: the children of granian's main process, from /proc."""
        master = self.processes["server"].pid
        pids = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                pids.add(int(stat.parent.name))
        return pids

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


# The admin token every request of this module sends (issued by the `stack` fixture).
AUTHORIZATION: dict[str, str] = {}


@pytest.fixture
def stack(transactional_db, admin_token) -> Iterator[Stack]:
    AUTHORIZATION["Authorization"] = f"Bearer {admin_token}"
    with tempfile.TemporaryDirectory(prefix="datastorage-multiworker-") as logs:
        stack = Stack(Path(logs))
        try:
            stack.start()
            yield stack
            stack.check_alive()
        finally:
            stack.stop()


# --- HTTP ------------------------------------------------------------------------------------


def send(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, **headers):
    """One request on a kept-alive connection: (status, headers, JSON body)."""
    payload = None if body is None else json.dumps(body).encode()
    headers = {**AUTHORIZATION, **headers}
    if payload is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    # Header names lower-cased: granian sends them so (HTTP/1.1 names are case-insensitive).
    received = {name.lower(): value for name, value in response.getheaders()}
    return response.status, received, json.loads(raw) if raw else None


def request(method: str, port: int, path: str, body: Any = None, **headers):
    """One request on a connection of its own (any worker may take it)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        return send(conn, method, path, body, **headers)
    finally:
        conn.close()


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
    pids = stack.worker_pids()
    pinned: dict[int, http.client.HTTPConnection] = {}
    for _attempt in range(20):
        batch = [http.client.HTTPConnection("127.0.0.1", stack.port, timeout=15) for _ in range(8)]
        for conn in batch:
            conn.connect()
        for conn in batch:
            status, _, body = send(conn, "GET", RECORDS)
            assert status == 200, body
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
            status, _, body = request("POST", self.port, RECORDS, {"name": name})
            if status == 201 and body["name"] == name:
                self.written.append(name)
            else:
                self.refused.append((name, status, body))

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
        status = request("GET", port, READY)[2]
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
    assert request("POST", port, STORAGE, PETS_V1)[0] == 201
    old = [request("POST", port, RECORDS, {"name": f"old{i}"})[2] for i in range(20)]
    pinned = one_connection_per_worker(stack)
    writer = Writer(port)
    writer.start()
    try:
        writer.wait_for(20)
        status, headers, body = request("PUT", port, PETS, PETS_V2, **{"If-Match": '"1"'})
        assert (status, headers["etag"], body["status"]) == (202, '"2"', "pending"), body
        ready = wait_until_ready(port, 2)
        assert ready == {
            "name": "pets",
            "version": 2,
            "serving_version": 2,
            "status": "ready",
            "ready": True,
            "detail": None,
        }
        # From here on, each worker (one pinned connection each) must take the new field.
        problems = []
        for i in range(102):
            conn = list(pinned.values())[i % WORKERS]
            status, _, created = send(conn, "POST", RECORDS, {"name": f"new{i}", "color": "brown"})
            if status != 201 or created.get("color") != "brown":
                problems.append(("POST", i, status, created))
                continue
            status, _, read = send(conn, "GET", f"{RECORDS}{created['id']}/")
            if status != 200 or read.get("color") != "brown":
                problems.append(("GET", i, status, read))
        assert problems == []
        for conn in pinned.values():
            status, _, page = send(conn, "GET", f"{RECORDS}?color=unknown&limit=1")
            assert status == 200, page
            assert page["results"][0]["color"] == "unknown"
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
