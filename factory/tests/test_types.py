"""The type registry keeps its promise: every type has every hook, and a type is one class.

The last test registers a type of its own, defined here and nowhere else, and uses it end
to end through the API (create a storage, write, read, filter, bulk, the contract): if a
module had to name a type, that storage would fail somewhere.
"""

from __future__ import annotations

from typing import Any

import django_filters as df
import psycopg
import pytest
from django.db import models
from rest_framework import serializers

from core.testing import storage_db
from factory.schema import fields as strict
from factory.schema.specs import FieldSpec
from factory.schema.types import (
    FIELD_TYPES,
    KEY_TYPES,
    REFER,
    FieldType,
    register,
    unregister,
)
from factory.schema.types.numbers import IntegerInFilter

OPTIONS: dict[str, dict[str, Any]] = {"decimal": {"max_digits": 6, "decimal_places": 2}}
CSV_FORMS = {"plain", "text", "json"}


def _spec(field_type: type[FieldType]) -> FieldSpec:
    return FieldSpec.from_normal(
        {"name": "f", "type": field_type.name, **OPTIONS.get(field_type.name, {})}
    )


@pytest.mark.parametrize("name", list(FIELD_TYPES))
def test_every_field_type_implements_every_hook(name):
    field_type = FIELD_TYPES[name]
    spec = _spec(field_type)

    field = field_type.serializer_field(spec)

    assert isinstance(field_type.model_field(spec), models.Field)
    assert isinstance(field, serializers.Field)
    assert callable(field_type.accept_check(spec, field))
    assert field_type.lookups
    for lookup in field_type.lookups:
        assert isinstance(field_type.filter("f", lookup), df.Filter)
    assert isinstance(field_type.schema(spec), dict)
    assert field.run_validation(field_type.example(spec)) is not None  # accepted
    assert psycopg.adapters.types.get(field_type.copy_type(spec)) is not None
    assert field_type.csv_form in CSV_FORMS
    assert field_type.represent is None or callable(field_type.represent)
    assert field_type.options <= {"min", "max", "choices", "max_length", *OPTIONS.get(name, {})}


@pytest.mark.parametrize("name", list(KEY_TYPES))
def test_every_key_type_implements_every_hook(name):
    key_type = KEY_TYPES[name]

    assert key_type.value_type in FIELD_TYPES.values()
    assert isinstance(key_type.model_field(), models.Field)
    assert key_type.model_field().primary_key
    assert callable(key_type.accept_check(key_type.serializer_field("k")))
    assert key_type.from_url("not a key of any type/") in (None, "not a key of any type/")
    assert isinstance(key_type.schema(), dict)
    assert key_type.problem(key_type.example()) is None
    assert psycopg.adapters.types.get(key_type.copy_as) is not None
    assert not (key_type.generated and key_type.natural)


class RatingInFilter(IntegerInFilter):
    pass


class Rating(FieldType):
    """A test-only type: one to five stars, a small integer."""

    name = "rating"
    lookups = ("exact", "in", "gte")
    openapi: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 5}
    copy_as = "int2"
    sample = 4

    @classmethod
    def model_field(cls, spec: FieldSpec) -> models.Field:
        return models.SmallIntegerField()

    @classmethod
    def serializer_field(cls, spec: FieldSpec, **kwargs: Any) -> serializers.Field:
        return strict.StrictIntegerField(min_value=1, max_value=5, **kwargs)

    @classmethod
    def accept_check(cls, spec: FieldSpec, field: serializers.Field) -> Any:
        return lambda raw: raw if type(raw) is int and 1 <= raw <= 5 else REFER

    @classmethod
    def scalar_filter(cls, **kwargs: Any) -> df.Filter:
        return df.NumberFilter(**kwargs)

    @classmethod
    def in_filter(cls, **kwargs: Any) -> df.Filter:
        return RatingInFilter(**kwargs)

    @classmethod
    def from_csv(cls, cell: str) -> Any:
        return int(cell)


@pytest.fixture
def rating():
    register(Rating)
    yield Rating
    unregister(Rating)


@storage_db
def test_a_type_is_one_class_used_end_to_end(rating, api_client):
    created = api_client.post(
        "/api/v1/factory/storage/",
        {"name": "films", "fields": [{"name": "stars", "type": "rating", "nullable": True}]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    url = "/api/v1/storage/films/"

    one = api_client.post(url, {"stars": 4}, format="json")
    bulk = api_client.post(url, [{"stars": 2}, {"stars": 5}], format="json")
    refused = api_client.post(url, {"stars": 6}, format="json")
    listed = api_client.get(url, {"stars__gte": "4", "ordering": "stars"})
    contract = api_client.get("/api/v1/factory/storage/films/schema/")

    assert one.status_code == 201, one.json()
    assert one.json()["stars"] == 4
    assert bulk.status_code == 201, bulk.json()
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"stars": ["Ensure this value is less than or equal to 5."]}
    assert [r["stars"] for r in listed.json()["results"]] == [4, 5]
    schema = contract.json()["components"]["schemas"]["Record"]["properties"]["stars"]
    assert schema == {"type": "integer", "minimum": 1, "maximum": 5, "nullable": True}
