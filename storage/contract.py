"""The OpenAPI 3 contract of one storage's records API, generated from its definition.

The global schema (/api/v1/schema/) can only say "a record is an object"; this document
names every field with its type, constraints, nullability and filters, so a typed client
can be generated per storage. It follows the storage's serving version.
"""

from __future__ import annotations

from typing import Any

from factory.schema.definition import SYSTEM_FIELDS
from factory.schema.types import FIELD_TYPES
from storage.serializers import MAX_TEXT_KEY

_FORMATS: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer", "format": "int64"},
    "float": {"type": "number", "format": "double"},
    "decimal": {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"},
    "boolean": {"type": "boolean"},
    "text": {"type": "string"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "uuid": {"type": "string", "format": "uuid"},
    "json": {},
}
_KEY_TYPES = {"serial": "integer", "integer": "integer", "uuid": "uuid", "text": "text"}


def value_schema(spec: dict[str, Any]) -> dict[str, Any]:
    schema = dict(_FORMATS[spec["type"]])
    if spec.get("max_length"):
        schema["maxLength"] = spec["max_length"]
    if spec["type"] in ("integer", "float"):
        if spec.get("min") is not None:
            schema["minimum"] = spec["min"]
        if spec.get("max") is not None:
            schema["maximum"] = spec["max"]
    if spec.get("choices"):
        schema["enum"] = list(spec["choices"])
    if spec.get("nullable"):
        schema["nullable"] = True
    if "default" in spec:
        schema["default"] = spec["default"]
    if spec["type"] == "decimal":
        schema["description"] = (
            f"Decimal with at most {spec['max_digits']} digits, {spec['decimal_places']} "
            "after the point; sent and returned as a string."
        )
    return schema


def _key_schema(primary_key: dict[str, str]) -> dict[str, Any]:
    schema = dict(_FORMATS[_KEY_TYPES[primary_key["type"]]])
    if primary_key["type"] == "text":
        schema.update(minLength=1, maxLength=MAX_TEXT_KEY)
    return schema


def record_schemas(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pk = definition["primary_key"]
    fields = {spec["name"]: value_schema(spec) for spec in definition["fields"]}
    system = {
        "_version": {"type": "integer", "format": "int64", "readOnly": True},
        "_created_at": {"type": "string", "format": "date-time", "readOnly": True},
        "_updated_at": {"type": "string", "format": "date-time", "readOnly": True},
    }
    record = {
        "type": "object",
        "properties": {pk["name"]: _key_schema(pk), **fields, **system},
        "required": [pk["name"], *fields, *system],
        "additionalProperties": False,
    }
    create_props = dict(fields)
    create_required = [s["name"] for s in definition["fields"] if s["required"]]
    if pk["type"] != "serial":
        create_props[pk["name"]] = _key_schema(pk)
        if pk["type"] in ("integer", "text"):
            create_required.append(pk["name"])
    create = {"type": "object", "properties": create_props, "additionalProperties": False}
    if create_required:
        create["required"] = create_required
    update_props = {**fields, "_version": {"type": "integer", "format": "int64"}}
    patch = {"type": "object", "properties": update_props, "additionalProperties": False}
    return {"Record": record, "RecordCreate": create, "RecordPatch": patch}


def filter_parameters(definition: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    pk = definition["primary_key"]
    specs = [({"name": pk["name"], "type": _KEY_TYPES[pk["type"]], "nullable": False})]
    specs += definition["fields"]
    for spec in specs:
        base = {k: v for k, v in _FORMATS[spec["type"]].items() if k != "pattern"}
        lookups = list(FIELD_TYPES[spec["type"]].lookups)
        if spec.get("nullable") and spec is not specs[0]:
            lookups.append("isnull")
        for lookup in lookups:
            params.append(_filter_param(spec["name"], lookup, base))
    for name in ("_created_at", "_updated_at"):
        for lookup in ("gt", "gte", "lt", "lte"):
            params.append(_filter_param(name, lookup, _FORMATS[SYSTEM_FIELDS[name]]))
    return params


def _filter_param(field: str, lookup: str, base: dict[str, Any]) -> dict[str, Any]:
    name = field if lookup == "exact" else f"{field}__{lookup}"
    if lookup == "isnull":
        schema: dict[str, Any] = {"type": "string", "enum": ["true", "false"]}
    elif lookup == "in":
        schema = {"type": "string", "description": "comma-separated values"}
    elif lookup in ("has_key", "contains") and not base:
        schema = {"type": "string", "description": "a key" if lookup == "has_key" else "JSON"}
    else:
        schema = dict(base) or {"type": "string"}
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _paging_parameters(definition: dict[str, Any]) -> list[dict[str, Any]]:
    orderable = [definition["primary_key"]["name"], *SYSTEM_FIELDS] + [
        s["name"] for s in definition["fields"] if s["type"] != "json"
    ]
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
    ]


def _problem() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
        "required": ["type", "title", "status", "detail"],
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    problem = {"content": {"application/problem+json": {"schema": _ref("Problem")}}}
    return {str(code): {"description": "problem details", **problem} for code in codes}


def storage_contract(*, definition: dict[str, Any], version: int, base_path: str) -> dict:
    """An OpenAPI 3.0 document for the records API of one storage version."""
    name = definition["name"]
    key = {
        "name": "key",
        "in": "path",
        "required": True,
        "schema": _key_schema(definition["primary_key"]),
    }
    if_match = {
        "name": "If-Match",
        "in": "header",
        "schema": {"type": "string"},
        "description": 'The record\'s version, e.g. "3"',
    }
    page = {
        "type": "object",
        "properties": {
            "results": {"type": "array", "items": _ref("Record")},
            "next": {"type": "string", "nullable": True},
            "previous": {"type": "string", "nullable": True},
            "count": {"type": "integer"},
        },
        "required": ["results", "next", "previous"],
    }
    collection = f"{base_path}{name}/"
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"datastorage: {name}",
            "version": str(version),
            "description": definition["description"],
        },
        "paths": {
            collection: {
                "get": {
                    "operationId": f"list_{name}",
                    "parameters": [*_paging_parameters(definition), *filter_parameters(definition)],
                    "responses": {
                        "200": _json(page, "a page of records"),
                        **_errors(400, 401, 403, 404, 409),
                    },
                },
                "post": {
                    "operationId": f"create_{name}",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        _ref("RecordCreate"),
                                        {"type": "array", "items": _ref("RecordCreate")},
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json(
                            {"oneOf": [_ref("Record"), {"type": "array", "items": _ref("Record")}]},
                            "created",
                        ),
                        **_errors(400, 401, 403, 404, 409, 413),
                    },
                },
            },
            f"{collection}{{key}}/": {
                "parameters": [key],
                "get": {
                    "operationId": f"get_{name}",
                    "responses": {
                        "200": _json(_ref("Record"), "the record"),
                        "304": {"description": "unchanged"},
                        **_errors(401, 403, 404),
                    },
                },
                "put": {
                    "operationId": f"replace_{name}",
                    "parameters": [if_match],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("RecordPatch")}},
                    },
                    "responses": {
                        "200": _json(_ref("Record"), "updated"),
                        **_errors(400, 401, 403, 404, 409, 412, 428),
                    },
                },
                "patch": {
                    "operationId": f"update_{name}",
                    "parameters": [if_match],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("RecordPatch")}},
                    },
                    "responses": {
                        "200": _json(_ref("Record"), "updated"),
                        **_errors(400, 401, 403, 404, 409, 412, 428),
                    },
                },
                "delete": {
                    "operationId": f"delete_{name}",
                    "parameters": [if_match],
                    "responses": {"204": {"description": "deleted"}, **_errors(401, 403, 404, 412)},
                },
            },
        },
        "components": {
            "schemas": {**record_schemas(definition), "Problem": _problem()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
