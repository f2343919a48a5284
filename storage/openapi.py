"""How the global API description (/api/v1/schema/) shows the records API.

Every storage has its own record shape, so in the global document a record is any JSON
object. The exact shape of one storage's records (fields, types, constraints) and the
filters it accepts are in that storage's own contract, an OpenAPI document generated from
its definition: GET /api/v1/factory/storage/{name}/schema/ (storage.contract).
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from core.openapi import also_answers, if_match
from storage import export


class RecordsSchema(AutoSchema):
    """The records viewset's operations as they are described below: its `list` answers a
    page (an object), which drf-spectacular would otherwise wrap in an array."""

    def _is_list_view(self, serializer: object = None) -> bool:
        return False


_CONTRACT = (
    "Its exact shape (fields, types, constraints) is in the storage's own contract: "
    "`GET /api/v1/factory/storage/{name}/schema/`."
)
RECORD = {
    "type": "object",
    "additionalProperties": True,
    "description": "A record: the primary key, the storage's fields, then the system fields "
    f"`_version`, `_created_at` and `_updated_at`. {_CONTRACT}",
}
_RECORDS = {"type": "array", "items": RECORD}
_ONE_OR_MANY = {"oneOf": [RECORD, _RECORDS]}
_PAGE = {
    "type": "object",
    "properties": {
        "results": _RECORDS,
        "next": {"type": "string", "format": "uri", "nullable": True},
        "previous": {"type": "string", "format": "uri", "nullable": True},
        "count": {"type": "integer", "description": "Only when `count` was asked for."},
        "changes": {
            "type": "string",
            "format": "uri",
            "description": "On a first page (no `cursor`): the change feed from just before "
            "this page was read. Take a snapshot by following `next`, then follow this link: "
            "no change is missed.",
        },
    },
    "required": ["results", "next", "previous"],
}
FEED_POSITION = {
    "type": "string",
    "description": "The entry's feed position, `<transaction>.<sequence>`: entries come in "
    "its order (records that predate the feed may share one). To resume, use `next`.",
}
REMOVED = {
    "type": "object",
    "properties": {
        "_removed": {
            "type": "object",
            "properties": {"field": {"type": "string"}, "before": {"type": "string"}},
            "required": ["field", "before"],
        },
        "_position": FEED_POSITION,
    },
    "required": ["_removed", "_position"],
    "description": "A retention run dropped whole partitions: every record whose `field` "
    "was before `before` is gone, with no tombstone of its own (partitioned storages).",
}
CHANGE = {
    "oneOf": [
        {
            "allOf": [
                RECORD,
                {"type": "object", "properties": {"_position": FEED_POSITION}},
            ],
            "description": "A record as it is now (each record once, at its latest change).",
        },
        {
            "type": "object",
            "properties": {
                "_version": {"type": "integer", "description": "The version deleted."},
                "_deleted": {"type": "boolean", "enum": [True]},
                "_position": FEED_POSITION,
            },
            "required": ["_version", "_deleted", "_position"],
            "additionalProperties": True,
            "description": "A tombstone: the record with this key (its one other member) "
            "was deleted.",
        },
        REMOVED,
    ]
}
_CHANGES_PAGE = {
    "type": "object",
    "properties": {
        "results": {"type": "array", "items": CHANGE},
        "next": {
            "type": "string",
            "format": "uri",
            "description": "Always present: the feed after this page (or, when the page is "
            "empty, from where it stands). Come back with it.",
        },
    },
    "required": ["results", "next"],
}
_RECORD_RESPONSE = OpenApiResponse(RECORD, description="The record; `ETag` is its `_version`.")
_KEY = OpenApiParameter(
    "key", str, OpenApiParameter.PATH, description="The record's primary key value."
)
_NAME = OpenApiParameter("name", str, OpenApiParameter.PATH, description="The storage's name.")

LIST_PARAMETERS = [
    _NAME,
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1},
        description="Page size: PAGE_SIZE_DEFAULT (100) by default, at most PAGE_SIZE_MAX "
        "(1000); larger values are cut.",
    ),
    OpenApiParameter(
        "cursor", str, description="An opaque position: follow the `next`/`previous` links."
    ),
    OpenApiParameter(
        "ordering",
        str,
        description="`field` or `-field`: any field but json ones, the key, `_version`, "
        "`_created_at`, `_updated_at`. The key breaks ties; by default, the key ascending.",
    ),
    OpenApiParameter(
        "fields",
        str,
        description="Comma-separated field names: return only these (plus the key and `_version`).",
    ),
    OpenApiParameter(
        "count",
        str,
        enum=["exact", "estimated"],
        description="Add `count`: exact, or the PostgreSQL planner's estimate.",
    ),
    OpenApiParameter(
        "format",
        str,
        enum=list(export.FORMATS),
        description="Stream every matching record (no pages) as NDJSON or CSV instead.",
    ),
    OpenApiParameter(
        "filters",
        # The empty example keeps Swagger UI from filling in (and sending) its own sample,
        # `?additionalProp1=string`, which names no field: a 400.
        {"type": "object", "additionalProperties": {"type": "string"}, "example": {}},
        style="form",
        explode=True,
        description="Filters, one query parameter each: `field=value` (exact), "
        "`field__lookup=value` (`in` with comma-separated values, `gt`, `gte`, `lt`, `lte`, "
        "`contains`, `icontains`, `startswith`, `isnull`, `has_key`, by field type). An "
        "unknown parameter answers 400. Each storage's contract lists the filters it accepts: "
        "`GET /api/v1/factory/storage/{name}/schema/`.",
    ),
]

FEED_PARAMETERS = [
    _NAME,
    OpenApiParameter(
        "after",
        str,
        description="An opaque cursor: a page's `next`, or a list "
        "page's `changes` link. Without it, the feed starts from the beginning. Cursors "
        "older than FEED_TOMBSTONE_DAYS answer 410 `cursor-expired`.",
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1},
        description="Entries per page, as for the list (at most PAGE_SIZE_MAX).",
    ),
    OpenApiParameter(
        "fields",
        str,
        description="Comma-separated field names: records show only these (plus the key "
        "and `_version`).",
    ),
    OpenApiParameter(
        "wait",
        {"type": "integer", "minimum": 0},
        description="Long-poll: with nothing new, wait up to this many seconds for a change "
        "(at most FEED_MAX_WAIT_S, 30). 503 with Retry-After when too many wait already.",
    ),
    OpenApiParameter(
        "If-None-Match",
        str,
        OpenApiParameter.HEADER,
        description="The feed's last ETag (its high-water mark): 304 when nothing changed.",
    ),
    LIST_PARAMETERS[-1],  # the storage's filters: they select live records, never tombstones
]

read_changes = extend_schema(
    operation_id="storage_records_changes",
    summary="Follow the changes: records as they are now and deletions, in commit order",
    parameters=FEED_PARAMETERS,
    responses={
        200: OpenApiResponse(
            _CHANGES_PAGE, description="A page of changes; `ETag` is the feed's high-water mark."
        ),
        304: OpenApiResponse(description="Nothing changed since the ETag sent."),
    },
    extensions=also_answers(410, 503),
)
list_records = extend_schema(
    operation_id="storage_records_list",
    summary="List, filter and page records (or export them)",
    parameters=LIST_PARAMETERS,
    responses={
        (200, "application/json"): OpenApiResponse(_PAGE, description="A page of records."),
        (200, "application/x-ndjson"): OpenApiResponse(
            OpenApiTypes.STR, description="With `format=ndjson`: one record per line."
        ),
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR, description="With `format=csv`: a header line, then the records."
        ),
    },
    extensions=also_answers(409),
)
_IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Sent again within 24 h by the same token, the request is applied "
    "once and answers the first result.",
)
UPSERT_PARAMETERS = [
    OpenApiParameter(
        "Prefer",
        str,
        OpenApiParameter.HEADER,
        description="`resolution=merge-duplicates`: an upsert, a record stored under the same "
        "key gets the fields sent; `resolution=ignore-duplicates`: it is left as it is. "
        "Answered with `Preference-Applied`, and each record with `_op`: `created`, "
        "`updated`, `unchanged` (already stored: its `_version` stays), `skipped` "
        "(ignore-duplicates) or `stale` (older by `keep_newer`).",
    ),
    OpenApiParameter(
        "on_conflict",
        str,
        description="With `Prefer: resolution=...`: the fields records are matched by, "
        "comma-separated: the primary key (the default) or the fields of a unique index.",
    ),
    OpenApiParameter(
        "keep_newer",
        str,
        description="With `resolution=merge-duplicates`: a date, datetime, integer or decimal "
        "field; an item whose value is older than the stored record's is not written "
        "(`_op: stale`).",
    ),
]
create_records = extend_schema(
    operation_id="storage_records_create",
    summary="Create a record, or many (an array, all or nothing); or upsert them",
    parameters=[_NAME, _IDEMPOTENCY_KEY, *UPSERT_PARAMETERS],
    request={"application/json": _ONE_OR_MANY},
    # A record of the storage "create a storage" documents as its example (each storage's
    # own contract has an example record of its own): "Try it out" sends a valid body.
    examples=[
        OpenApiExample(
            "a record of the dogs example storage",
            value={"name": "Rex", "breed": "beagle", "registered_at": "2024-05-01T12:00:00Z"},
            request_only=True,
        )
    ],
    responses={
        201: OpenApiResponse(
            _ONE_OR_MANY,
            description="The record (with `Location` and `ETag`), or the records in order. "
            "An upsert answers 201 when it created every item.",
        ),
        200: OpenApiResponse(
            _ONE_OR_MANY,
            description="An upsert that did not create every item: the records as stored, in "
            "order, each with `_op`.",
        ),
    },
)
get_record = extend_schema(
    operation_id="storage_records_retrieve",
    summary="Read one record",
    parameters=[
        _NAME,
        _KEY,
        OpenApiParameter(
            "If-None-Match",
            str,
            OpenApiParameter.HEADER,
            description="The ETag last seen: 304 when the record has not changed since.",
        ),
    ],
    responses={200: _RECORD_RESPONSE, 304: OpenApiResponse(description="Not modified.")},
    extensions=also_answers(409),
)
_MATCH = if_match(
    "The record's version as last read (its ETag). Required, unless the body holds `_version`."
)
replace_record = extend_schema(
    operation_id="storage_records_update",
    summary="Replace a record (omitted fields get their default, or null)",
    parameters=[_NAME, _KEY, _MATCH],
    request={"application/json": RECORD},
    responses={200: _RECORD_RESPONSE},
    extensions=also_answers(428),
)
update_record = extend_schema(
    operation_id="storage_records_partial_update",
    summary="Change some fields of a record",
    parameters=[_NAME, _KEY, _MATCH],
    request={"application/json": RECORD},
    responses={200: _RECORD_RESPONSE},
    extensions=also_answers(428),
)
delete_record = extend_schema(
    operation_id="storage_records_destroy",
    summary="Delete a record",
    parameters=[_NAME, _KEY, if_match("Optional: when sent, the record's current version.")],
    responses={204: None},
    extensions=also_answers(409),
)

JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "storage": {"type": "string"},
        "kind": {"type": "string", "enum": ["delete", "update"]},
        "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
        "total": {"type": "integer", "description": "Records that matched when it was asked."},
        "processed": {"type": "integer", "description": "Records deleted or updated so far."},
        "errors": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Problem"},
            "description": "Problem details: an update's unique clash (with the record's "
            "`key`), or why the job failed.",
        },
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": "string", "format": "date-time", "nullable": True},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
    },
    "required": ["id", "storage", "kind", "status", "total", "processed", "errors"],
}
_BY_FILTER = [
    _NAME,
    _IDEMPOTENCY_KEY,
    OpenApiParameter(
        "all",
        str,
        enum=["true"],
        description="Every record of the storage, without a filter (needs the manage grant).",
    ),
    LIST_PARAMETERS[-1],  # the filters
]
_JOB_ANSWER = OpenApiResponse(
    JOB,
    description="More than MAX_BULK_ITEMS matches: a job, run by the worker in key order "
    "(`Location`: GET /api/v1/jobs/{id}/).",
)
delete_matching_records = extend_schema(
    operation_id="storage_records_destroy_matching",
    summary="Delete the records a filter matches",
    parameters=_BY_FILTER,
    responses={
        200: OpenApiResponse(
            {
                "type": "object",
                "properties": {"deleted": {"type": "integer"}},
                "required": ["deleted"],
            },
            description="Up to MAX_BULK_ITEMS matches, deleted at once.",
        ),
        202: _JOB_ANSWER,
    },
    extensions=also_answers(409),
)
update_matching_records = extend_schema(
    operation_id="storage_records_update_matching",
    summary="Change some fields of the records a filter matches",
    parameters=_BY_FILTER,
    request={"application/json": RECORD},
    responses={
        200: OpenApiResponse(
            {
                "type": "object",
                "properties": {"updated": {"type": "integer"}},
                "required": ["updated"],
            },
            description="Up to MAX_BULK_ITEMS matches, changed at once (records that held "
            "the values already are not written).",
        ),
        202: _JOB_ANSWER,
    },
)
