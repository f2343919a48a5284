"""Who is asking, and (for storage URLs) what they may do there, in one query.

Every API request pays this lookup, so it is one statement compiled once: the token by its
hash, and, when the URL names a storage, that storage's serving version and the token's
grant on it. A read of one record can ride along (the record joined by its key): the
records API's most common request then costs one round trip. Table and column names come
from the models (quoted by Django); values are parameters. Nothing here decides a rule
itself: the token's WHERE is Django's compilation of access.models.active_at, and the grant
check inside a write (token_guard) is access.grants.grant_condition.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import Any, Protocol

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Q
from django.utils import timezone

from access.grants import GRANT_KINDS, grant_condition, grant_decode
from access.models import ApiToken, Grant, active_at
from factory.models import StorageDefinition


class KeyedRead(Protocol):
    """A primary-key read that token_lookup can join (storage.sql.keyed.KeyedSelect: the
    records SQL lives above this app, so this app names only what it needs of it)."""

    table: str
    key_column: str
    columns: str

    def key_param(self, key: Any) -> Any: ...

    def record(self, row: Any) -> SimpleNamespace: ...


@dataclass(frozen=True)
class Guard:
    """A query that must return a row for a statement to take effect (a CTE `name`;
    storage.sql.keyed.KeyedUpdate takes one)."""

    name: str
    sql: str
    params: tuple[Any, ...]


@dataclass(frozen=True)
class StorageRow:
    """What the records API needs to know about a storage before it serves a request."""

    id: int
    serving_version: int | None
    status: str


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    admin: bool
    access: tuple[str, ...] | None  # on the named storage; None when no storage was named
    storage: StorageRow | None  # None when not named, or no storage has that name
    record: SimpleNamespace | None = None  # the record asked for, when it exists

    def access_to(self, storage_name: str) -> tuple[str, ...]:
        """The grant on the storage this row was looked up for (as Principal answers;
        access.grants.may_access decides with it)."""
        return self.access or ()


@dataclass(frozen=True)
class _Statements:
    alone: str
    with_storage: str
    # `with_storage` in parts, for the variant that joins a record too.
    storage_select: str
    storage_from: str
    where: str
    # Each grant kind's column (alias `g`), and the token's admin column.
    grant_columns: dict[str, str]
    admin: str


# Stand-ins the token's WHERE is compiled with; each request binds its own values.
_SOME_HASH = "0" * 64
_SOME_TIME = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def _token_where() -> str:
    """The WHERE that finds the active token with a hash (params: the hash, then now as a
    datetime, which both drivers adapt), compiled by Django from the model's one definition
    of "active" (access.models.active_at)."""
    query = ApiToken.objects.filter(Q(secret_hash=_SOME_HASH) & active_at(_SOME_TIME)).query
    compiler = query.get_compiler(using=DEFAULT_DB_ALIAS)
    where, params = compiler.compile(query.where)
    if len(params) != 2 or params[0] != _SOME_HASH:
        raise ValueError(f"expected the hash and the time as parameters, got {params!r}")
    return f"({where})"


@cache
def _statements() -> _Statements:
    quote = connection.ops.quote_name
    token, grant, storage = (quote(m._meta.db_table) for m in (ApiToken, Grant, StorageDefinition))
    grant_columns = {kind: f"g.{quote(Grant._meta.get_field(kind).column)}" for kind in GRANT_KINDS}
    t_id, t_name, t_admin = (f"{token}.{quote(name)}" for name in ("id", "name", "admin"))
    active = _token_where()
    granted = ", ".join(grant_columns[kind] for kind in GRANT_KINDS)
    select = f"SELECT {t_id}, {t_name}, {t_admin}, {granted}, s.id, s.serving_version, s.status"
    tables = (
        f"{token} LEFT JOIN {storage} s ON s.name = %s "
        f"LEFT JOIN {grant} g ON g.token_id = {t_id} AND g.storage_id = s.id"
    )
    return _Statements(
        alone=f"SELECT {t_id}, {t_name}, {t_admin} FROM {token} WHERE {active}",
        with_storage=f"{select} FROM {tables} WHERE {active}",
        storage_select=select,
        storage_from=tables,
        where=active,
        grant_columns=grant_columns,
        admin=t_admin,
    )


@lru_cache(maxsize=1024)
def _with_record(table: str, key_column: str, columns: str) -> str:
    """The storage lookup, plus the record by its key (a LEFT JOIN: NULLs when absent)."""
    parts = _statements()
    return (
        f"{parts.storage_select}, {columns} FROM {parts.storage_from} "
        f"LEFT JOIN {table} ON {key_column} = %s WHERE {parts.where}"
    )


def token_lookup(
    *,
    secret_hash: str,
    storage_name: str | None,
    record: KeyedRead | None = None,
    key: Any = None,
) -> TokenRow | None:
    """The active token with this hash (None: unknown, expired or revoked).

    With `record` (the keyed read of the version the caller believes the storage serves)
    and `key`, the record comes along in `TokenRow.record`; the caller must check that the
    storage row names the version it assumed before trusting it.
    """
    statements = _statements()
    now = timezone.now()
    with connection.cursor() as cursor:
        if storage_name is None:
            cursor.execute(statements.alone, [secret_hash, now])
        elif record is None:
            cursor.execute(statements.with_storage, [storage_name, secret_hash, now])
        else:
            statement = _with_record(record.table, record.key_column, record.columns)
            cursor.execute(statement, [storage_name, record.key_param(key), secret_hash, now])
        row = cursor.fetchone()
    if row is None:
        return None
    if storage_name is None:
        return TokenRow(row[0], row[1], bool(row[2]), None, None)
    kinds = len(GRANT_KINDS)
    access = grant_decode(row[3 : 3 + kinds])
    row_storage = row[3 + kinds : 6 + kinds]
    storage = StorageRow(*row_storage) if row_storage[0] is not None else None
    found = record.record(row[6 + kinds :]) if record is not None else None
    if found is not None and found.pk is None:
        found = None  # the LEFT JOIN found no record with that key
    return TokenRow(row[0], row[1], bool(row[2]), access, storage, found)


@lru_cache(maxsize=16)
def _authorized(access: tuple[str, ...]) -> str:
    parts = _statements()
    granted = grant_condition(admin=parts.admin, columns=parts.grant_columns, needed=access)
    return (
        f"SELECT 1 FROM {parts.storage_from} WHERE {parts.where} "
        f"AND s.id = %s AND s.serving_version = %s AND {granted}"
    )


def token_guard(
    *,
    secret_hash: str,
    storage_name: str,
    storage_id: int,
    version: int,
    access: tuple[str, ...],
) -> Guard:
    """A guard that holds a row only while this token is active and may do each of
    `access` (as access.grants.may_access decides) on this storage, and the storage, by
    this id, serves this version: a write made under it is authorised in its own statement."""
    params = (storage_name, secret_hash, timezone.now(), storage_id, version)
    return Guard(name="authorized", sql=_authorized(access), params=params)
