"""Key-ordered batches of a queryset: how a long delete or update is cut into short
transactions (storage.by_filter's jobs, factory.services.retention)."""

from __future__ import annotations

from typing import Any

from django.db import models


def key_batch(rows: models.QuerySet, size: int) -> tuple[models.QuerySet, Any | None]:
    """The first `size` of `rows` in key order, as `rows` bounded by the last one's key
    (one range, not a list of keys: the statement stays small however large the batch),
    and that key; (rows, None) when fewer than `size` are left: they are the last batch.
    Rows that join `rows` below the edge meanwhile fall in this batch."""
    edge = list(rows.order_by("pk").values_list("pk", flat=True)[size - 1 : size])
    if not edge:
        return rows, None
    return rows.filter(pk__lte=edge[0]), edge[0]
