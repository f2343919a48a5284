"""The optional `partition` block of a definition: a table partitioned by time (PostgreSQL).

    "partition": {"field": "recorded_at", "interval": "day" | "week" | "month"}

The table is `PARTITION BY RANGE (field)`, one partition per interval in UTC (a week starts
on Monday), plus a DEFAULT partition for values outside every partition. It is set when the
storage is created and never changes: a version that adds, removes or changes it is refused.

What a definition must be for that to hold, refused otherwise (400, every problem named):
- `field` is a `date` or `datetime` field that is required and not nullable (a row must
  have a partition), or `_created_at` (always set by the service). Not `_updated_at`: every
  write would move its row to another partition.
- The primary key is `serial`. PostgreSQL enforces uniqueness on a partitioned table only
  for constraints that contain the partition column, so the table's PRIMARY KEY is
  (key, field); the one-field key the API serves stays unique because no client can choose
  it: it is drawn from the table's sequence (creates, bulk creates, ingest and imports all
  leave it out; an upsert cannot match on it).
- Every unique index contains `field`, for the same reason.

This module is pure (no database): the rules above, and the calendar of partitions.
"""

from __future__ import annotations

import datetime
from typing import Any

from factory.schema.blocks import is_block
from factory.schema.specs import SYSTEM_FIELDS
from factory.schema.types import KEY_TYPES

PARTITION_KEYS = frozenset({"field", "interval"})
INTERVALS = ("day", "week", "month")
PARTITION_TYPES = ("date", "datetime")
# System columns a table may be partitioned on: set once by the service, never changed.
SYSTEM_PARTITION_FIELDS = frozenset({"_created_at"})


def is_partitioned(definition: dict[str, Any]) -> bool:
    return definition.get("partition") is not None


def normalize_partition(
    partition: Any, definition: dict[str, Any], add_error: Any
) -> dict[str, Any] | None:
    """Validate a partition block against the normalised `definition` (its fields, key and
    indexes); report problems with add_error(path, message); return its normal form."""
    if partition is None:
        return None
    shape = "an object with 'field' and 'interval'"
    if not is_block(partition, PARTITION_KEYS, "partition", shape, add_error):
        return None
    field = partition.get("field")
    _check_field(partition, definition, add_error)
    interval = partition.get("interval")
    if "interval" not in partition:
        add_error("partition.interval", "This field is required.")
    elif interval not in INTERVALS:
        add_error("partition.interval", f"must be one of {', '.join(INTERVALS)}; got {interval!r}")
    _check_key(definition, add_error)
    _check_unique_indexes(field, definition, add_error)
    return {"field": field, "interval": interval}


def _check_field(partition: dict[str, Any], definition: dict[str, Any], add_error: Any) -> None:
    if "field" not in partition:
        add_error("partition.field", "This field is required.")
        return
    field = partition["field"]
    if isinstance(field, str) and field in SYSTEM_PARTITION_FIELDS:
        return
    specs = {spec["name"]: spec for spec in definition.get("fields", [])}
    if not isinstance(field, str) or field not in specs:
        system = isinstance(field, str) and field in SYSTEM_FIELDS
        system = " (of the system fields, only _created_at)" if system else ""
        add_error("partition.field", f"Unknown field {field!r}{system}.")
        return
    spec = specs[field]
    if spec["type"] not in PARTITION_TYPES:
        add_error(
            "partition.field",
            f"'{field}' is of type {spec['type']}; a table is partitioned by a "
            f"{' or '.join(PARTITION_TYPES)} field.",
        )
    elif not spec["required"] or spec["nullable"]:
        add_error(
            "partition.field",
            f"'{field}' must be required and not nullable: every record needs a value to "
            "find its partition by.",
        )


def _check_key(definition: dict[str, Any], add_error: Any) -> None:
    key_type = definition["primary_key"]["type"]
    if not KEY_TYPES[key_type].generated:
        add_error(
            "primary_key.type",
            f"a partitioned storage needs a serial key, not {key_type}: PostgreSQL enforces "
            "uniqueness on a partitioned table only together with the partition field, so "
            "only a key the server draws from its sequence (and no client chooses) stays "
            "unique on its own.",
        )


def _check_unique_indexes(field: Any, definition: dict[str, Any], add_error: Any) -> None:
    for position, spec in enumerate(definition.get("indexes", [])):
        if spec["unique"] and field not in spec["fields"]:
            add_error(
                f"indexes.{position}.fields",
                f"a unique index of a storage partitioned by '{field}' must contain "
                f"'{field}': PostgreSQL cannot enforce uniqueness across partitions otherwise.",
            )


# --- The calendar of partitions (UTC) -----------------------------------------------------


def interval_start(moment: datetime.date, interval: str) -> datetime.date:
    """The first day of the interval `moment` falls in (a datetime counts in UTC)."""
    if isinstance(moment, datetime.datetime):
        moment = moment.astimezone(datetime.UTC).date()
    if interval == "day":
        return moment
    if interval == "week":
        return moment - datetime.timedelta(days=moment.weekday())
    return moment.replace(day=1)


def next_start(start: datetime.date, interval: str) -> datetime.date:
    """The first day of the interval after the one starting on `start`."""
    if interval == "day":
        return start + datetime.timedelta(days=1)
    if interval == "week":
        return start + datetime.timedelta(weeks=1)
    year, month = divmod(start.month, 12)
    return start.replace(year=start.year + year, month=month + 1, day=1)


def starts_ahead(now: datetime.datetime, interval: str, ahead: int) -> list[datetime.date]:
    """The intervals a table keeps partitions for: the current one and `ahead` more."""
    starts = [interval_start(now, interval)]
    for _ in range(max(ahead, 0)):
        starts.append(next_start(starts[-1], interval))
    return starts
