"""Who is asking, and (for storage URLs) what they may do there, in one query.

Every API request pays this lookup, so it is one statement compiled once: the token by its
hash, and, when the URL names a storage, that storage's serving version and the token's
grant on it. Table and column names come from the models; values are parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.db import connection
from django.utils import timezone

from access.models import ApiToken, Grant
from factory.models import StorageDefinition


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
    access: frozenset[str] | None  # on the named storage; None when no storage was named
    storage: StorageRow | None  # None when not named, or no storage has that name


@cache
def _statements() -> tuple[str, str]:
    quote = connection.ops.quote_name
    token, grant, storage = (quote(m._meta.db_table) for m in (ApiToken, Grant, StorageDefinition))
    active = (
        "t.secret_hash = %s AND t.revoked_at IS NULL "
        "AND (t.expires_at IS NULL OR t.expires_at > %s)"
    )
    alone = f"SELECT t.id, t.name, t.admin FROM {token} t WHERE {active}"
    with_storage = (
        f"SELECT t.id, t.name, t.admin, g.read, g.write, g.manage, "
        f"s.id, s.serving_version, s.status FROM {token} t "
        f"LEFT JOIN {storage} s ON s.name = %s "
        f"LEFT JOIN {grant} g ON g.token_id = t.id AND g.storage_id = s.id "
        f"WHERE {active}"
    )
    return alone, with_storage


def token_lookup(*, secret_hash: str, storage_name: str | None) -> TokenRow | None:
    """The active token with this hash (None: unknown, expired or revoked)."""
    alone, with_storage = _statements()
    now = timezone.now()
    with connection.cursor() as cursor:
        if storage_name is None:
            cursor.execute(alone, [secret_hash, now])
        else:
            cursor.execute(with_storage, [storage_name, secret_hash, now])
        row = cursor.fetchone()
    if row is None:
        return None
    if storage_name is None:
        return TokenRow(row[0], row[1], bool(row[2]), None, None)
    kinds = ("read", "write", "manage")
    access = frozenset(kind for kind, allowed in zip(kinds, row[3:6], strict=True) if allowed)
    storage = StorageRow(row[6], row[7], row[8]) if row[6] is not None else None
    return TokenRow(row[0], row[1], bool(row[2]), access, storage)
