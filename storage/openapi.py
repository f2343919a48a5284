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
    },
    "required": ["results", "next", "previous"],
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
create_records = extend_schema(
    operation_id="storage_records_create",
    summary="Create a record, or many (an array, all or nothing)",
    parameters=[
        _NAME,
        OpenApiParameter(
            "Idempotency-Key",
            str,
            OpenApiParameter.HEADER,
            description="Sent again within 24 h by the same token, the request is applied "
            "once and answers the first result.",
        ),
    ],
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
            description="The record (with `Location` and `ETag`), or the records in order.",
        )
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
