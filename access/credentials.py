"""A request's credentials, read once: `Authorization: Bearer <token>` and the token's hash.

DRF's authentication (access.authentication) and the records fast lane (storage.fastpath)
both read the header here, so a header one of them refuses the other refuses too.
"""

from __future__ import annotations

import hashlib

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
