"""GET /api/v1/factory/storage/{name}/schema/: a storage's own OpenAPI contract is a valid
OpenAPI 3.0 document, names its exact fields, accepts exactly the filters the service does,
describes the bodies the service really answers, and follows the serving version."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_openapi

from core.testing import storage_db
from factory.tests.factories import dogs_definition
from storage.filters import RESERVED_PARAMETERS
from storage.runtime import runtime_for

CONTRACT = "/api/v1/factory/storage/{}/schema/"
RECORDS = "/api/v1/storage/dogs/"
REX = {"name": "Rex", "breed": "beagle", "size": None, "registered_at": "2024-05-01T12:00:00Z"}
# A value of each parameter schema's type, as a query string carries it.
SAMPLES = {
    "integer": "1",
    "number": "1.5",
    "boolean": "true",
    "date": "2024-05-01",
    "date-time": "2024-05-01T12:00:00Z",
    "uuid": "6f1d3a8e-0d5e-4d1c-9a51-3b1f8f1b2c10",
    "decimal": "12.50",
}


def contract(client, name: str = "dogs") -> dict[str, Any]:
    response = client.get(CONTRACT.format(name))
    assert response.status_code == 200, response.json()
    return response.json()


def conforms(document: dict[str, Any], schema: dict[str, Any], body: Any) -> list[str]:
    """The messages of every way `body` breaks `schema` ($refs into the document's components)."""
    rooted = {"allOf": [schema], "components": document["components"]}
    return [error.message for error in OAS30Validator(rooted).iter_errors(body)]


def list_parameters(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    operation = document["paths"][RECORDS]["get"]
    return {parameter["name"]: parameter for parameter in operation["parameters"]}


def sample(parameter: dict[str, Any]) -> str:
    schema = parameter["schema"]
    if "enum" in schema:
        return schema["enum"][0]
    if schema["type"] == "array":
        one = sample({"name": "", "schema": schema["items"]})
        return f"{one},{one}"
    if parameter["name"].endswith("__contains") and "format" not in schema:
        return '{"colour": "brown"}' if "JSON" in parameter.get("description", "") else "x"
    return SAMPLES.get(schema.get("format"), SAMPLES.get(schema["type"], "x"))


@pytest.fixture
def dogs(create_storage):
    storage = create_storage(dogs_definition())
    from storage.services import record_create

    record_create(runtime=runtime_for("dogs"), data=REX)
    return storage


@storage_db
@pytest.mark.parametrize("key_type", ["serial", "uuid", "integer", "text"])
def test_the_contract_is_a_valid_openapi_30_document(api_client, create_storage, key_type):
    create_storage(dogs_definition(primary_key={"name": "id", "type": key_type}))

    document = contract(api_client)

    validate_openapi(document)
    assert document["openapi"] == "3.0.3"
    assert document["info"] == {
        "title": "datastorage: dogs",
        "version": "1",
        "description": "Dogs out of the animal registry feed",
    }


@storage_db
def test_the_contract_names_every_field_with_its_type_and_constraints(api_client, dogs):
    schemas = contract(api_client)["components"]["schemas"]

    record = schemas["Record"]
    assert list(record["properties"]) == [
        "id",
        *(field["name"] for field in dogs_definition()["fields"]),
        "_version",
        "_created_at",
        "_updated_at",
    ]
    assert record["required"] == list(record["properties"])
    assert record["additionalProperties"] is False
    properties = record["properties"]
    assert properties["id"] == {"type": "integer", "format": "int64"}
    assert properties["name"] == {"type": "string", "maxLength": 120}
    assert properties["breed"] == {"type": "string", "nullable": True}
    assert properties["age"] == {
        "type": "integer",
        "format": "int64",
        "minimum": 0,
        "maximum": 40,
        "nullable": True,  # not required, so nullable unless the definition says otherwise
        "default": 0,
    }
    assert properties["weight_kg"]["type"] == "string"
    assert properties["weight_kg"]["nullable"] is True
    assert properties["vaccinated"] == {"type": "boolean", "nullable": True, "default": False}
    assert properties["registered_at"] == {"type": "string", "format": "date-time"}
    assert properties["size"] == {
        "type": "string",
        "enum": ["small", "medium", "large", None],
        "nullable": True,
    }
    assert properties["extra"] == {"nullable": True}
    # Left out, a field takes its default or null: only these two must be sent.
    assert schemas["RecordCreate"]["required"] == ["name", "registered_at"]
    assert "id" not in schemas["RecordCreate"]["properties"]  # serial: generated
    assert schemas["RecordReplace"]["required"] == ["name", "registered_at"]
    assert "required" not in schemas["RecordPatch"]


@storage_db
def test_a_field_that_is_neither_nullable_nor_defaulted_must_be_sent(api_client, create_storage):
    create_storage(
        {
            "name": "dogs",
            "primary_key": {"name": "tag", "type": "text"},
            "fields": [{"name": "weight", "type": "float", "nullable": False}],
        }
    )

    schemas = contract(api_client)["components"]["schemas"]

    assert schemas["RecordCreate"]["required"] == ["tag", "weight"]
    assert schemas["RecordReplace"]["required"] == ["weight"]
    assert schemas["Record"]["properties"]["tag"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
    }
    assert api_client.post(RECORDS, {"tag": "a"}, format="json").json()["errors"] == {
        "weight": ["This field is required: it is not nullable and has no default."]
    }


@storage_db
def test_the_contract_lists_exactly_the_filters_the_service_accepts(api_client, dogs):
    parameters = list_parameters(contract(api_client))

    assert set(parameters) == set(runtime_for("dogs").filters.filters) | RESERVED_PARAMETERS
    assert parameters["age__in"]["schema"] == {
        "type": "array",
        "items": {"type": "integer", "format": "int64"},
        "minItems": 1,
    }
    assert (parameters["age__in"]["style"], parameters["age__in"]["explode"]) == ("form", False)
    assert parameters["breed__isnull"]["schema"] == {"type": "string", "enum": ["true", "false"]}
    assert "name__isnull" not in parameters  # not nullable


@storage_db
def test_every_filter_of_the_contract_is_accepted_with_a_value_of_its_type(api_client, dogs):
    filters = {
        name: parameter
        for name, parameter in list_parameters(contract(api_client)).items()
        if name not in RESERVED_PARAMETERS
    }
    # JSON containment needs PostgreSQL (the contract says so); elsewhere it answers 400.
    refused = set() if connection.vendor == "postgresql" else {"extra__contains"}

    answers = {
        name: api_client.get(RECORDS, {name: sample(p)}).status_code for name, p in filters.items()
    }

    assert {name for name, status in answers.items() if status != 200} == refused
    assert all(answers[name] == 400 for name in refused)


@storage_db
def test_answers_match_the_schemas_the_contract_gives_them(api_client, dogs):
    document = contract(api_client)
    record = api_client.get(f"{RECORDS}1/")
    projected = api_client.get(RECORDS, {"fields": "name", "count": "exact"})
    created = api_client.post(RECORDS, [{**REX, "name": "Ada"}], format="json")
    problem = api_client.get(RECORDS, {"bred": "beagle"})
    schemas = {
        "record": document["paths"][f"{RECORDS}{{key}}/"]["get"]["responses"]["200"],
        "page": document["paths"][RECORDS]["get"]["responses"]["200"],
        "created": document["paths"][RECORDS]["post"]["responses"]["201"],
        "problem": document["paths"][RECORDS]["get"]["responses"]["400"],
    }

    assert projected.json()["results"] == [{"id": 1, "name": "Rex", "_version": 1}]
    for what, response, content_type in [
        ("record", record, "application/json"),
        ("page", projected, "application/json"),
        ("created", created, "application/json"),
        ("problem", problem, "application/problem+json"),
    ]:
        schema = schemas[what]["content"][content_type]["schema"]
        assert conforms(document, schema, response.json()) == [], what


@storage_db
def test_the_contract_follows_the_serving_version(
    api_client, dogs, django_capture_on_commit_callbacks
):
    changed = dogs_definition()
    changed["fields"].append({"name": "colour", "type": "text", "nullable": True})

    with django_capture_on_commit_callbacks(execute=True):
        put = api_client.put(
            "/api/v1/factory/storage/dogs/", changed, format="json", HTTP_IF_MATCH='"1"'
        )
    response = api_client.get(CONTRACT.format("dogs"))

    assert put.status_code == 202
    assert response["ETag"] == '"2"'
    document = response.json()
    assert document["info"]["version"] == "2"
    assert document["components"]["schemas"]["Record"]["properties"]["colour"] == {
        "type": "string",
        "nullable": True,
    }
    assert "colour__isnull" in list_parameters(document)


@storage_db
@pytest.mark.parametrize("key_type", ["serial", "uuid", "integer", "text"])
def test_the_example_record_of_the_contract_is_created_as_it_is(
    api_client, create_storage, key_type
):
    # Every type, bounds that exclude the samples, choices, a decimal with no whole digit:
    # what Swagger UI's "Try it out" sends by default must be accepted.
    fields = [
        *dogs_definition()["fields"],
        {"name": "height_cm", "type": "float", "min": 10, "max": 20},
        {"name": "debt", "type": "decimal", "max_digits": 4, "decimal_places": 2, "max": "-1"},
        {"name": "ratio", "type": "decimal", "max_digits": 3, "decimal_places": 3},
        {"name": "code", "type": "text", "max_length": 3, "required": True},
        {"name": "rank", "type": "integer", "choices": [7, 9], "required": True},
    ]
    create_storage(dogs_definition(primary_key={"name": "id", "type": key_type}, fields=fields))
    document = contract(api_client)
    schema = document["components"]["schemas"]["RecordCreate"]

    created = api_client.post(RECORDS, schema["example"], format="json")

    assert conforms(document, schema, schema["example"]) == []
    assert created.status_code == 201, created.json()
    assert created.json()["debt"] == "-1.00"
    assert (created.json()["ratio"], created.json()["code"]) == ("0.000", "exa")


@pytest.mark.django_db
def test_the_contract_of_an_unknown_storage_answers_404(api_client):
    response = api_client.get(CONTRACT.format("nothing"))

    assert response.status_code == 404
    assert response.json()["type"] == "storage-not-found"
