"""Far more concurrent clients than database connections.

One granian worker with 12 threads and a pool of 2 connections; 40 clients post at once.
The test holds a lock on the storage's table, so the two requests that get a connection
keep it, busy inside PostgreSQL, and every other request waits for the pool. That wait is
bounded (DB_POOL_TIMEOUT): beyond it clients get 503 with Retry-After, never a 500 or a
hang; liveness keeps answering; and once the lock goes, the service serves again.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from storage.runtime import runtime_for
from tests.reliability.support import Reply, Server, bearer, call, connect, wait_for

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

COUNTS = {"name": "rel_counts", "fields": [{"name": "client", "type": "integer"}]}
RECORDS = "/api/v1/storage/rel_counts/"
CLIENTS = 40
POOL_MAX = 2


class Client(threading.Thread):
    def __init__(self, port: int, token: str, number: int) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.number = port, token, number
        self.answers: list[Reply] = []
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                reply = call(
                    self.port, "POST", RECORDS, {"client": self.number}, **bearer(self.token)
                )
            except OSError as exc:
                self.failures.append(repr(exc))
                return
            self.answers.append(reply)

    def created(self) -> int:
        return sum(1 for reply in self.answers if reply.status == 201)


def _probe(port: int, live: list[Reply], health: list[Reply], stop: threading.Event) -> None:
    """Liveness and readiness, asked again and again while the clients run."""
    while not stop.is_set():
        live.append(call(port, "GET", "/api/v1/health/live/"))
        health.append(call(port, "GET", "/api/v1/health/"))


def test_overload_answers_503_with_retry_after_and_stays_live(processes, admin_token, make_storage):
    make_storage(COUNTS)
    server = Server(
        processes,
        WEB_CONCURRENCY="1",
        GRANIAN_BLOCKING_THREADS="12",
        DB_POOL_MIN="1",
        DB_POOL_MAX=str(POOL_MAX),
        DB_POOL_TIMEOUT="1",
    ).start()
    clients = [Client(server.port, admin_token, n) for n in range(CLIENTS)]
    locker = connect()
    prober = ThreadPoolExecutor(max_workers=1)
    live: list[Reply] = []
    health: list[Reply] = []
    try:
        locker.execute("BEGIN")
        locker.execute('LOCK TABLE "ds_rel_counts" IN EXCLUSIVE MODE')
        for client in clients:
            client.start()

        prober.submit(_probe, server.port, live, health, clients[0].stopping)

        def overloaded() -> bool:
            refused = sum(1 for c in clients for r in c.answers if r.status == 503)
            return (refused >= CLIENTS and live and health) or any(c.failures for c in clients)

        wait_for(overloaded, "clients to be refused")
        created_under_load = sum(c.created() for c in clients)
        locker.execute("COMMIT")
        created_at_release = [c.created() for c in clients]
        wait_for(
            lambda: all(
                c.created() > n or c.failures
                for c, n in zip(clients, created_at_release, strict=True)
            ),
            "every client to be served again",
        )
    finally:
        for client in clients:
            client.stopping.set()
        for client in clients:
            client.join(timeout=30)
        prober.shutdown()
        locker.close()

    assert [c.failures for c in clients] == [[] for _ in clients]
    answers = [reply for c in clients for reply in c.answers]
    assert {reply.status for reply in answers} == {201, 503}
    assert [
        r for r in answers if r.status == 503 and not r.is_problem(503, "database-unavailable")
    ] == []
    # While the lock held the pool's connections nothing could be created.
    assert created_under_load == 0
    assert {(r.status, r.body["status"]) for r in live} == {(200, "ok")}
    # Readiness answers too: 503 while it cannot get a connection, never a 500 or a hang.
    assert {r.status for r in health} <= {200, 503}
    assert "couldn't get a connection after 1.00 sec" in server.log()
    # A 503 wrote nothing; every 201 wrote its record.
    stored = runtime_for("rel_counts").model.objects.count()
    assert stored == sum(c.created() for c in clients)
