"""PostgreSQL restarted under write and read load, behind the real server (granian, 3 workers).

During the outage every request is answered, and a failure is a 503 problem with
Retry-After (no 500, no hang past the client's timeout); the service recovers without
restarting anything; every write answered 2xx is stored exactly once, and writes retried
with their Idempotency-Key are applied once. Reads by key and list pages (which the front
door, storage/frontdoor.py, answers on connections it keeps between requests, unchecked)
are answered 200 again from the first one sent after the service answered its health
check: a read on a connection the restart killed is answered by Django, on a new one.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from storage.runtime import runtime_for
from tests.reliability.conftest import reset_connections
from tests.reliability.support import Reply, Server, bearer, call, wait_for

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

JOURNAL = {
    "name": "rel_journal",
    "fields": [
        {"name": "writer", "type": "text", "required": True},
        {"name": "seq", "type": "integer", "required": True},
    ],
}
RECORDS = "/api/v1/storage/rel_journal/"
EARLY = {"writer": "early", "seq": 0}
WRITERS = 4


class Writer(threading.Thread):
    """Writes (writer, seq) records one after the other, each with its own Idempotency-Key,
    and retries a write until it is answered 2xx, as a well-behaved client does."""

    def __init__(self, port: int, token: str, name: str) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.writer = port, token, name
        self.acknowledged: list[int] = []
        self.answers: list[Reply] = []
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        # A write is retried until answered 2xx, even once asked to stop: a write that got
        # a 503 may have been committed, and only its retry tells.
        seq = 0
        while not self.failures:
            if self._write(seq):
                self.acknowledged.append(seq)
                seq += 1
                if self.stopping.is_set():
                    return

    def _write(self, seq: int) -> bool:
        headers = {**bearer(self.token), "Idempotency-Key": f"{self.writer}-{seq}"}
        try:
            reply = call(self.port, "POST", RECORDS, {"writer": self.writer, "seq": seq}, **headers)
        except OSError as exc:  # a timeout included: a hung request
            self.failures.append(f"seq {seq}: {exc!r}")
            return False
        self.answers.append(reply)
        if 200 <= reply.status < 300:
            return True
        time.sleep(0.2)  # backing off; Retry-After says 2 s, a test need not wait so long
        return False

    def acknowledged_after(self, count: int) -> bool:
        return len(self.acknowledged) >= count or bool(self.failures)


class Reader(threading.Thread):
    """Reads record 1 by key and a first page, in turn, until asked to stop, noting when
    each read was sent."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.replies: list[tuple[float, Reply]] = []
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        paths = (f"{RECORDS}1/", f"{RECORDS}?limit=5")
        while not self.stopping.is_set():
            sent = time.monotonic()
            try:
                reply = call(self.port, "GET", paths[len(self.replies) % 2], **bearer(self.token))
            except OSError as exc:
                self.failures.append(repr(exc))
                return
            self.replies.append((sent, reply))
            if reply.status != 200:
                time.sleep(0.2)

    def read_since(self, moment: float) -> list[Reply]:
        return [reply for sent, reply in self.replies if sent >= moment]


def _each_acknowledged(writers: list[Writer], before: list[int], more: int) -> bool:
    return all(w.acknowledged_after(n + more) for w, n in zip(writers, before, strict=True))


def test_writes_survive_a_postgresql_restart(processes, admin_token, make_storage, postgres):
    # The bounds the behaviour below relies on, as configured by default.
    assert settings.DB_POOL_TIMEOUT == 5
    assert settings.DATABASES["default"]["OPTIONS"]["pool"]["timeout"] == 5
    assert settings.DATABASES["default"]["OPTIONS"]["connect_timeout"] == 5
    assert settings.DATABASES["default"]["OPTIONS"]["pool"]["reconnect_timeout"] == 5
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    make_storage(JOURNAL)
    server = Server(processes).start()
    workers_before = server.worker_pids()
    keyed = {**bearer(admin_token), "Idempotency-Key": "early-0"}
    # A create whose answer the client will "lose": retried after the restart, it must
    # answer the stored result and not write again.
    early = call(server.port, "POST", RECORDS, EARLY, **keyed)
    assert early.status == 201, early.body
    writers = [Writer(server.port, admin_token, f"w{n}") for n in range(WRITERS)]
    reader = Reader(server.port, admin_token)
    probe = ThreadPoolExecutor(max_workers=1)
    for writer in writers:
        writer.start()
    reader.start()
    try:
        wait_for(lambda: all(w.acknowledged_after(5) for w in writers), "writes before")
        wait_for(lambda: len(reader.replies) >= 20, "reads before")
        postgres.stop()
        try:
            outage_health = probe.submit(call, server.port, "GET", "/api/v1/health/")
            at_stop = [len(w.answers) for w in writers]
            # Each writer gets an answer while the server is down ...
            wait_for(
                lambda: all(len(w.answers) > n for w, n in zip(writers, at_stop, strict=True)),
                "answers during the outage",
            )
            # ... once the pool's wait for a connection has run out, bounded, into a 503.
            wait_for(
                lambda: "couldn't get a connection after 5.00 sec" in server.log(),
                "a pool timeout",
            )
            live = call(server.port, "GET", "/api/v1/health/live/")
            assert (live.status, live.body) == (200, {"status": "ok"})
            outage_health.result()
        finally:
            postgres.start()
        reset_connections()
        # The first request after the restart is served: the pool reconnects on demand
        # (psycopg's default, minutes of backoff, would answer 503 for a while).
        recovered = call(server.port, "GET", "/api/v1/health/")
        recovered_at = time.monotonic()
        at_restart = [len(w.acknowledged) for w in writers]
        wait_for(lambda: _each_acknowledged(writers, at_restart, 10), "writes after the restart")
        wait_for(lambda: len(reader.read_since(recovered_at)) >= 20, "reads after the restart")
    finally:
        for writer in writers:
            writer.stopping.set()
        reader.stopping.set()
        for writer in writers:
            writer.join(timeout=30)
        reader.join(timeout=30)
        probe.shutdown()

    assert [w.failures for w in writers] == [[] for _ in writers]
    assert reader.failures == []
    reads = [reply for _, reply in reader.replies]
    assert [
        r for r in reads if r.status != 200 and not r.is_problem(503, "database-unavailable")
    ] == []
    assert [r.status for r in reader.read_since(recovered_at) if r.status != 200] == []
    answers = [reply for w in writers for reply in w.answers]
    refused = [r for r in answers if not 200 <= r.status < 300]
    assert refused, "no request failed: the outage was not seen"
    assert [r for r in refused if not r.is_problem(503, "database-unavailable")] == []
    assert (recovered.status, recovered.body["database"]) == (200, "ok")
    health = outage_health.result()
    assert health.headers["retry-after"] == "2"
    assert (health.status, health.body) == (
        503,
        {"status": "unavailable", "database": "unavailable", "worker": "unknown"},
    )
    # Recovered in place: the same granian workers serve again.
    assert server.worker_pids() == workers_before
    # Nothing escaped the application: granian logs an exception raised out of it, with
    # its traceback. (One raised out of closing a response, where a failing
    # connection.close() would surface, granian drops unlogged: see docs/operations.md.)
    assert "Application callable raised an exception" not in server.log()
    assert "Traceback" not in server.log()
    retried = call(server.port, "POST", RECORDS, EARLY, **keyed)
    assert (retried.status, retried.body) == (201, early.body)
    assert retried.headers["idempotent-replayed"] == "true"

    stored = Counter(runtime_for("rel_journal").model.objects.values_list("writer", "seq"))
    acknowledged = Counter({("early", 0): 1})
    acknowledged.update((w.writer, seq) for w in writers for seq in w.acknowledged)
    # Exactly once: nothing acknowledged is missing, nothing is stored twice (a write
    # retried after a 503 whose commit went through was replayed, not applied again).
    assert stored == acknowledged
