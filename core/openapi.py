"""The API description's shared parts: the problem-details error format, and where it applies.

Every error of the API is one RFC 9457 problem document (core.problems). Rather than list
the same error responses on every view, one drf-spectacular postprocessing hook adds them
to each operation of the generated document, by what the operation declares: one that
needs a token can answer 401, 403, 429 and 503; one with a path parameter or a page, 404;
a write, 400 and 409, and with a body also 413 and 415; a query parameter or a header that
is validated, 400; If-Match, 412. A view adds only what these rules cannot see, with
`also_answers(...)` (a 409 on a read, a 428 for a missing If-Match).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter

from core.problems import PROBLEM_CONTENT_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "RFC 9457 problem details: the one error body of the whole API. `type` is a stable "
        "code for programs (docs/api.md lists every one), `detail` explains this occurrence "
        "for people."
    ),
    "properties": {
        "type": {"type": "string", "example": "validation-error"},
        "title": {"type": "string", "example": "Invalid input"},
        "status": {"type": "integer", "example": 400},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "Validation problems only: a dotted path into the request "
            "(`fields.2.type`, `age`, `3.age` in a bulk, a query parameter or a header name) "
            "mapped to its messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "current_version": {
            "type": "integer",
            "description": "412 only: the version the resource is at now.",
        },
        "fields": {
            "type": "array",
            "items": {"type": "string"},
            "description": "unique-violation only: the fields of the unique index.",
        },
        "item": {
            "type": "integer",
            "description": "unique-violation in a bulk create: the offending item's position.",
        },
        "storage_status": {
            "type": "string",
            "description": "not-ready only: the storage's status.",
        },
        "request_id": {
            "type": "string",
            "description": "500 only: the request id to quote when reporting it.",
        },
    },
    "required": ["type", "title", "status", "detail"],
}

PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: a body, query parameter or header that breaks a rule "
    "(`validation-error` with `errors`), or malformed JSON (`malformed-request`).",
    401: "No token, or an invalid, expired or revoked one (`not-authenticated`).",
    403: "The token has no grant for this (`permission-denied`).",
    404: "Nothing at this path: no such storage, record, version or token, or a page past "
    "the end (`not-found`, `storage-not-found`, `record-not-found`).",
    409: "A conflict: the name is taken, a unique index is violated, the storage has no "
    "table yet or a migration is in progress (`already-exists`, `unique-violation`, "
    "`not-ready`, `migration-in-progress`, `conflict`).",
    412: "If-Match names another version than the current one (`precondition-failed`, with "
    "`current_version`).",
    410: "The change feed's cursor is older than the deletions kept (`cursor-expired`, with "
    "`list`: take a fresh snapshot).",
    413: "The body is larger than MAX_REQUEST_BYTES, or holds too many items "
    "(`payload-too-large`).",
    415: "The body is not JSON (`unsupported-media-type`).",
    428: "If-Match is required here and was not sent (`precondition-required`).",
    429: "This token sent more requests than THROTTLE_RATE allows (`throttled`, with Retry-After).",
    503: "The database cannot be reached right now (`database-unavailable`), the change feed "
    "is being installed (`feed-not-ready`) or too many long-polls wait (`server-busy`); all "
    "with Retry-After.",
}

# An operation extension naming statuses the rules cannot infer (popped by the hook).
_ALSO = "x-also-answers"
_WRITES = frozenset({"post", "put", "patch"})
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# DRF's page-number pagination: a bad `limit` falls back to the default, a bad `page` is 404.
_PAGING = frozenset({"page", "limit"})


def also_answers(*statuses: int) -> dict[str, list[int]]:
    """`extend_schema(extensions=also_answers(409))`: problem statuses of a view that the
    rules of `error_statuses` cannot see (a 409 on a read, a 428 for a missing If-Match)."""
    return {_ALSO: list(statuses)}


def if_match(description: str) -> OpenApiParameter:
    """The If-Match header: a version tag as the ETag gave it (`"3"`; also `3`, `W/"3"`,
    `*`, or a comma-separated list)."""
    return OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, description=description)


def problem_responses(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook: add the Problem schema and each operation's
    problem responses. A status the view documents itself is left as it is."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(path, method, operation)):
                responses.setdefault(str(status), problem_response(status))
    return result


def problem_response(status: int) -> dict[str, Any]:
    return {
        "description": PROBLEM_DESCRIPTIONS[status],
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The problem statuses an operation can answer, from what it declares."""
    parameters = operation.get("parameters", [])
    query = {p["name"] for p in parameters if p["in"] == "query"}
    headers = {p["name"] for p in parameters if p["in"] == "header"}
    statuses = set(operation.pop(_ALSO, []))
    if operation.get("security"):
        statuses |= {401, 403, 429, 503}
    if "{" in path or "page" in query:
        statuses.add(404)
    if method in _WRITES:
        statuses |= {400, 409}
    if "requestBody" in operation:
        statuses |= {413, 415}
    if query - _PAGING or headers:
        statuses.add(400)  # a query parameter or a header (If-Match ...) that breaks a rule
    if "If-Match" in headers:
        statuses.add(412)
    return statuses
