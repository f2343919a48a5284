"""Connection-level behaviour on PostgreSQL: statements prepared once, kept safe.

Statements are prepared per pooled connection (settings: DB_PREPARE_THRESHOLD). A
prepared plan is PostgreSQL's until the connection ends, and it outlives a change of the
columns it returns made by another connection: an online migration that relaxes a text
field's max_length (varchar(20) -> varchar(40)), or a storage deleted and declared again
with other types. PostgreSQL then refuses the old plan ("cached plan must not change
result type"), and psycopg would send it again on every later use. So on that error the
connection's prepared statements are deallocated (`DEALLOCATE ALL`, which psycopg also
takes as the signal to forget its own cache) and, when no transaction is open, the
statement runs again; inside a transaction that transaction is lost (its rollback also
clears the cache) and the request answers 503 with Retry-After.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import NotSupportedError

STALE_PLAN = "cached plan must not change result type"


def is_stale_plan(exc: BaseException) -> bool:
    return isinstance(exc, NotSupportedError) and STALE_PLAN in str(exc)


def retry_stale_plan(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    try:
        return execute(sql, params, many, context)
    except NotSupportedError as exc:
        if not is_stale_plan(exc):
            raise
        wrapper = context["connection"]
        if wrapper.in_atomic_block:
            raise
        wrapper.connection.execute("DEALLOCATE ALL")
        return execute(sql, params, many, context)


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    """connection_created receiver (sent on every connect, pooled ones included)."""
    if connection.vendor != "postgresql":
        return
    if retry_stale_plan not in connection.execute_wrappers:
        connection.execute_wrappers.append(retry_stale_plan)
