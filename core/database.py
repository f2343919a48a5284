"""Connection-level behaviour on PostgreSQL: statements prepared once, kept safe, and
timestamps and json values read without a parser written in Python.

**Timestamps.** Django reads every `timestamptz` through a loader of its own, a subclass
of psycopg's pure-Python one (psycopg's C loader cannot be subclassed), only to set the
result's tzinfo; on a page of records it was about a seventh of the request. With the
session in UTC, which Django sets, PostgreSQL writes every value as
`YYYY-MM-DD HH:MM:SS[.ffffff]+00`, which `datetime.fromisoformat` (C) reads; anything
else (`infinity`, BC dates, years past 9999) goes to Django's loader as before.

**json values.** Django reads `jsonb` as text (psycopg's TextLoader) and JSONField's
converter parses it with json.loads, a Python call per value and row. A page's cursor can
read it with orjson instead, in the loader (read_json_natively), to the same values
(core.json.loads_stored); the page then has no converter to run (storage.sql.pages).

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

import datetime
from collections.abc import Callable
from typing import Any

import psycopg
from django.db import InternalError, NotSupportedError
from psycopg.adapt import Loader
from psycopg.postgres import types
from psycopg.pq import Format

from core.json import loads_stored

TIMESTAMPTZ_OID = types["timestamptz"].oid
JSONB_OID = types["jsonb"].oid

STALE_PLAN = "cached plan must not change result type"


def is_stale_plan(exc: BaseException) -> bool:
    return isinstance(exc, NotSupportedError) and STALE_PLAN in str(exc)


# How a Citus coordinator reports a statement it could not finish on a worker: the worker
# is unreachable, or the shard it wrote went away under it (its table dropped meanwhile).
_REMOTE_FAILURES = ("failure on connection marked as essential", "connection to the remote node")


def is_remote_failure(exc: BaseException) -> bool:
    """A statement a Citus worker did not finish (XX000): an outage of that node, for the
    client (503, retry), as a lost connection is; never the client's fault, nor a bug."""
    return isinstance(exc, InternalError) and str(exc).startswith(_REMOTE_FAILURES)


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


class UTCTimestampLoader(Loader):
    """Reads `timestamptz` as Django's loader does when the session is in UTC."""

    # Django's loader whose work this takes over for the rest; its `timezone` is what
    # Django compares before each cursor (set by utc_loader_for).
    general: Any = None
    timezone: Any = None

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._general = self.general(oid, context)

    def load(self, data: Any) -> datetime.datetime:
        try:
            value = datetime.datetime.fromisoformat(bytes(data).decode())
        except ValueError:
            return self._general.load(data)
        if value.utcoffset() != datetime.timedelta(0):
            return self._general.load(data)
        return value.replace(tzinfo=self.timezone)


def utc_loader_for(general: Any) -> type[UTCTimestampLoader] | None:
    """A UTCTimestampLoader standing in for Django's loader `general`, when that one sets
    a UTC tzinfo (None otherwise: then Django's stays)."""
    zone = getattr(general, "timezone", None)
    if zone is None or zone.utcoffset(None) != datetime.timedelta(0):
        return None
    return type("UTCTimestampLoader", (UTCTimestampLoader,), {"general": general, "timezone": zone})


def _read_timestamps_in_c(conn: Any) -> None:
    current = conn.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if current is None or issubclass(current, UTCTimestampLoader):
        return
    loader = utc_loader_for(current)
    if loader is not None:
        conn.adapters.register_loader(TIMESTAMPTZ_OID, loader)


# psycopg's own timestamptz loader: C when psycopg's binary package is installed. It
# cannot be subclassed, so it cannot carry the `timezone` attribute Django reads off the
# connection's loader before each cursor; it is registered per cursor instead.
_PSYCOPG_TIMESTAMPS = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)


def read_timestamps_natively(cursor: Any) -> None:
    """Have this (Django) cursor read `timestamptz` with psycopg's own loader, when that
    gives exactly what Django's gives: the session in UTC (psycopg then sets tzinfo to
    datetime.UTC) and Django's loader setting UTC too. Worth it for statements returning
    many timestamps (a page of records: 63 of them, a fifth of the page's time read in
    Python); registering costs a copy of the cursor's loader map."""
    inner = getattr(cursor, "cursor", None)
    if not isinstance(inner, psycopg.Cursor) or inner.connection.info.timezone is not datetime.UTC:
        return
    current = inner.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if getattr(current, "timezone", None) is datetime.UTC:
        inner.adapters.register_loader(TIMESTAMPTZ_OID, _PSYCOPG_TIMESTAMPS)


class StoredJSONLoader(Loader):
    """Reads `jsonb` into the value Django's JSONField converter (json.loads of the text)
    gives, in one step (core.json.loads_stored)."""

    def load(self, data: Any) -> Any:
        return loads_stored(bytes(data))


def read_json_natively(cursor: Any) -> None:
    """Have this (Django) cursor read `jsonb` values parsed, not as text: a statement whose
    json columns then go without JSONField's converter (storage.sql.pages). Raises
    NotSupportedError for a cursor that is not psycopg's (it would give text)."""
    inner = getattr(cursor, "cursor", None)
    if not isinstance(inner, psycopg.Cursor):
        raise NotSupportedError("json values are read natively by psycopg cursors only")
    inner.adapters.register_loader(JSONB_OID, StoredJSONLoader)


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    """connection_created receiver (sent on every connect, pooled ones included)."""
    if connection.vendor != "postgresql":
        return
    if retry_stale_plan not in connection.execute_wrappers:
        connection.execute_wrappers.append(retry_stale_plan)
    _read_timestamps_in_c(connection.connection)


def pool_stats() -> dict[str, int] | None:
    """psycopg's statistics of this process's pool (get_stats()); None without one (SQLite,
    or no connection asked for yet). For the metrics (core.metrics.sample_pool)."""
    from django.db import connections

    wrapper = connections["default"]
    # The pools are shared by every thread's wrapper (a class attribute); `wrapper.pool`
    # would create one, which merely looking must not.
    pool = getattr(wrapper, "_connection_pools", {}).get(wrapper.alias)
    return None if pool is None else pool.get_stats()
