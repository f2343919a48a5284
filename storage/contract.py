"""The OpenAPI 3 contract of one storage's records API, generated from its definition.

The global schema (/api/v1/schema/) can only say "a record is an object"; this document
names every field with its type, constraints, nullability and filters, so a typed client
can be generated per storage. It follows the storage's serving version.
"""

from __future__ import annotations

from typing import Any

from core.openapi import PROBLEM_SCHEMA, problem_response
from factory.schema.specs import FieldSpec, PrimaryKeySpec, StorageSpec
from storage import export
from storage.filters import filter_catalogue
from storage.openapi import FEED_POSITION, JOB, REMOVED
from storage.upserts import NEWER_TYPES, RESOLUTIONS
from storage.upserts import OPERATIONS as UPSERT_OPERATIONS


def value_schema(spec: FieldSpec) -> dict[str, Any]:
    schema = spec.type.schema(spec)
    if spec.choices:
        # OpenAPI 3.0: `nullable` does not widen an enum, so null is listed when allowed.
        schema["enum"] = [*spec.choices, *([None] if spec.nullable else [])]
    if spec.nullable:
        schema["nullable"] = True
    if spec.has_default:
        schema["default"] = spec.default
    description = spec.type.description(spec)
    if description is not None:
        schema["description"] = description
    return schema


def _key_schema(primary_key: PrimaryKeySpec) -> dict[str, Any]:
    return primary_key.type.schema()


_SYSTEM = {
    "_version": {"type": "integer", "format": "int64", "readOnly": True},
    "_created_at": {"type": "string", "format": "date-time", "readOnly": True},
    "_updated_at": {"type": "string", "format": "date-time", "readOnly": True},
}


def record_schemas(definition: StorageSpec) -> dict[str, dict[str, Any]]:
    pk = definition.primary_key
    key = _key_schema(pk)
    fields = {spec.name: value_schema(spec) for spec in definition.fields}
    # Left out of a create or a replace, a field takes its default, else null: one that has
    # neither, or is required, must be sent.
    needed = [
        s.name for s in definition.fields if s.required or (not s.nullable and not s.has_default)
    ]
    every = {pk.name: key, **fields, **_SYSTEM}
    create_props, create_required = dict(fields), list(needed)
    if not pk.type.generated:
        create_props = {pk.name: key, **fields}
        if pk.type.natural:
            create_required.insert(0, pk.name)
    update_props = {
        pk.name: {**key, "description": "Only its current value: a key never changes."},
        **fields,
        "_version": {
            "type": "integer",
            "format": "int64",
            "description": "The version last read, instead of If-Match.",
        },
    }
    create = _object(create_props, create_required)
    create["example"] = record_example(definition)
    upserted = {**every, "_op": {"type": "string", "enum": list(UPSERT_OPERATIONS)}}
    return {
        "Record": _object(every, [*every]),
        "UpsertedRecord": _object(
            upserted, [*upserted], "A record an upsert answers: what happened to it in `_op`."
        ),
        "ListedRecord": _object(
            every,
            [pk.name, "_version"],
            "A record in a list: every field, or only those named by `fields` (with the key "
            "and `_version`).",
        ),
        "RecordCreate": create,
        "RecordReplace": _object(update_props, needed),
        "RecordPatch": _object(update_props, []),
    }


def record_example(definition: StorageSpec) -> dict[str, Any]:
    """A record this storage accepts, every field filled by its type (or its first
    choice): the example "Try it out" sends as it is. A natural key is sent too."""
    example: dict[str, Any] = {}
    if definition.primary_key.type.natural:
        example[definition.primary_key.name] = definition.primary_key.type.example()
    for spec in definition.fields:
        example[spec.name] = spec.choices[0] if spec.choices else spec.type.example(spec)
    return example


def _object(
    properties: dict[str, Any], required: list[str], description: str = ""
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    if description:
        schema["description"] = description
    return schema


def filter_parameters(definition: StorageSpec) -> list[dict[str, Any]]:
    params = []
    for parameter in filter_catalogue(definition):
        base = {k: v for k, v in parameter.type.openapi.items() if k != "pattern"}
        params.append(_filter_param(parameter.name, parameter.lookup, base))
    return params


def _filter_param(name: str, lookup: str, base: dict[str, Any]) -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": "query", "required": False}
    if lookup == "isnull":
        schema: dict[str, Any] = {"type": "string", "enum": ["true", "false"]}
    elif lookup == "in":
        # Comma-separated values: OpenAPI's form style, not exploded (`age__in=1,2,3`).
        schema = {"type": "array", "items": dict(base) or {"type": "string"}, "minItems": 1}
        parameter.update(style="form", explode=False)
    elif lookup in ("has_key", "contains") and not base:
        schema = {"type": "string"}
        parameter["description"] = (
            "a top-level key" if lookup == "has_key" else "a JSON document (PostgreSQL only)"
        )
    else:
        schema = dict(base) or {"type": "string"}
    return {**parameter, "schema": schema}


def _paging_parameters(definition: StorageSpec) -> list[dict[str, Any]]:
    orderable = definition.orderable
    return [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
        {
            "name": "ordering",
            "in": "query",
            "schema": {"type": "string", "enum": [*orderable, *(f"-{name}" for name in orderable)]},
        },
        {
            "name": "fields",
            "in": "query",
            "schema": {"type": "string"},
            "description": "comma-separated field names",
        },
        {
            "name": "count",
            "in": "query",
            "schema": {"type": "string", "enum": ["exact", "estimated"]},
        },
        {
            "name": "format",
            "in": "query",
            "schema": {"type": "string", "enum": list(export.FORMATS)},
            "description": "stream every matching record (no pages) as NDJSON or CSV",
        },
    ]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _many(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


def _json(schema: dict[str, Any], description: str, *, etag: bool = False) -> dict[str, Any]:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if etag:
        response["headers"] = {"ETag": _ETAG}
    return response


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    """Problem responses: these, and what every request can answer."""
    return {str(code): problem_response(code) for code in sorted({*codes, 401, 403, 429, 503})}


_ETAG = {"description": 'The record\'s `_version`, e.g. "3"', "schema": {"type": "string"}}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "schema": {"type": "string"},
    "description": 'The record\'s version as last read (its ETag), e.g. "3"',
}
_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "schema": {"type": "string"},
    "description": "The ETag last seen: 304 when the record has not changed",
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "Repeated within 24 h by the same token, the request is applied once and "
    "answers the first result",
}


def _upsert_parameters(definition: StorageSpec) -> list[dict[str, Any]]:
    """Prefer, and what `on_conflict` and `keep_newer` may name in this storage."""
    keys = [] if definition.primary_key.type.generated else [definition.primary_key.name]
    keys += [",".join(index.fields) for index in definition.indexes if index.unique]
    newer = [field.name for field in definition.fields if field.type.name in NEWER_TYPES]
    on_conflict: dict[str, Any] = {"type": "string"}
    if keys:
        on_conflict["enum"] = keys
    keep_newer: dict[str, Any] = {"type": "string"}
    if newer:
        keep_newer["enum"] = newer
    return [
        {
            "name": "Prefer",
            "in": "header",
            "schema": {
                "type": "string",
                "enum": [f"resolution={resolution}" for resolution in RESOLUTIONS],
            },
            "description": "an upsert: merge into, or leave, a record stored under the same "
            "key (answered with Preference-Applied)",
        },
        {
            "name": "on_conflict",
            "in": "query",
            "schema": on_conflict,
            "description": "with Prefer: the primary key or a unique index to match by",
        },
        {
            "name": "keep_newer",
            "in": "query",
            "schema": keep_newer,
            "description": "with resolution=merge-duplicates: items older than the stored "
            "record by this field are not written (`_op: stale`)",
        },
    ]


def _counted(name: str) -> dict[str, Any]:
    return {"type": "object", "properties": {name: {"type": "integer"}}, "required": [name]}


def _collection(name: str, definition: StorageSpec) -> dict[str, Any]:
    page = {
        "type": "object",
        "properties": {
            "results": _many("ListedRecord"),
            "next": {"type": "string", "nullable": True},
            "previous": {"type": "string", "nullable": True},
            "count": {"type": "integer"},
            "changes": {
                "type": "string",
                "description": "on a page asked for without `cursor`: the change feed from "
                "this page on (follow it after reading every page)",
            },
        },
        "required": ["results", "next", "previous"],
    }
    listing = _json(page, "a page of records, or with `format` every matching record")
    listing["content"].update(
        {kind.split(";")[0]: {"schema": {"type": "string"}} for kind in export.FORMATS.values()}
    )
    created = {
        "anyOf": [
            _ref("Record"),
            _many("Record"),
            _ref("UpsertedRecord"),
            _many("UpsertedRecord"),
        ]
    }
    upserted = {"anyOf": [_ref("UpsertedRecord"), _many("UpsertedRecord")]}
    by_filter = [
        _IDEMPOTENCY_KEY,
        {
            "name": "all",
            "in": "query",
            "schema": {"type": "string", "enum": ["true"]},
            "description": "every record, without a filter (needs the manage grant)",
        },
        *filter_parameters(definition),
    ]
    job = _json(JOB, "more than MAX_BULK_ITEMS matches: a job (Location: its URL)")
    return {
        "delete": {
            "operationId": f"delete_matching_{name}",
            "description": "Delete the records the filters match (at least one filter, or "
            "all=true).",
            "parameters": by_filter,
            "responses": {
                "200": _json(_counted("deleted"), "deleted at once"),
                "202": job,
                **_errors(400, 404, 409),
            },
        },
        "patch": {
            "operationId": f"update_matching_{name}",
            "description": "Set the fields sent on the records the filters match.",
            "parameters": by_filter,
            "requestBody": _body(_ref("RecordPatch")),
            "responses": {
                "200": _json(_counted("updated"), "changed at once"),
                "202": job,
                **_errors(400, 404, 409, 413, 415),
            },
        },
        "get": {
            "operationId": f"list_{name}",
            "parameters": [*_paging_parameters(definition), *filter_parameters(definition)],
            "responses": {"200": listing, **_errors(400, 404, 409)},
        },
        "post": {
            "operationId": f"create_{name}",
            "parameters": [_IDEMPOTENCY_KEY, *_upsert_parameters(definition)],
            "requestBody": _body({"oneOf": [_ref("RecordCreate"), _many("RecordCreate")]}),
            "responses": {
                "201": _json(
                    created,
                    "the record, or the records in order (an upsert: every item created)",
                    etag=True,
                ),
                "200": _json(upserted, "an upsert: the records as stored, in order, with `_op`"),
                **_errors(400, 404, 409, 413, 415),
            },
        },
    }


def _item(name: str, definition: StorageSpec) -> dict[str, Any]:
    key = {
        "name": "key",
        "in": "path",
        "required": True,
        "schema": _key_schema(definition.primary_key),
    }
    record = _json(_ref("Record"), "the record", etag=True)
    write = _errors(400, 404, 409, 412, 413, 415, 428)
    return {
        "parameters": [key],
        "get": {
            "operationId": f"get_{name}",
            "parameters": [_IF_NONE_MATCH],
            "responses": {
                "200": record,
                "304": {"description": "unchanged"},
                **_errors(400, 404, 409),
            },
        },
        "put": {
            "operationId": f"replace_{name}",
            "parameters": [_IF_MATCH],
            "requestBody": _body(_ref("RecordReplace")),
            "responses": {"200": record, **write},
        },
        "patch": {
            "operationId": f"update_{name}",
            "parameters": [_IF_MATCH],
            "requestBody": _body(_ref("RecordPatch")),
            "responses": {"200": record, **write},
        },
        "delete": {
            "operationId": f"delete_{name}",
            "parameters": [_IF_MATCH],
            "responses": {"204": {"description": "deleted"}, **_errors(400, 404, 409, 412)},
        },
    }


def _changes(name: str, definition: StorageSpec) -> dict[str, Any]:
    key = definition.primary_key.name
    tombstone = _object(
        {
            key: _key_schema(definition.primary_key),
            "_version": {
                "type": "integer",
                "format": "int64",
                "description": "the version deleted",
            },
            "_deleted": {"type": "boolean", "enum": [True]},
            "_position": FEED_POSITION,
        },
        [key, "_version", "_deleted", "_position"],
        "a deleted record",
    )
    live = {
        "allOf": [
            _ref("ListedRecord"),
            {"type": "object", "properties": {"_position": FEED_POSITION}},
        ]
    }
    # Only a storage whose partitions retention drops sees a retention run's mark.
    removed = [REMOVED] if definition.partitioned else []
    page = {
        "type": "object",
        "properties": {
            "results": {"type": "array", "items": {"oneOf": [live, tombstone, *removed]}},
            "next": {"type": "string", "description": "always present: come back with it"},
        },
        "required": ["results", "next"],
    }
    feed = [
        {"name": "after", "in": "query", "schema": {"type": "string"},
         "description": "a page's `next` or a list's `changes` cursor"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "fields", "in": "query", "schema": {"type": "string"},
         "description": "comma-separated field names"},
        {"name": "wait", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 30},
         "description": "with nothing new, wait up to this many seconds for a change"},
        {**_IF_NONE_MATCH, "description": "the feed's last ETag: 304 when nothing changed"},
    ]  # fmt: skip
    changes = _json(page, "records as they are now and deletions, in commit order")
    changes["headers"] = {
        "ETag": {"description": "the feed's high-water mark", "schema": {"type": "string"}}
    }
    return {
        "get": {
            "operationId": f"changes_{name}",
            "parameters": [*feed, *filter_parameters(definition)],
            "responses": {
                "200": changes,
                "304": {"description": "nothing changed"},
                **_errors(400, 404, 409, 410),
            },
        }
    }


def storage_contract(*, definition: dict[str, Any], version: int, base_path: str) -> dict:
    """An OpenAPI 3.0 document for the records API of one storage version."""
    spec = StorageSpec.from_normal(definition)
    name = spec.name
    collection = f"{base_path}{name}/"
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"datastorage: {name}",
            "version": str(version),
            "description": spec.description,
        },
        "paths": {
            collection: _collection(name, spec),
            f"{collection}changes/": _changes(name, spec),
            f"{collection}{{key}}/": _item(name, spec),
        },
        "components": {
            "schemas": {**record_schemas(spec), "Problem": PROBLEM_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
