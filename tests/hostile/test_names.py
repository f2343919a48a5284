"""Storage and field names reach the database schema: hostile ones are refused (400) or find
nothing (404), reserved words work end to end, and hostile *values* stay values."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from factory.tests.factories import dogs_definition
from tests.hostile.conftest import DOG

# Refusals only: each case runs in a rolled-back transaction over the shared world.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("world")]

FACTORY = "/api/v1/factory/storage/"

# Each tries to leave the identifier (quotes, statement separators, comments), to look like
# a valid name (look-alike letters, a trailing newline that `$` would accept), or to be huge.
HOSTILE_NAMES = {
    "statement": "dogs; DROP TABLE ds_dogs",
    "comment": "dogs--",
    "double-quote": 'a"b',
    "quoted-ident": 'x"; DROP TABLE "ds_dogs',
    "single-quote": "x' OR '1'='1",
    "backslash": "a\\b",
    "cyrillic-a": "c\u0430ts",  # Cyrillic a
    "cyrillic-o": "d\u043egs",  # Cyrillic o
    "fullwidth": "\uff44\uff4f\uff47\uff53",  # fullwidth "dogs"
    "kelvin-sign": "\u212aelvin",  # Kelvin sign: lower-cases to k
    "long-s": "\u017fize",  # long s: upper-cases to S
    "dotless-i": "\u0131d",  # dotless i: upper-cases to I
    "trailing-newline": "cats\n",
    "nul": "cats\x00",
    "space": "my cats",
    "leading-space": " cats",
    "upper-case": "Cats",
    "digit-first": "1cats",
    "underscore-first": "_cats",
    "empty": "",
    "51-chars": "a" * 51,
    "10000-chars": "a" * 10_000,
    "emoji": "cats\U0001f408",
    "percent": "cats%00",
}
NOT_STRINGS = {"number": 123, "null": None, "list": ["cats"], "object": {"a": 1}, "bool": True}
# Valid storage names that a field may not take (Django's and the records API's own).
BAD_FIELD_ONLY = {
    "python-keyword": "class",
    "pk": "pk",
    "manager": "objects",
    "model-method": "save",
    "query-parameter": "ordering",
    "lookup-separator": "a__b",
    "trailing-underscore": "a_",
    "system-column": "_version",
}


def definition(name: str = "cats", field: object = "label") -> dict:
    return {"name": name, "fields": [{"name": field, "type": "text"}]}


@pytest.mark.parametrize(
    "name", [*HOSTILE_NAMES.values(), *NOT_STRINGS.values()], ids=[*HOSTILE_NAMES, *NOT_STRINGS]
)
def test_hostile_storage_name_is_refused(refused, name):
    problem = refused("POST", FACTORY, definition(name=name), 400, "validation-error")

    assert list(problem["errors"]) == ["name"]


@pytest.mark.parametrize(
    "name",
    [*HOSTILE_NAMES.values(), *NOT_STRINGS.values(), *BAD_FIELD_ONLY.values()],
    ids=[*HOSTILE_NAMES, *NOT_STRINGS, *BAD_FIELD_ONLY],
)
def test_hostile_field_name_is_refused(refused, name):
    problem = refused("POST", FACTORY, definition(field=name), 400, "validation-error")

    assert list(problem["errors"]) == ["fields.0.name"]


@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values())[:14], ids=list(HOSTILE_NAMES)[:14])
def test_hostile_names_elsewhere_in_a_definition_are_refused(refused, name):
    body = {
        "name": "cats",
        "primary_key": {"name": name, "type": "serial"},
        "fields": [{"name": "label", "type": "text"}],
        "indexes": [{"fields": [name]}],
    }

    problem = refused("POST", FACTORY, body, 400, "validation-error")

    assert "primary_key.name" in problem["errors"]


@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values())[:14], ids=list(HOSTILE_NAMES)[:14])
def test_hostile_field_name_in_a_new_version_is_refused(refused, name):
    body = dogs_definition()
    body["fields"].append({"name": name, "type": "text"})

    problem = refused("PUT", FACTORY + "dogs/", body, 400, "validation-error", HTTP_IF_MATCH='"1"')

    assert list(problem["errors"]) == [f"fields.{len(body['fields']) - 1}.name"]


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"name": "a", "type": "text; DROP TABLE ds_dogs"}, "fields.0.type"),
        ({"name": "a", "type": "TEXT"}, "fields.0.type"),
        ({"name": "a", "type": "varchar(10)"}, "fields.0.type"),
        ({"name": "a", "type": "text", "max_length": "10); DROP TABLE ds_dogs; --"}, None),
        ({"name": "a", "type": "text", "max_length": 2**63}, None),
        ({"name": "a", "type": "integer", "min": "0 OR 1=1"}, None),
        ({"name": "a", "type": "decimal", "max_digits": 10**6, "decimal_places": 2}, None),
        ({"name": "a", "type": "text", "nullable": "false; DROP"}, None),
        ({"name": "a", "type": "text", "collation": "C"}, "fields.0.collation"),
    ],
)
def test_hostile_field_options_are_refused(refused, spec, error):
    problem = refused("POST", FACTORY, {"name": "cats", "fields": [spec]}, 400, "validation-error")

    if error is not None:
        assert error in problem["errors"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/storage/{}/",
        "/api/v1/storage/{}/1/",
        FACTORY + "{}/",
        FACTORY + "{}/schema/",
        FACTORY + "{}/versions/",
        "/api/v1/factory/ready_status/{}/",
    ],
)
@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
def test_hostile_storage_name_in_a_url_finds_nothing(refused, path, name):
    expected = "not-found" if "\x00" in name or name == "" else "storage-not-found"

    refused("GET", path.format(quote(name, safe="")), None, 404, expected)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/storage/{}/", DOG),
        ("DELETE", "/api/v1/storage/{}/1/", None),
        ("PUT", FACTORY + "{}/", definition()),
        # DELETE of a storage: test_schema_changes (it opens a schema transaction).
    ],
)
@pytest.mark.parametrize(
    "name",
    ["dogs; DROP TABLE ds_dogs", 'dogs"', "dogs' OR '1'='1", "d\u043egs", "dogs\n", "a" * 10_000],
    ids=["statement", "double-quote", "single-quote", "cyrillic-o", "newline", "10000-chars"],
)
def test_writes_to_a_hostile_storage_name_change_nothing(refused, method, path, body, name):
    refused(
        method,
        path.format(quote(name, safe="")),
        body,
        404,
        "storage-not-found",
        HTTP_IF_MATCH='"1"',
    )
