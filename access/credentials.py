"""A request's credentials, read once: `Authorization: Bearer <token>`, its hash, and the
token it names (`authenticate`).

DRF's authentication (access.authentication) and the records front door (storage.frontdoor)
both authenticate here, so a header one of them refuses the other refuses the same way.
"""

from __future__ import annotations

import hashlib
from typing import Any

from access.selectors import KeyedRead, TokenRow, token_lookup
from core.errors import AuthenticationFailed, NotAuthenticated

# The WWW-Authenticate challenge of every 401.
CHALLENGE = 'Bearer realm="datastorage"'
# DRF's words for a request without credentials (its NotAuthenticated.default_detail).
NO_CREDENTIALS = "Authentication credentials were not provided."

# Longer secrets are no token of ours; refused before they are hashed.
_MAX_SECRET = 200


def hash_secret(secret: str) -> str:
    """What a token's row keeps of its secret (a token is 256 random bits: a fast hash is
    enough)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_secret(header: str) -> str | None:
    """The secret of an `Authorization` header, the scheme in any case; None for a header
    that is not `Bearer <secret>` (an empty one included)."""
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip() or len(secret) > _MAX_SECRET:
        return None
    return secret.strip()


def bearer_hash(header: str) -> str | None:
    """The hash of the header's secret (what access.selectors.token_lookup looks up), or
    None as bearer_secret."""
    secret = bearer_secret(header)
    return None if secret is None else hash_secret(secret)


def authenticate(
    header: str, storage_name: str | None, *, record: KeyedRead | None = None, key: Any = None
) -> TokenRow:
    """The active token an `Authorization` header names, with its grant on and the row of
    `storage_name` (and the record `record` reads by `key`: access.selectors.token_lookup).
    Raises NotAuthenticated without a header, AuthenticationFailed for one that does not
    hold."""
    return token_for(presented_hash(header), storage_name, record=record, key=key)


def presented_hash(header: str) -> str:
    """The hash of the secret an `Authorization` header presents. Raises NotAuthenticated
    without a header, AuthenticationFailed for one that is not `Bearer <secret>`."""
    if not header:
        raise NotAuthenticated(NO_CREDENTIALS, challenge=CHALLENGE)
    secret = bearer_secret(header)
    if secret is None:
        raise AuthenticationFailed("Send `Authorization: Bearer <token>`.", challenge=CHALLENGE)
    return hash_secret(secret)


def token_for(
    secret_hash: str,
    storage_name: str | None,
    *,
    record: KeyedRead | None = None,
    key: Any = None,
) -> TokenRow:
    """The active token with this hash (see authenticate). Raises AuthenticationFailed."""
    row = token_lookup(secret_hash=secret_hash, storage_name=storage_name, record=record, key=key)
    if row is None:
        raise AuthenticationFailed("The token is invalid, expired or revoked.", challenge=CHALLENGE)
    return row
