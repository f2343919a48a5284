"""Numbers at the edges of every numeric type: kept exactly or refused with a 400 naming the
field, never rounded, on every way in (create, PATCH, bulk, JSON and NDJSON ingest), with
the records front door open and closed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from factory.models import StorageDefinition
from factory.services.storages import storage_create
from tests.hostile.conftest import send

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("world", "numbers")]

NUMBERS = "/api/v1/storage/numbers/"
INGEST = "/api/v1/ingest/"
NDJSON = "application/x-ndjson"
DEFINITION = {
    "name": "numbers",
    "fields": [
        {"name": "i", "type": "integer"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "decimal", "max_digits": 30, "decimal_places": 2},
        {"name": "j", "type": "json"},
    ],
    "source": {
        "match": {"path": "/kind", "equals": "number"},
        "map": {"i": "/i", "f": "/f", "d": "/d", "j": "/j"},
    },
}


@pytest.fixture(scope="module")
def numbers(world, django_db_blocker) -> Iterator[None]:
    with django_db_blocker.unblock():
        storage_create(data=DEFINITION)
    yield
    with django_db_blocker.unblock():
        StorageDefinition.objects.filter(name="numbers").delete()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS ds_numbers")


@pytest.fixture(params=[True, False], ids=["fast-path", "drf-only"])
def fast(request, settings) -> bool:
    settings.RECORDS_FAST_PATH = request.param
    return request.param


# Sent as raw JSON text; stored and read back as (JSON text of) the value on the right.
# Decimals of more than 15 significant digits: kept on PostgreSQL, refused on SQLite
# (which stores a decimal as a double).
LONG_DECIMALS = {
    "decimal-18-digits-and-cents": ("d", "123456789012345678.12", '"123456789012345678.12"'),
    "decimal-22-digit-integer": ("d", "1234567890123456789012", '"1234567890123456789012.00"'),
    "decimal-30-digits-as-string": (
        "d",
        '"9999999999999999999999999999.99"',
        '"9999999999999999999999999999.99"',
    ),
}
KEPT = {
    "decimal-15-digits": ("d", "1234567890123.45", '"1234567890123.45"'),
    "decimal-exponent": ("d", "1.5E+3", '"1500.00"'),
    "integer-int64-max": ("i", "9223372036854775807", "9223372036854775807"),
    "integer-int64-min": ("i", "-9223372036854775808", "-9223372036854775808"),
    "float-nearest-double": ("f", "0.1", "0.1"),
    "float-17-digits": ("f", "0.30000000000000004", "0.30000000000000004"),
    "float-more-digits-than-a-double": ("f", "0.1000000000000000000001", "0.1"),
    "float-largest": ("f", "1.7976931348623157e308", "1.7976931348623157e+308"),
    "json-uint64-max": ("j", "[18446744073709551615]", "[18446744073709551615]"),
    "json-int64-min": ("j", "[-9223372036854775808]", "[-9223372036854775808]"),
    "json-double": ("j", '{"x": 0.1}', '{"x":0.1}'),
}

# Sent as raw JSON text: refused with 400 validation-error naming the field.
REFUSED = {
    "integer-2^63": ("i", "9223372036854775808"),
    "integer-below-int64": ("i", "-9223372036854775809"),
    "integer-10^30": ("i", "1000000000000000000000000000000"),
    "integer-exponent": ("i", "1e3"),
    "decimal-third-place": ("d", "0.125"),
    "decimal-third-place-as-string": ("d", '"0.125"'),
    "decimal-29-integer-digits": ("d", "12345678901234567890123456789"),
    "decimal-many-digits": ("d", "123456789012345678.123456789"),
    "decimal-overflow": ("d", "1e400"),
    "float-overflow": ("f", "1e400"),
    "float-negative-overflow": ("f", "-1e309"),
    "float-huge-integer": ("f", "1" + "0" * 400),
    "json-30-digit-integer": ("j", "123456789012345678901234567890"),
    "json-2^64": ("j", "[18446744073709551616]"),
    "json-below-int64": ("j", '{"x": -9223372036854775809}'),
    "json-18-digits-and-cents": ("j", '{"x": 123456789012345678.12}'),
    "json-overflow": ("j", "[1e400]"),
    "json-underflow": ("j", "[1e-400]"),
}


def _kept() -> dict[str, tuple[str, str, str]]:
    return {**KEPT, **LONG_DECIMALS} if connection.vendor == "postgresql" else KEPT


def _body(field: str, raw: str) -> str:
    return f'{{"{field}": {raw}}}'


def _stored(client, location: str, field: str) -> str:
    response = client.get(location)
    assert response.status_code == 200
    return _json_text(response.content, field)


def _json_text(content: bytes, field: str) -> str:
    """The field's JSON text in an answer, as the service spelled it."""
    start = content.index(f'"{field}":'.encode()) + len(field) + 3
    depth, end = 0, start
    for end, char in enumerate(content[start:].decode(), start):  # noqa: B007 (used after)
        if char in "[{":
            depth += 1
        elif char in "]}":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            break
    return content[start:end].decode()


@pytest.mark.parametrize(("field", "raw", "shown"), KEPT.values(), ids=KEPT.keys())
def test_a_created_number_is_kept_exactly(api_client, fast, field, raw, shown):
    response = send(api_client, "POST", NUMBERS, _body(field, raw))

    assert response.status_code == 201, response.content
    assert _json_text(response.content, field) == shown
    assert _stored(api_client, response["Location"], field) == shown


@pytest.mark.parametrize(
    ("field", "raw", "shown"), LONG_DECIMALS.values(), ids=LONG_DECIMALS.keys()
)
def test_a_long_decimal_is_kept_exactly_on_postgresql_refused_on_sqlite(
    api_client, refused, fast, field, raw, shown
):
    if connection.vendor == "postgresql":
        response = send(api_client, "POST", NUMBERS, _body(field, raw))
        assert response.status_code == 201, response.content
        assert _stored(api_client, response["Location"], field) == shown
    else:
        problem = refused("POST", NUMBERS, _body(field, raw), 400, "validation-error")
        assert problem["errors"] == {
            field: ["Has more than the 15 significant digits sqlite keeps of a decimal."]
        }


@pytest.mark.parametrize(("field", "raw"), REFUSED.values(), ids=REFUSED.keys())
def test_a_number_beyond_its_field_is_refused_on_create(refused, fast, field, raw):
    problem = refused("POST", NUMBERS, _body(field, raw), 400, "validation-error")

    assert list(problem["errors"]) == [field]


@pytest.mark.parametrize(("field", "raw"), REFUSED.values(), ids=REFUSED.keys())
def test_a_number_beyond_its_field_is_refused_on_patch(api_client, refused, fast, field, raw):
    location = send(api_client, "POST", NUMBERS, {"i": 1})["Location"]

    problem = refused(
        "PATCH", location, _body(field, raw), 400, "validation-error", HTTP_IF_MATCH='"1"'
    )

    assert list(problem["errors"]) == [field]


@pytest.mark.parametrize(("field", "raw", "shown"), KEPT.values(), ids=KEPT.keys())
def test_a_patched_number_is_kept_exactly(api_client, fast, field, raw, shown):
    created = send(api_client, "POST", NUMBERS, {"i": 1})
    location, etag = created["Location"], created["ETag"]  # versions: not always "1"

    response = send(api_client, "PATCH", location, _body(field, raw), HTTP_IF_MATCH=etag)

    assert response.status_code == 200, response.content
    assert _json_text(response.content, field) == shown
    assert _stored(api_client, location, field) == shown


def test_a_bulk_keeps_every_number_exactly(api_client):
    kept = _kept()
    items = ", ".join(_body(field, raw) for field, raw, _ in kept.values())

    response = send(api_client, "POST", NUMBERS, f"[{items}]")

    assert response.status_code == 201, response.content
    for record, (field, _, shown) in zip(response.json(), kept.values(), strict=True):
        location = f"{NUMBERS}{record['id']}/"
        assert _stored(api_client, location, field) == shown


@pytest.mark.parametrize(("field", "raw"), REFUSED.values(), ids=REFUSED.keys())
def test_a_bulk_with_one_number_beyond_its_field_is_refused_whole(refused, field, raw):
    body = f'[{{"i": 1}}, {{"d": "1.50"}}, {_body(field, raw)}]'

    problem = refused("POST", NUMBERS, body, 400, "validation-error")

    assert list(problem["errors"]) == [f"2.{field}"]


def _event(field: str, raw: str) -> str:
    return f'{{"kind": "number", "{field}": {raw}}}'


def _ingested(api_client, body: str, content_type: str) -> dict:
    response = send(api_client, "POST", INGEST, body, content_type=content_type)
    assert response.status_code == 200, response.content
    return response.json()["storages"]["numbers"]


@pytest.mark.parametrize("content_type", ["application/json", NDJSON])
def test_ingest_keeps_every_number_exactly(api_client, content_type):
    kept = _kept()
    events = [_event(field, raw) for field, raw, _ in kept.values()]
    body = f"[{', '.join(events)}]" if content_type != NDJSON else "\n".join(events)

    assert _ingested(api_client, body, content_type) == {
        "written": len(kept),
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "stale": 0,
        "deleted": 0,
        "rejected": [],
    }
    response = api_client.get(NUMBERS, {"limit": len(kept), "ordering": "-id"})
    stored = list(reversed(response.json()["results"]))
    for record, (field, _, shown) in zip(stored, kept.values(), strict=True):
        assert _stored(api_client, f"{NUMBERS}{record['id']}/", field) == shown


@pytest.mark.parametrize("content_type", ["application/json", NDJSON])
def test_ingest_rejects_each_number_beyond_its_field(api_client, content_type):
    events = [_event(field, raw) for field, raw in REFUSED.values()]
    body = f"[{', '.join(events)}]" if content_type != NDJSON else "\n".join(events)
    count = api_client.get(NUMBERS, {"count": "exact"}).json()["count"]

    outcome = _ingested(api_client, body, content_type)

    assert outcome["written"] == 0
    rejected = [(r["event"], list(r["errors"])) for r in outcome["rejected"]]
    assert rejected == [(n, [field]) for n, (field, _) in enumerate(REFUSED.values())]
    assert api_client.get(NUMBERS, {"count": "exact"}).json()["count"] == count


def test_a_big_integer_source_operand_is_kept_exactly():
    """A definition is stored and read with Python's json and events are parsed exactly, so
    an integer of any size is a sound operand (unlike in a record's json value)."""
    from core.json import dumps, loads
    from factory.schema.definition import normalize_definition

    big = "123456789012345678901234567890"
    body = (
        '{"name": "loose", "fields": [{"name": "n", "type": "integer"}], "source": '
        f'{{"match": {{"path": "/n", "equals": {big}}}, "map": {{"n": "/n"}}}}}}'
    )

    normal = normalize_definition(loads(body))

    assert normal["source"]["match"]["equals"] == int(big)
    assert f'"equals":{big}'.encode() in dumps(normal)


@pytest.mark.parametrize(
    "operand", ["123456789012345678.12", "[1, 1e400]"], ids=["decimal", "overflow-in-list"]
)
def test_a_source_operand_no_definition_keeps_is_refused(refused, operand):
    body = (
        '{"name": "loose", "fields": [{"name": "n", "type": "integer"}], "source": '
        f'{{"match": {{"path": "/n", "equals": {operand}}}, "map": {{"n": "/n"}}}}}}'
    )

    problem = refused("POST", "/api/v1/factory/storage/", body, 400, "validation-error")

    assert list(problem["errors"]) == ["source.match.equals"]
