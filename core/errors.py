"""Domain exceptions shared by every app.

They carry no HTTP: `core.exception_handler` maps each category to its status and the
problem-details body. Services raise these; views never build error responses by hand.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every expected failure. `code` becomes the problem's `type`."""

    code = "error"
    title = "Error"

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        # Extra members of the problem body (e.g. current_version, errors).
        self.extra = extra


class NotFound(DomainError):
    code = "not-found"
    title = "Not found"


class StorageNotFound(NotFound):
    code = "storage-not-found"
    title = "Storage not found"


class RecordNotFound(NotFound):
    code = "record-not-found"
    title = "Record not found"


class NotAuthenticated(DomainError):
    """No credentials: 401. `challenge` is the WWW-Authenticate value (the scheme is
    access.credentials'; core names none)."""

    code = "not-authenticated"
    title = "Authentication required"

    def __init__(self, detail: str = "", challenge: str = "", **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.challenge = challenge


class AuthenticationFailed(NotAuthenticated):
    """Credentials that do not hold: a malformed header, an unknown or expired token."""

    title = "Authentication failed"


class Forbidden(DomainError):
    """The token may not do this (the grant rule itself lives in access.grants)."""

    code = "permission-denied"
    title = "Permission denied"


class ValidationFailed(DomainError):
    """Input broke a rule. `errors` maps a dotted path to a list of messages."""

    code = "validation-error"
    title = "Invalid input"

    def __init__(self, errors: dict[str, list[str]], detail: str = "") -> None:
        super().__init__(detail or "The request has invalid input; see errors.", errors=errors)
        self.errors = errors


class IncompatibleChange(ValidationFailed):
    code = "incompatible-change"
    title = "Incompatible schema change"


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict"


class AlreadyExists(Conflict):
    code = "already-exists"
    title = "Already exists"


class UniqueViolation(Conflict):
    code = "unique-violation"
    title = "Unique constraint violated"


class IdempotencyKeyReused(Conflict):
    """An Idempotency-Key already guards another request (other method, path or body)."""

    code = "idempotency-key-reused"
    title = "Idempotency key reused"


class NotReady(Conflict):
    """The target exists but cannot serve yet (no table, migration running...)."""

    code = "not-ready"
    title = "Not ready"

    def __init__(self, detail: str = "", retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class MigrationInProgress(NotReady):
    code = "migration-in-progress"
    title = "A migration is in progress"


class PreconditionRequired(DomainError):
    code = "precondition-required"
    title = "Precondition required"


class PreconditionFailed(DomainError):
    code = "precondition-failed"
    title = "Precondition failed"


class Gone(DomainError):
    """What was asked for existed once and is gone for good."""

    code = "gone"
    title = "Gone"


class CursorExpired(Gone):
    """A change-feed cursor older than the tombstones kept (FEED_TOMBSTONE_DAYS)."""

    code = "cursor-expired"
    title = "Cursor expired"


class PayloadTooLarge(DomainError):
    code = "payload-too-large"
    title = "Payload too large"

    @classmethod
    def body(cls, limit: int) -> PayloadTooLarge:
        """A request body over `limit` bytes, announced or as it arrives."""
        return cls(f"The request body exceeds the limit of {limit} bytes.")


class Unavailable(DomainError):
    code = "service-unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str = "", retry_after: int = 2, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class FeedNotReady(Unavailable):
    """A storage whose table predates the change feed, until the worker installed it."""

    code = "feed-not-ready"
    title = "Feed not ready"


class ServerBusy(Unavailable):
    """No slot is free for another streamed answer (core.slow_clients)."""

    code = "server-busy"
    title = "Server busy"

    def __init__(self, detail: str = "", retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
