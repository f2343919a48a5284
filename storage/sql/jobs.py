"""The lock that keeps two workers off one job (storage.by_filter): a PostgreSQL advisory
lock of the worker's session, released when its run ends or its session dies (a killed
worker holds nothing). SQLite serves one worker: nothing to lock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def job_lock(job_id: uuid.UUID) -> Iterator[bool]:
    """Yields whether this session holds the job's lock (False: another worker runs it)."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = int.from_bytes(job_id.bytes[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        (acquired,) = cursor.fetchone()
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
