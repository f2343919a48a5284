"""One scrape sums every process: three granian workers and the task worker, writing into
one PROMETHEUS_MULTIPROC_DIR, are counted exactly, whichever worker answers the scrape."""

from __future__ import annotations

import http.client
import re
import sys
from pathlib import Path

import pytest

from access.services import token_issue
from core.tests.scrapes import samples, value
from factory.models import StorageVersion, VersionStatus
from factory.tests.factories import dogs_definition
from tests.reliability.support import CLIENT_TIMEOUT, Server, bearer, call, wait_for

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]

WORKERS = 3
DOGS = "/api/v1/storage/dogs/"
DOG = {"name": "Rex", "registered_at": "2024-05-01T12:00:00Z"}
REQUESTS = "datastorage_http_requests_total"


def scrape(port: int, token: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request("GET", "/api/v1/metrics", headers=bearer(token))
        response = conn.getresponse()
        body = response.read().decode()
    finally:
        conn.close()
    assert response.status == 200, body
    return samples(body)


def test_a_scrape_sums_exact_counts_over_every_process(processes, make_storage, tmp_path):
    metrics_dir = tmp_path / "metrics"
    make_storage(dogs_definition())
    token = token_issue(name="metrics-admin", admin=True).secret
    worker = processes.spawn(
        "worker",
        [sys.executable, "manage.py", "run_worker", "--interval", "0.1"],
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    metrics_dir.mkdir()  # as `make serve` does before starting the worker and the server
    server = Server(
        processes, WEB_CONCURRENCY=str(WORKERS), PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    ).start()

    # Each request on a connection of its own, so that every worker takes some.
    keys = [call(server.port, "POST", DOGS, DOG, **bearer(token)).body["id"] for _ in range(30)]
    for key in keys[:20]:
        assert call(server.port, "GET", f"{DOGS}{key}/", **bearer(token)).status == 200
    assert call(server.port, "GET", f"{DOGS}999999/", **bearer(token)).status == 404
    for _ in range(15):
        assert call(server.port, "GET", "/api/v1/health/live/").status == 200
    assert call(server.port, "GET", "/no/such/path").status == 404
    put = call(
        server.port,
        "PUT",
        "/api/v1/factory/storage/dogs/",
        dogs_definition(fields=[*dogs_definition()["fields"], {"name": "color", "type": "text"}]),
        **bearer(token),
        **{"If-Match": '"1"'},
    )
    assert put.status == 202, put.body
    wait_for(
        lambda: StorageVersion.objects.filter(number=2, status=VersionStatus.READY).exists(),
        "the worker to apply version 2",
    )

    writers = {
        int(m[1]) for f in metrics_dir.iterdir() if (m := re.match(r"counter_(\d+)", f.name))
    }
    assert len(writers & server.worker_pids()) >= 2, "the requests all went to one worker"
    assert worker.pid in _pids_with_histograms(metrics_dir)

    found = scrape(server.port, token)
    front = {"door": "front"}
    assert value(found, REQUESTS, route="record-list", method="POST", status="2xx", **front) == 30
    assert value(found, REQUESTS, route="record-detail", method="GET", status="2xx", **front) == 20
    assert value(found, REQUESTS, route="record-detail", method="GET", status="4xx") == 1
    assert value(found, REQUESTS, route="health-live", door="django", status="2xx") == 15
    assert value(found, REQUESTS, route="unmatched", status="4xx") == 1
    assert value(found, REQUESTS, route="metrics") == 0  # a scrape counts once it is answered
    assert (
        value(found, "datastorage_records_written_total", storage="dogs", operation="create") == 30
    )
    duration = "datastorage_schema_change_duration_seconds_count"
    assert value(found, duration, outcome="ready") == 1  # from the task worker's process
    assert value(found, "datastorage_schema_versions", status="pending") == 0
    assert value(found, "datastorage_worker_last_heartbeat_timestamp_seconds") > 0
    assert value(found, "datastorage_db_pool_connections") >= WORKERS

    again = scrape(server.port, token)  # whichever worker answers, the same sums
    assert value(again, REQUESTS, route="record-list", method="POST") == 30
    assert value(again, REQUESTS, route="metrics", status="2xx") == 1


def _pids_with_histograms(directory: Path) -> set[int]:
    return {int(m[1]) for f in directory.iterdir() if (m := re.match(r"histogram_(\d+)", f.name))}
