"""The grant rule, decided here only: admin tokens may do everything; a client token what
its grant on the storage holds.

One table (`NEEDS`) says what each needed kind of access asks of a grant; the Python check
(`may_access`) and its SQL form (`grant_condition`, which access.selectors puts in the
statements that check a token inside a write) are both read from it, admin bypass included,
so they cannot disagree (access/tests/test_grants.py runs both over every combination).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

# What a token without the grant a storage operation needs is told (403).
NO_GRANT = "This token has no grant for this operation on this storage."

# What each method of the records API needs: the viewset's DRF permission (StorageAccess)
# and the records operations (storage.records) read this one table.
RECORD_ACCESS = {
    "GET": "read",
    "HEAD": "read",
    "OPTIONS": "read",
    "POST": "write",
    "PUT": "write",
    "PATCH": "write",
    "DELETE": "write",
}

# What a grant can hold, in the order of its boolean columns (access.models.Grant).
GRANT_KINDS = ("read", "write", "manage")

# What each needed access asks of a client token's grant: one of these kinds. "any": any
# grant at all; "admin": nothing a grant can give (admin tokens only).
NEEDS: Mapping[str, tuple[str, ...]] = {
    **{kind: (kind,) for kind in GRANT_KINDS},
    "any": GRANT_KINDS,
    "admin": (),
}


class Holder(Protocol):
    """Who holds grants: access.authentication.Principal, access.selectors.TokenRow."""

    admin: bool

    def access_to(self, storage_name: str) -> tuple[str, ...]: ...


def grant_decode(flags: Iterable[Any]) -> tuple[str, ...]:
    """The kinds a grant holds, in GRANT_KINDS order, from its columns in that order (no
    columns, or NULLs from an outer join: no grant)."""
    flags = tuple(flags) or (None,) * len(GRANT_KINDS)
    return tuple(kind for kind, held in zip(GRANT_KINDS, flags, strict=True) if held)


def may_access(principal: Holder, storage_name: str | None, *needed: str) -> bool:
    """Whether `principal` may do each of `needed` on `storage_name`. With no storage named
    (a list of storages) "any" lets every token in, to see its own; the rest need admin.
    An admin's grants are never read (for a Principal that would cost a query)."""
    if principal.admin:
        return True
    if storage_name is None:
        return all(need == "any" for need in needed)
    granted = principal.access_to(storage_name)
    return all(any(kind in granted for kind in NEEDS[need]) for need in needed)


def grant_condition(*, admin: str, columns: Mapping[str, str], needed: Iterable[str]) -> str:
    """`may_access` on a named storage as a SQL condition: `admin` is the token's admin
    column, `columns` each kind's grant column (NULL when there is no grant: a LEFT JOIN,
    which a WHERE reads as false, as the Python rule reads no grant)."""
    terms = [" OR ".join(columns[kind] for kind in NEEDS[need]) or "1 = 0" for need in needed]
    granted = " AND ".join(f"({term})" for term in terms) or "1 = 1"
    return f"({admin} OR ({granted}))"
