"""The global API description (/api/v1/schema/): a valid OpenAPI 3.0 document whose every
error response is a problem document, added by core.openapi's hook where each applies."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate as validate_openapi

from storage.filters import RESERVED_PARAMETERS

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return document["paths"][f"/api/v1/{path}"][method]


def problem_statuses(operation: dict[str, Any]) -> list[int]:
    return [
        int(status)
        for status, response in operation["responses"].items()
        if response.get("content") == PROBLEM
    ]


def test_the_document_is_valid_openapi_with_unique_operation_ids(document) -> None:
    validate_openapi(document)

    ids = [
        item[m]["operationId"] for item in document["paths"].values() for m in METHODS if m in item
    ]
    assert len(ids) == len(set(ids)) == 29


def test_every_error_response_is_a_problem_document(document) -> None:
    for path, item in document["paths"].items():
        for method in (m for m in METHODS if m in item):
            for status, response in item[method]["responses"].items():
                if int(status) >= 400 and path != "/api/v1/health/":
                    assert response["content"] == PROBLEM, (method, path, status)
                    assert response["description"], (method, path, status)


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("get", "health/live/", []),
        ("get", "factory/storage/", [401, 403, 404, 429, 503]),
        ("post", "factory/storage/", [400, 401, 403, 409, 413, 415, 429, 503]),
        ("put", "factory/storage/{name}/", [400, 401, 403, 404, 409, 412, 413, 415, 428, 429, 503]),
        ("delete", "factory/storage/{name}/", [400, 401, 403, 404, 412, 428, 429, 503]),
        ("get", "storage/{name}/", [400, 401, 403, 404, 409, 429, 503]),
        ("get", "storage/{name}/{key}/", [400, 401, 403, 404, 409, 429, 503]),
        ("patch", "storage/{name}/{key}/", [400, 401, 403, 404, 409, 412, 413, 415, 428, 429, 503]),
        ("delete", "storage/{name}/{key}/", [400, 401, 403, 404, 409, 412, 429, 503]),
        ("post", "ingest/", [400, 401, 403, 409, 413, 415, 429, 503]),
    ],
)
def test_each_operation_lists_the_problems_it_can_answer(document, method, path, statuses) -> None:
    assert problem_statuses(operation(document, method, path)) == statuses


def test_readiness_keeps_its_own_503_body(document) -> None:
    health = operation(document, "get", "health/")

    assert list(health["responses"]) == ["200", "503"]
    assert health["responses"]["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Health"
    }


def test_the_hook_leaves_no_marker_behind(document) -> None:
    operations = [item[m] for item in document["paths"].values() for m in METHODS if m in item]

    assert not [op["operationId"] for op in operations if any(k.startswith("x-") for k in op)]


def test_a_record_points_at_the_storage_contract(document) -> None:
    listing = operation(document, "get", "storage/{name}/")
    record = listing["responses"]["200"]["content"]["application/json"]["schema"]

    assert (
        "GET /api/v1/factory/storage/{name}/schema/"
        in (record["properties"]["results"]["items"]["description"])
    )
    # Every parameter a records list reserves, the filters, and the storage's name.
    assert {p["name"] for p in listing["parameters"]} == {"name", "filters", *RESERVED_PARAMETERS}
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"},
        # METRICS_TOKEN, sent as a bearer token too; GET /api/v1/metrics alone takes it.
        "metricsToken": {"type": "http", "scheme": "bearer"},
    }
