"""Record validation: strict types and every rule of a definition; nothing written on error.
Also the representation (decimals as strings, datetimes in UTC with Z) and key parsing."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest

from core.json import dumps
from core.testing import storage_db
from storage.runtime import runtime_for
from storage.serializers import RowRecord, converters, parse_key, represent, represent_all

pytestmark = storage_db

DOGS = "/api/v1/storage/dogs/"
MEASURES = "/api/v1/storage/measures/"
BASE = {"name": "Rex", "registered_at": "2024-05-01T12:00:00Z"}

INTEGER = "Must be an integer (a JSON number without a fraction)."
INT64 = "Must be between -2^63 and 2^63-1."
BOOLEAN = "Must be true or false."
STRING = "Must be a string."
NUL = "Must not contain the NUL character."
DECIMAL = "Must be a decimal number, as a string or a number."
DATE = "Must be a date as an ISO 8601 string (YYYY-MM-DD)."
DATETIME = "Must be a date-time as an ISO 8601 string with a time zone."
NAIVE = "Must carry a time zone (e.g. 2024-05-01T12:00:00Z)."
UUID = "Must be a UUID string."
FLOAT = "Must be a finite JSON number."
SIZES = "is not one of the choices ['small', 'medium', 'large']."
SYSTEM = "This system field is set by the server and cannot be written."


def _nest(depth: int) -> object:
    """A JSON value `depth` levels deep: 1 inside depth-1 lists."""
    value: object = 1
    for _ in range(depth - 1):
        value = [value]
    return value


def _invalid(errors: dict) -> dict:
    return {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": "The request has invalid input; see errors.",
        "errors": errors,
    }


@pytest.fixture
def measures(create_storage):
    """Unbounded integer, bounded float: the edges the dogs storage does not have."""
    return create_storage(
        {
            "name": "measures",
            "fields": [
                {"name": "n", "type": "integer"},
                {"name": "x", "type": "float", "min": -1.5, "max": 100},
            ],
        }
    )


def _measure_count() -> int:
    return runtime_for("measures").model.objects.count()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("age", "3", INTEGER),
        ("age", True, INTEGER),
        ("age", False, INTEGER),
        ("age", 3.0, INTEGER),
        ("age", 3.5, INTEGER),
        ("age", [3], INTEGER),
        ("age", "", INTEGER),
        ("age", {"years": 3}, INTEGER),
        ("age", 2**63, INT64),
        # Beyond 64 bits the JSON parser yields a float, refused as not an integer.
        ("age", -(2**63) - 1, INT64),
        ("age", -1, "Ensure this value is greater than or equal to 0."),
        ("age", 41, "Ensure this value is less than or equal to 40."),
        ("vaccinated", "true", BOOLEAN),
        ("vaccinated", "false", BOOLEAN),
        ("vaccinated", 1, BOOLEAN),
        ("vaccinated", 0, BOOLEAN),
        ("vaccinated", "null", BOOLEAN),
        ("vaccinated", "", BOOLEAN),
        ("name", None, "This field may not be null."),
        ("name", 5, STRING),
        ("name", ["Rex"], STRING),
        ("name", "x" * 121, "Ensure this field has no more than 120 characters."),
        ("name", "Re\x00x", NUL),
        ("breed", "\x00", NUL),
        ("weight_kg", "12.345", "Ensure that there are no more than 2 decimal places."),
        ("weight_kg", "12345.67", "Ensure that there are no more than 6 digits in total."),
        (
            "weight_kg",
            "10000",
            "Ensure that there are no more than 4 digits before the decimal point.",
        ),
        ("weight_kg", "NaN", DECIMAL),
        ("weight_kg", "Infinity", DECIMAL),
        ("weight_kg", "-Infinity", DECIMAL),
        ("weight_kg", "abc", DECIMAL),
        ("weight_kg", "", DECIMAL),
        ("weight_kg", True, DECIMAL),
        ("weight_kg", [1], DECIMAL),
        ("born", "2024-13-01", DATE),
        ("born", "2023-02-29", DATE),
        ("born", "01/02/2024", DATE),
        ("born", 20240101, DATE),
        ("born", "2024-01-01T00:00:00Z", DATE),
        ("born", "", DATE),
        ("registered_at", "2024-05-01T12:00:00", NAIVE),
        ("registered_at", "yesterday", DATETIME),
        ("registered_at", 1714564800, DATETIME),
        ("registered_at", None, "This field may not be null."),
        ("registered_at", "", DATETIME),
        ("chip", "not-a-uuid", UUID),
        ("chip", "6f1d3a8e-0d5e-4d1c-9a51-3b1f8f1b2c1", UUID),
        ("chip", 5, UUID),
        ("chip", "", UUID),
        ("size", "huge", f"'huge' {SIZES}"),
        ("size", "Small", f"'Small' {SIZES}"),
        ("size", 1, STRING),
        ("extra", _nest(33), "Nested deeper than 32 levels."),
        ("extra", {"a": {"b": _nest(31)}}, "Nested deeper than 32 levels."),
        ("extra", {"ke\x00y": 1}, "Strings must not contain the NUL character."),
        ("extra", ["x\x00"], "Strings must not contain the NUL character."),
    ],
)
def test_invalid_value_answers_400_naming_the_field_and_writes_nothing(
    api_client, dogs, dog_count, field, value, message
):
    response = api_client.post(DOGS, {**BASE, field: value}, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == _invalid({field: [message]})
    assert dog_count() == 0


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("age", 0, 0),
        ("age", 40, 40),
        ("age", None, None),
        ("vaccinated", True, True),
        ("name", "x" * 120, "x" * 120),
        ("name", "", ""),
        ("breed", "  spaced  ", "  spaced  "),
        ("breed", "Mops \U0001f415", "Mops \U0001f415"),
        ("weight_kg", 12, "12.00"),
        ("weight_kg", "-0.5", "-0.50"),
        ("weight_kg", "9999.99", "9999.99"),
        ("born", "2024-02-29", "2024-02-29"),
        ("registered_at", "2024-05-01T12:00:00+05:30", "2024-05-01T06:30:00Z"),
        ("registered_at", "2024-05-01T12:00:00.123456Z", "2024-05-01T12:00:00.123456Z"),
        ("registered_at", "2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00Z"),
        ("chip", "6F1D3A8E-0D5E-4D1C-9A51-3B1F8F1B2C10", "6f1d3a8e-0d5e-4d1c-9a51-3b1f8f1b2c10"),
        ("chip", "6f1d3a8e0d5e4d1c9a513b1f8f1b2c10", "6f1d3a8e-0d5e-4d1c-9a51-3b1f8f1b2c10"),
        ("size", "large", "large"),
        ("extra", _nest(32), _nest(32)),
        ("extra", "just text", "just text"),
        ("extra", 5, 5),
        ("extra", {"a": None, "b": [True, 1.5, "\u00e9"]}, {"a": None, "b": [True, 1.5, "\u00e9"]}),
    ],
)
def test_valid_value_is_stored_and_represented(api_client, dogs, field, value, stored):
    response = api_client.post(DOGS, {**BASE, field: value}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()[field] == stored
    assert api_client.get(response["Location"]).json()[field] == stored


def test_json_depth_follows_the_setting(api_client, dogs, dog_count, settings):
    settings.MAX_JSON_DEPTH = 3

    refused = api_client.post(DOGS, {**BASE, "extra": {"a": [[1]]}}, format="json")
    accepted = api_client.post(DOGS, {**BASE, "extra": {"a": [1]}}, format="json")

    assert refused.status_code == 400
    assert refused.json() == _invalid({"extra": ["Nested deeper than 3 levels."]})
    assert accepted.status_code == 201


def test_body_nested_beyond_the_parser_limit_answers_400(api_client, dogs, dog_count):
    body = b'{"name": "Rex", "extra": ' + b"[" * 5000 + b"]" * 5000 + b"}"

    response = api_client.post(DOGS, data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["type"] == "malformed-request"
    assert dog_count() == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "Rex", "registered_at": "2024-05-01T12:00:00Z", "weight_kg": NaN}',
        b'{"name": "Rex", "registered_at": "2024-05-01T12:00:00Z", "age": Infinity}',
        b'{"name": "Rex", "registered_at": "2024-05-01T12:00:00Z", "age": -Infinity}',
        b'{"name": "Rex", "registered_at": "2024-05-01T12:00:00Z", "extra": [NaN]}',
        b'{"name": "Rex", ',
    ],
)
def test_nan_infinity_and_malformed_json_answer_400(api_client, dogs, dog_count, body):
    response = api_client.post(DOGS, data=body, content_type="application/json")

    assert response.status_code == 400
    problem = response.json()
    assert (problem["type"], problem["title"], problem["status"]) == (
        "malformed-request",
        "Malformed request",
        400,
    )
    assert problem["detail"].startswith(("Malformed JSON: ", "The request body is empty"))
    assert dog_count() == 0


def test_body_over_the_size_limit_answers_413(api_client, dogs, dog_count, settings):
    settings.MAX_REQUEST_BYTES = 100

    response = api_client.post(DOGS, {**BASE, "breed": "x" * 200}, format="json")

    assert response.status_code == 413
    assert response.json() == {
        "type": "payload-too-large",
        "title": "Payload too large",
        "status": 413,
        "detail": "The request body exceeds the limit of 100 bytes.",
    }
    assert dog_count() == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**63, INT64),
        (-(2**63) - 1, INT64),
        (2**100, INT64),
        ("1", INTEGER),
        (1.0, INTEGER),
    ],
)
def test_integer_outside_int64_or_not_an_integer_is_refused(api_client, measures, value, message):
    response = api_client.post(MEASURES, {"n": value}, format="json")

    assert response.status_code == 400
    assert response.json() == _invalid({"n": [message]})
    assert _measure_count() == 0


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63), 0])
def test_integer_at_the_int64_edges_is_stored_exactly(api_client, measures, value):
    response = api_client.post(MEASURES, {"n": value}, format="json")

    assert response.status_code == 201
    assert api_client.get(response["Location"]).json()["n"] == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.5", FLOAT),
        (True, FLOAT),
        (None, None),
        (100.5, "Ensure this value is less than or equal to 100.0."),
        (1e308, "Ensure this value is less than or equal to 100.0."),
        (-2, "Ensure this value is greater than or equal to -1.5."),
    ],
)
def test_float_rules(api_client, measures, value, message):
    response = api_client.post(MEASURES, {"x": value}, format="json")

    if message is None:
        assert response.status_code == 201
        assert response.json()["x"] is None
    else:
        assert response.status_code == 400
        assert response.json() == _invalid({"x": [message]})
        assert _measure_count() == 0


@pytest.mark.parametrize(("value", "stored"), [(1, 1.0), (-1.5, -1.5), (99.25, 99.25)])
def test_float_accepts_json_numbers_within_bounds(api_client, measures, value, stored):
    response = api_client.post(MEASURES, {"x": value}, format="json")

    assert response.status_code == 201
    assert response.json()["x"] == stored


def test_required_field_omitted_answers_400(api_client, dogs, dog_count):
    response = api_client.post(DOGS, {"breed": "pug"}, format="json")

    assert response.status_code == 400
    assert response.json() == _invalid(
        {"name": ["This field is required."], "registered_at": ["This field is required."]}
    )
    assert dog_count() == 0


def test_non_nullable_field_without_default_must_be_given(api_client, create_storage):
    create_storage(
        {
            "name": "counters",
            "fields": [
                {"name": "value", "type": "integer", "nullable": False},
                {"name": "step", "type": "integer", "nullable": False, "default": 1},
            ],
        }
    )
    url = "/api/v1/storage/counters/"

    omitted = api_client.post(url, {}, format="json")
    null = api_client.post(url, {"value": None, "step": None}, format="json")
    defaulted = api_client.post(url, {"value": 5}, format="json")

    assert omitted.status_code == 400
    assert omitted.json() == _invalid(
        {"value": ["This field is required: it is not nullable and has no default."]}
    )
    assert null.status_code == 400
    assert null.json() == _invalid(
        {"value": ["This field may not be null."], "step": ["This field may not be null."]}
    )
    assert defaulted.status_code == 201
    assert (defaulted.json()["value"], defaulted.json()["step"]) == (5, 1)


def test_unknown_fields_answer_400_naming_each(api_client, dogs, dog_count):
    response = api_client.post(DOGS, {**BASE, "colour": "red", "owner": "Ann"}, format="json")

    assert response.status_code == 400
    assert response.json() == _invalid({"colour": ["Unknown field."], "owner": ["Unknown field."]})
    assert dog_count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("_version", 1), ("_created_at", "2024-01-01T00:00:00Z"), ("_updated_at", None)],
)
def test_writing_a_system_field_on_create_answers_400(api_client, dogs, dog_count, field, value):
    response = api_client.post(DOGS, {**BASE, field: value}, format="json")

    assert response.status_code == 400
    assert response.json() == _invalid({field: [SYSTEM]})
    assert dog_count() == 0


def test_every_problem_is_reported_at_once(api_client, dogs, dog_count):
    response = api_client.post(
        DOGS, {"age": "3", "size": "huge", "colour": "red", "_version": 1}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == _invalid(
        {
            "age": [INTEGER],
            "size": [f"'huge' {SIZES}"],
            "colour": ["Unknown field."],
            "_version": [SYSTEM],
            "name": ["This field is required."],
            "registered_at": ["This field is required."],
        }
    )
    assert dog_count() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("age", "4", INTEGER),
        ("vaccinated", "true", BOOLEAN),
        ("weight_kg", "1.234", "Ensure that there are no more than 2 decimal places."),
        ("registered_at", "2024-05-01T12:00:00", NAIVE),
        ("name", None, "This field may not be null."),
        ("extra", _nest(33), "Nested deeper than 32 levels."),
        ("colour", "red", "Unknown field."),
    ],
)
def test_updates_follow_the_same_rules(api_client, add_dog, field, value, message):
    dog = add_dog()
    url = f"{DOGS}{dog['id']}/"

    response = api_client.patch(url, {field: value}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 400
    assert response.json() == _invalid({field: [message]})
    assert api_client.get(url).json() == dog


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+01:00"])
def test_datetime_that_leaves_the_representable_range_in_utc_answers_400(
    api_client, dogs, dog_count, value
):
    response = api_client.post(DOGS, {**BASE, "registered_at": value}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["registered_at"]
    assert dog_count() == 0


# --- pure helpers: key parsing and representation ---------------------------------------


@pytest.mark.parametrize(
    ("key_type", "raw", "expected"),
    [
        ("serial", "7", 7),
        ("serial", "-7", -7),
        ("serial", "abc", None),
        ("serial", "1.5", None),
        ("integer", str(2**63 - 1), 2**63 - 1),
        ("integer", str(2**63), None),
        ("integer", str(-(2**63) - 1), None),
        (
            "uuid",
            "6f1d3a8e-0d5e-4d1c-9a51-3b1f8f1b2c10",
            uuid.UUID(int=0x6F1D3A8E0D5E4D1C9A513B1F8F1B2C10),
        ),
        ("uuid", "zzz", None),
        ("text", "a b/é", "a b/é"),
    ],
)
def test_parse_key(key_type, raw, expected):
    assert parse_key({"name": "k", "type": key_type}, raw) == expected


def test_represent_writes_decimals_as_strings_and_datetimes_in_utc_with_z():
    definition = {
        "primary_key": {"name": "id", "type": "uuid"},
        "fields": [
            {"name": "price", "type": "decimal"},
            {"name": "at", "type": "datetime"},
            {"name": "day", "type": "date"},
            {"name": "count", "type": "integer"},
            {"name": "doc", "type": "json"},
        ],
    }
    berlin = datetime.timezone(datetime.timedelta(hours=2))
    key = uuid.uuid4()

    class Row:
        id = key
        price = Decimal("12.50")
        at = datetime.datetime(2024, 5, 1, 14, 0, 0, 250000, tzinfo=berlin)
        day = datetime.date(2024, 5, 1)
        count = 2**62
        doc = None
        _version = 3
        _created_at = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
        _updated_at = datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)

    assert represent(Row(), converters(definition)) == {
        "id": str(key),
        "price": "12.50",
        "at": "2024-05-01T12:00:00.250000Z",
        "day": "2024-05-01",
        "count": 2**62,
        "doc": None,
        "_version": 3,
        "_created_at": "2024-01-01T00:00:00Z",
        "_updated_at": "2024-01-02T00:00:00Z",
    }


_ONE_OF_EACH = {
    "primary_key": {"name": "id", "type": "serial"},
    "fields": [{"name": "at", "type": "datetime"}, {"name": "chip", "type": "uuid"}],
}


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(1, 1, 1, tzinfo=datetime.UTC),
        datetime.datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=datetime.UTC),
        datetime.datetime(2024, 2, 29, 12, 0, 0, 100000, tzinfo=datetime.UTC),
        datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.UTC),
        datetime.datetime(2024, 5, 1, 0, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=5))),
        datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=-3))),
    ],
)
def test_datetimes_are_represented_as_isoformat_in_utc_with_z(value):
    (convert,) = [c for name, c in converters(_ONE_OF_EACH) if name == "at"]

    assert convert(value) == value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    "value",
    [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.uuid4(), "not a UUID object"],
)
def test_uuids_are_represented_as_str_does(value):
    (convert,) = [c for name, c in converters(_ONE_OF_EACH) if name == "chip"]

    assert convert(value) == str(value)


def test_represent_all_gives_what_represent_gives_for_every_row():
    """The generated representer against the loop, as rendered: on every type, None, other
    zones, microseconds, early years."""
    definition = {
        "primary_key": {"name": "id", "type": "serial"},
        "fields": [
            {"name": "n", "type": "text"},
            {"name": "price", "type": "decimal"},
            {"name": "born", "type": "date"},
            {"name": "seen", "type": "datetime"},
            {"name": "chip", "type": "uuid"},
            {"name": "extra", "type": "json"},
            {"name": "v_0", "type": "integer"},
        ],
    }
    pairs = converters(definition)
    paris = datetime.timezone(datetime.timedelta(hours=2))
    full = {
        "id": 7,
        "n": "Rex",
        "price": Decimal("1.50"),
        "born": datetime.date(2020, 2, 29),
        "seen": datetime.datetime(2024, 5, 1, 12, 0, 0, 5, tzinfo=paris),
        "chip": uuid.UUID(int=5),
        "extra": {"a": [1, None]},
        "v_0": 3,
        "_version": 2,
        "_created_at": datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC),
        "_updated_at": datetime.datetime(2024, 5, 2, tzinfo=datetime.UTC),
    }
    empty = {name: None for name in full} | {"id": 8}
    early = full | {
        "seen": datetime.datetime(999, 1, 1, 0, 0, 0, 1, tzinfo=datetime.UTC),
        "born": datetime.date(1, 2, 3),
        "_created_at": datetime.datetime(2024, 5, 1, 23, 30, tzinfo=paris),
    }
    rows = [RowRecord(dict(row), "id") for row in (full, empty, early)]

    values = [vars(row) for row in rows]
    assert dumps(represent_all(values, pairs)) == dumps([represent(row, pairs) for row in rows])
    assert list(represent_all(values, pairs)[0]) == [name for name, _ in pairs]
