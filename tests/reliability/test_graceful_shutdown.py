"""SIGTERM to the server while slow requests are in flight: they finish, nothing is cut off.

The requests are made slow for real: the test holds a lock on the storage's table, so
each one waits inside PostgreSQL, in the middle of its transaction. granian is told to
stop; once every worker has stopped accepting connections (its listening socket is out of
its epoll set), the lock goes, and every request must complete with its 201.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from storage.runtime import runtime_for
from tests.reliability.support import (
    Server,
    accepts_on,
    backends_waiting_on_locks,
    bearer,
    call,
    connect,
    wait_for,
)

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

NOTES = {"name": "rel_slow", "fields": [{"name": "text", "type": "text"}]}
RECORDS = "/api/v1/storage/rel_slow/"
IN_FLIGHT = 4  # at most one worker's threads (4): all are served, however spread


def test_sigterm_lets_in_flight_requests_finish(processes, admin_token, make_storage):
    make_storage(NOTES)
    server = Server(processes, WEB_CONCURRENCY="2").start()
    locker = connect()
    pool = ThreadPoolExecutor(max_workers=IN_FLIGHT)
    try:
        locker.execute("BEGIN")
        locker.execute('LOCK TABLE "ds_rel_slow" IN EXCLUSIVE MODE')
        pending = [
            pool.submit(
                call, server.port, "POST", RECORDS, {"text": f"n{n}"}, **bearer(admin_token)
            )
            for n in range(IN_FLIGHT)
        ]
        wait_for(lambda: backends_waiting_on_locks() == IN_FLIGHT, "requests in flight")
        workers = server.worker_pids()
        # A worker still starting (importing Django) has not registered its listener yet:
        # Server.start() waits for one answer, which any worker may give.
        wait_for(
            lambda: all(accepts_on(pid, server.port) for pid in workers),
            "every worker to accept connections",
        )

        server.process.terminate()  # SIGTERM to granian's main process

        wait_for(
            lambda: not any(accepts_on(pid, server.port) for pid in workers),
            "the workers to stop accepting",
        )
        assert not any(future.done() for future in pending)
        locker.execute("COMMIT")
        replies = [future.result() for future in pending]  # a reset would raise here
    finally:
        pool.shutdown()
        locker.close()

    assert [(r.status, r.body["text"]) for r in replies] == [
        (201, f"n{n}") for n in range(IN_FLIGHT)
    ]
    assert server.process.wait(timeout=30) == 0
    assert sorted(runtime_for("rel_slow").model.objects.values_list("text", flat=True)) == [
        f"n{n}" for n in range(IN_FLIGHT)
    ]
