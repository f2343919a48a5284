"""The factory's part of the metrics, read from the database at scrape time: the same for
every process and every machine (core.metrics.add_collector).

- versions waiting for the worker (pending) and being applied (migrating);
- the last heartbeat of any worker, by the database's clock (factory.models.WorkerHeartbeat).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count, Max
from prometheus_client.core import GaugeMetricFamily

from factory.models import ACTIVE_STATUSES, StorageVersion, WorkerHeartbeat

logger = logging.getLogger("datastorage.metrics")


class SchemaChangeCollector:
    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts = dict(
                StorageVersion.objects.filter(status__in=ACTIVE_STATUSES)
                .values_list("status")
                .annotate(n=Count("id"))
            )
            last_seen = WorkerHeartbeat.objects.aggregate(last=Max("last_seen"))["last"]
        except DatabaseError as exc:
            # The scrape still answers (the request and 503 counters matter most then).
            logger.warning("metrics: database unavailable: %s", exc)
            return
        versions = GaugeMetricFamily(
            "datastorage_schema_versions",
            "Versions the worker has still to apply, by status (pending, migrating).",
            labels=["status"],
        )
        for status in ACTIVE_STATUSES:
            versions.add_metric([str(status)], counts.get(status, 0))
        yield versions
        yield GaugeMetricFamily(
            "datastorage_worker_last_heartbeat_timestamp_seconds",
            "Unix time of the last heartbeat of any worker (0: no worker ever seen).",
            value=last_seen.timestamp() if last_seen else 0,
        )
