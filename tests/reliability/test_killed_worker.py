"""A granian worker killed with SIGKILL in the middle of a bulk write.

The victim's bulk create is caught half-way, deterministically: items 0-1499 are written
(by INSERTs of 1000, or by one COPY) and item 1500 waits on the unique index, behind a row
the test inserted and has not committed. The worker serving it is found through /proc and
killed. The other workers go on serving, granian's main process replaces the dead one
(--respawn-failed-workers), and no partial write remains.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from storage.runtime import runtime_for
from tests.reliability.support import (
    Reply,
    Server,
    bearer,
    call,
    connect,
    pid_with_local_port,
    query,
    wait_for,
)

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

LEDGER = {
    "name": "rel_ledger",
    "fields": [
        {"name": "batch", "type": "text", "required": True},
        {"name": "n", "type": "integer", "required": True},
        {"name": "tag", "type": "text", "required": True},
    ],
    "indexes": [{"fields": ["tag"], "unique": True}],
}
RECORDS = "/api/v1/storage/rel_ledger/"
VICTIM_ITEMS = 2000  # two INSERTs of 1000 (the bulk create's batch size), or one COPY
BLOCKING_ITEM = 1500  # in the second INSERT: past the first 1000 written
BACKGROUND_ITEMS = 50


def items(batch: str, count: int) -> list[dict]:
    return [{"batch": batch, "n": n, "tag": f"{batch}-{n}"} for n in range(count)]


class BulkWriter(threading.Thread):
    """Posts bulks of BACKGROUND_ITEMS until stopped; each bulk either answered or lost."""

    def __init__(self, port: int, token: str, name: str) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.writer = port, token, name
        self.acknowledged: list[str] = []
        self.unanswered: list[str] = []  # connection cut: outcome unknown to the client
        self.refused: list[tuple[str, Reply]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        number = 0
        while not self.stopping.is_set():
            batch = f"{self.writer}-{number}"
            number += 1
            try:
                reply = call(
                    self.port, "POST", RECORDS, items(batch, BACKGROUND_ITEMS), **bearer(self.token)
                )
            except OSError:
                self.unanswered.append(batch)
                continue
            if reply.status == 201 and len(reply.body) == BACKGROUND_ITEMS:
                self.acknowledged.append(batch)
            else:
                self.refused.append((batch, reply))


def _blocked_backend() -> tuple[int, int, str] | None:
    rows = query(
        "SELECT pid, client_port, query FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return rows[0] if len(rows) == 1 else None


def _replaced(server: Server, doomed: int) -> set[int] | None:
    pids = server.worker_pids()
    return pids if len(pids) == server.workers and doomed not in pids else None


def test_a_killed_worker_leaves_no_partial_write(processes, admin_token, make_storage):
    make_storage(LEDGER)
    server = Server(processes).start()
    workers_before = server.worker_pids()
    writers = [BulkWriter(server.port, admin_token, f"bg{n}") for n in range(3)]
    victim = ThreadPoolExecutor(max_workers=1)
    blocker = connect()
    try:
        for writer in writers:
            writer.start()
        wait_for(lambda: all(len(w.acknowledged) >= 3 for w in writers), "background writes")
        blocker.execute("BEGIN")
        blocker.execute(
            'INSERT INTO "ds_rel_ledger" (batch, n, tag, _version, _created_at, _updated_at) '
            "VALUES ('blocker', 0, %s, 1, now(), now())",
            [f"victim-{BLOCKING_ITEM}"],
        )
        outcome = victim.submit(
            call, server.port, "POST", RECORDS, items("victim", VICTIM_ITEMS), **bearer(admin_token)
        )
        backend_pid, client_port, statement = wait_for(_blocked_backend, "the victim to block")
        assert statement.startswith(('INSERT INTO "ds_rel_ledger"', 'COPY "ds_rel_ledger"'))
        doomed = pid_with_local_port(client_port, server.worker_pids())
        assert doomed in workers_before
        acknowledged_at_kill = [len(w.acknowledged) for w in writers]

        os.kill(doomed, signal.SIGKILL)

        with pytest.raises(ConnectionError):  # the victim's connection is cut: no answer
            outcome.result()
        replaced = wait_for(lambda: _replaced(server, doomed), "granian to replace the worker")
        blocker.execute("ROLLBACK")
        # The orphaned backend finishes waiting, finds its client gone and rolls back.
        wait_for(
            lambda: not query("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend_pid]),
            "the orphaned backend to end",
        )
        wait_for(
            lambda: all(
                len(w.acknowledged) >= n + 5
                for w, n in zip(writers, acknowledged_at_kill, strict=True)
            ),
            "the other workers to go on",
        )
    finally:
        for writer in writers:
            writer.stopping.set()
        for writer in writers:
            writer.join(timeout=30)
        victim.shutdown()
        blocker.close()

    assert server.process.poll() is None
    assert len(replaced - workers_before) == 1
    assert [w.refused for w in writers] == [[], [], []]
    stored = Counter(runtime_for("rel_ledger").model.objects.values_list("batch", flat=True))
    assert "victim" not in stored
    acknowledged = {batch for w in writers for batch in w.acknowledged}
    unanswered = {batch for w in writers for batch in w.unanswered}
    # Every bulk answered 201 is whole; a bulk cut off with the worker is whole or absent.
    assert {batch for batch in acknowledged if stored[batch] != BACKGROUND_ITEMS} == set()
    assert set(stored) <= acknowledged | unanswered
    assert set(stored.values()) == {BACKGROUND_ITEMS}
