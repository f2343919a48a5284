"""The optional `distribution` block of a definition: a storage sharded across a Citus
cluster.

    "distribution": {"shards": 8}

The table is distributed by its primary key, the one column whose uniqueness Citus can
enforce across shards alongside a one-field key: a unique index on other fields could not
hold (each shard would check only its own rows), so a distributed storage has none, and a
definition asking for one is refused before anything is created. Distribution is set when
the storage is created and never changes (factory.schema.changes); it needs PostgreSQL
with the citus extension in the service's database.

Every distributed table is colocated with no other (`colocate_with => 'none'`): storages
never join each other, and a storage of its own colocation group can be rebalanced, moved
or dropped without touching any other tenant's shards.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import connection

from factory.schema.blocks import is_block

DISTRIBUTION_KEYS = frozenset({"shards"})
MAX_SHARDS = 1024
_DURATION = re.compile(r"\d{1,6}(ms|s)")
CITUS_MISSING = (
    "distribution needs PostgreSQL with the citus extension in this database "
    "(CREATE EXTENSION citus); this service runs on {engine} without it"
)


def normalize_distribution(
    distribution: Any, definition: dict[str, Any], add_error: Any
) -> dict[str, Any] | None:
    """Validate a distribution block against the normalised `definition`; report problems
    with add_error(path, message); return its normal form (None: an ordinary table)."""
    if distribution is None:
        return None
    shape = "an object with 'shards'"
    if not is_block(distribution, DISTRIBUTION_KEYS, "distribution", shape, add_error):
        return None
    shards = distribution.get("shards")
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= MAX_SHARDS:
        add_error("distribution.shards", f"must be an integer from 1 to {MAX_SHARDS}")
    if not citus_installed():
        add_error("distribution", CITUS_MISSING.format(engine=_engine()))
    for position, index in enumerate(definition.get("indexes", [])):
        if index.get("unique"):
            add_error(
                f"indexes.{position}.unique",
                "a distributed storage cannot have unique indexes: Citus enforces uniqueness "
                "only on the distribution column (the primary key), and each shard would "
                "check only its own rows",
            )
    return {"shards": shards}


def citus_installed() -> bool:
    """Whether the service's database has the citus extension (a cheap catalogue read)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        return cursor.fetchone() is not None


def set_lock_timeout(timeout: str) -> None:
    """lock_timeout for the rest of this transaction, on every node: on a Citus cluster a
    SET LOCAL reaches the shards only when citus.propagate_set_commands says so (set_config
    never does), and an ALTER of a distributed table waits on the workers' locks."""
    if not _DURATION.fullmatch(timeout):
        raise ValueError(f"not a duration: {timeout!r}")
    with connection.cursor() as cursor:
        if citus_installed():
            cursor.execute("SET LOCAL citus.propagate_set_commands = 'local'")
        cursor.execute(f"SET LOCAL lock_timeout = '{timeout}'")


def _engine() -> str:
    return "PostgreSQL" if connection.vendor == "postgresql" else connection.vendor


def shards(definition: dict[str, Any]) -> int | None:
    """How many shards the storage's table is split into; None for an ordinary table."""
    block = definition.get("distribution")
    return None if block is None else block["shards"]


def is_distributed(definition: dict[str, Any]) -> bool:
    return definition.get("distribution") is not None
