"""GET /api/v1/storage/{name}/?format=ndjson|csv: every matching record, streamed, with the
list's filters, ordering and fields (and without its pages)."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest
from django.http import StreamingHttpResponse

from access.services import token_issue
from core.testing import storage_db
from storage.runtime import runtime_for
from storage.selectors import EXPORT_CHUNK
from storage.services import record_bulk_create

pytestmark = storage_db

DOGS = "/api/v1/storage/dogs/"
HEADER = [
    "id",
    "name",
    "breed",
    "age",
    "weight_kg",
    "vaccinated",
    "born",
    "registered_at",
    "chip",
    "size",
    "extra",
    "_version",
    "_created_at",
    "_updated_at",
]
INVALID = "The request has invalid input; see errors."
REX = {
    "name": "Rex",
    "breed": "collie",
    "age": 3,
    "weight_kg": "12.5",
    "vaccinated": True,
    "born": "2020-02-29",
    "registered_at": "2024-05-01T12:00:00Z",
    "chip": "6f1d3a8e-0d5e-4d1c-9a51-3b1f8f1b2c10",
    "size": "small",
    "extra": {"colour": "black", "tags": [1, 2.5, None, True], "note": 'a "quoted", text'},
}
# Nothing but the required fields: nulls and defaults everywhere else.
BARE = {"name": "Bare", "registered_at": "2024-05-02T08:30:00Z"}
TRICKY = {
    "name": 'Line one\nline "two", three',
    "breed": "",
    "age": 0,
    "vaccinated": False,
    "registered_at": "2024-05-03T00:00:00Z",
    "extra": ["a", {"b": None}],
}


def export(client, query: str = "", fmt: str = "ndjson"):
    separator = "&" if query else ""
    return client.get(f"{DOGS}?{query}{separator}format={fmt}")


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def ndjson_records(response) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in body(response).splitlines()]


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body(response).decode("utf-8"), newline="")))


def listed(client, query: str = "") -> list[dict[str, Any]]:
    """The same records as the JSON list shows them (one page is enough here)."""
    separator = "&" if query else ""
    response = client.get(f"{DOGS}?{query}{separator}limit=1000")
    assert response.status_code == 200, response.json()
    return response.json()["results"]


@pytest.fixture
def three(api_client, add_dog) -> list[dict[str, Any]]:
    return [add_dog(**REX), add_dog(**BARE), add_dog(**TRICKY)]


def fill(count: int) -> None:
    runtime = runtime_for("dogs")
    items = [
        {
            "name": f"dog-{i:05d}",
            "age": i % 41,
            "registered_at": "2024-05-01T12:00:00Z",
            "vaccinated": i % 2 == 0,
        }
        for i in range(count)
    ]
    record_bulk_create(runtime=runtime, items=items)


# --- NDJSON -----------------------------------------------------------------------------------


def test_ndjson_streams_every_record_as_the_list_shows_it(api_client, three):
    response = export(api_client)

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"] == 'attachment; filename="dogs.ndjson"'
    records = ndjson_records(response)
    assert records == listed(api_client)
    assert [r["name"] for r in records] == ["Rex", "Bare", TRICKY["name"]]
    assert {k: records[0][k] for k in REX} == {**REX, "weight_kg": "12.50"}
    assert records[1]["breed"] is None
    assert records[1]["age"] == 0


def test_ndjson_of_an_empty_storage_is_empty(api_client, dogs):
    response = export(api_client)

    assert response.status_code == 200
    assert body(response) == b""


def test_ndjson_ends_every_record_with_a_newline(api_client, three):
    raw = body(export(api_client))

    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == 3  # the newline inside a name is escaped in JSON


# --- CSV --------------------------------------------------------------------------------------


def test_csv_has_a_header_row_then_one_row_per_record(api_client, three):
    response = export(api_client, fmt="csv")

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="dogs.csv"'
    rows = csv_rows(response)
    assert rows[0] == HEADER
    assert len(rows) == 4
    stored = listed(api_client)
    rex, bare, tricky = (dict(zip(HEADER, row, strict=True)) for row in rows[1:])
    assert {k: rex[k] for k in HEADER[:11]} == {
        "id": str(stored[0]["id"]),
        "name": "Rex",
        "breed": "collie",
        "age": "3",
        "weight_kg": "12.50",
        "vaccinated": "true",
        "born": "2020-02-29",
        "registered_at": "2024-05-01T12:00:00Z",
        "chip": "6f1d3a8e-0d5e-4d1c-9a51-3b1f8f1b2c10",
        "size": "small",
        # JSON text, compact, keys in the order the database keeps them (jsonb sorts them)
        "extra": orjson.dumps(stored[0]["extra"]).decode(),
    }
    assert orjson.loads(rex["extra"]) == REX["extra"]
    assert (rex["_version"], rex["_created_at"]) == ("1", stored[0]["_created_at"])
    assert {
        k: bare[k] for k in ("breed", "weight_kg", "born", "chip", "size", "extra")
    } == dict.fromkeys(("breed", "weight_kg", "born", "chip", "size", "extra"), "")
    assert (bare["age"], bare["vaccinated"]) == ("0", "false")
    assert tricky["name"] == TRICKY["name"]
    assert tricky["extra"] == '["a",{"b":null}]'


def test_csv_of_an_empty_storage_is_its_header(api_client, dogs):
    rows = csv_rows(export(api_client, fmt="csv"))

    assert rows == [HEADER]


# --- the list's parameters --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_filters_ordering_and_fields_apply_as_in_the_list(api_client, three, fmt):
    query = "vaccinated=false&ordering=-name&fields=name,age"

    response = export(api_client, query, fmt)

    assert response.status_code == 200
    expected = listed(api_client, query)
    assert [r["name"] for r in expected] == [TRICKY["name"], "Bare"]
    if fmt == "ndjson":
        assert ndjson_records(response) == expected
    else:
        assert csv_rows(response) == [
            ["id", "name", "age", "_version"],
            *([str(r["id"]), r["name"], str(r["age"]), str(r["_version"])] for r in expected),
        ]


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_limit_cursor_and_count_do_not_cut_an_export(api_client, three, fmt):
    response = export(api_client, "limit=1&count=exact", fmt)

    assert response.status_code == 200
    lines = body(response).decode().count("\n")
    assert lines == (3 if fmt == "ndjson" else 5)  # CSV: header, and a quoted newline


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("format=xml", {"format": ["Use one of: ndjson, csv (or leave it out for JSON)."]}),
        ("format=", {"format": ["Use one of: ndjson, csv (or leave it out for JSON)."]}),
        ("format=NDJSON", {"format": ["Use one of: ndjson, csv (or leave it out for JSON)."]}),
        ("format=csv&colour=red", {"colour": ["Unknown filter or parameter for this storage."]}),
        ("format=ndjson&fields=name,colour", {"fields": ["Unknown field 'colour'."]}),
        (
            "format=ndjson&ordering=extra",
            {
                "ordering": [
                    "Cannot order by 'extra'; use one of: _created_at, _updated_at, _version, "
                    "age, born, breed, chip, id, name, registered_at, size, vaccinated, weight_kg."
                ]
            },
        ),
    ],
)
def test_bad_export_parameters_answer_400_before_streaming(api_client, three, query, errors):
    response = api_client.get(f"{DOGS}?{query}")

    assert response.status_code == 400
    assert not isinstance(response, StreamingHttpResponse)
    assert response.json() == {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": "Unknown query parameters: colour" if "colour=" in query else INVALID,
        "errors": errors,
    }


def test_export_needs_read_access(dogs, anonymous_client):
    reader = token_issue(name="reader", grants=[{"storage": "dogs", "access": ["read"]}])
    writer = token_issue(name="writer", grants=[{"storage": "dogs", "access": ["write"]}])

    def get(secret: str | None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
        return anonymous_client.get(f"{DOGS}?format=csv", **headers)

    assert get(reader.secret).status_code == 200
    assert get(writer.secret).status_code == 403
    assert get(None).status_code == 401


def test_export_of_an_unknown_storage_answers_404(api_client):
    response = api_client.get("/api/v1/storage/nowhere/?format=ndjson")

    assert response.status_code == 404
    assert response.json()["type"] == "storage-not-found"


# --- streaming at size ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_few_thousand_records_all_come_out_in_order_in_several_chunks(api_client, dogs):
    count = 2 * EXPORT_CHUNK + 345
    fill(count)
    names = [f"dog-{i:05d}" for i in range(count)]

    ndjson = export(api_client)
    chunks = list(ndjson.streaming_content)
    records = [orjson.loads(line) for line in b"".join(chunks).splitlines()]
    rows = csv_rows(export(api_client, "ordering=-name", "csv"))

    assert len(chunks) > 1  # written out as it is read, not as one body
    assert [r["name"] for r in records] == names
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    assert len({r["id"] for r in records}) == count
    assert rows[0] == HEADER
    assert [row[1] for row in rows[1:]] == names[::-1]


@pytest.mark.slow
def test_a_filtered_export_at_size_holds_exactly_the_matching_records(api_client, dogs):
    fill(3000)

    records = ndjson_records(export(api_client, "age__gte=40&ordering=age"))

    expected = [f"dog-{i:05d}" for i in range(3000) if i % 41 == 40]
    assert sorted(r["name"] for r in records) == expected
    assert {r["age"] for r in records} == {40}


# --- CSV cells: formulas neutralised, null apart from empty text ------------------------------

CELLS = {
    "name": "cells",
    "primary_key": {"name": "code", "type": "text"},
    "fields": [
        {"name": "note", "type": "text"},
        {"name": "amount", "type": "integer"},
        {"name": "price", "type": "decimal", "max_digits": 8, "decimal_places": 2},
        {"name": "ratio", "type": "float"},
        {"name": "data", "type": "json"},
    ],
}
# (record, its CSV line with fields code,note,amount,price,ratio,data,_version), by amount.
CELL_LINES = [
    (
        {"code": "-k", "note": '=HYPERLINK("http://x","y")', "amount": -5},
        '\'-k,"\'=HYPERLINK(""http://x"",""y"")",-5,,,,1',
    ),
    (
        {"code": "a2", "note": "+1", "amount": -4, "price": "-1.5", "ratio": -0.5},
        "a2,'+1,-4,-1.50,-0.5,,1",
    ),
    ({"code": "a3", "note": "@SUM(A1)", "amount": 3, "data": -5}, "a3,'@SUM(A1),3,,,'-5,1"),
    ({"code": "a4", "note": "\tx", "amount": 4, "data": "=cmd"}, 'a4,\'\tx,4,,,"""=cmd""",1'),
    (
        {"code": "a5", "note": "\rx", "amount": 5, "data": {"a": "=b"}},
        'a5,"\'\rx",5,,,"{""a"":""=b""}",1',
    ),
    ({"code": "a6", "note": "'=x", "amount": 6, "data": "5"}, 'a6,\'\'=x,6,,,"""5""",1'),
    ({"code": "a7", "note": "'plain", "amount": 7, "data": 5}, "a7,'plain,7,,,5,1"),
    ({"code": "a8", "note": "", "amount": 8, "data": ""}, 'a8,"",8,,,"""""",1'),
    ({"code": "a9", "note": None, "amount": 9, "data": None}, "a9,,9,,,,1"),
    ({"code": "b0", "note": "a-b=c", "amount": 10, "data": [1]}, "b0,a-b=c,10,,,[1],1"),
]


def test_csv_neutralises_formulas_in_text_and_json_cells_only(api_client, create_storage):
    create_storage(CELLS)
    for record, _ in CELL_LINES:
        response = api_client.post("/api/v1/storage/cells/", record, format="json")
        assert response.status_code == 201, response.json()

    response = api_client.get(
        "/api/v1/storage/cells/?format=csv&ordering=amount&fields=note,amount,price,ratio,data"
    )

    assert response.status_code == 200
    assert body(response).decode().split("\r\n") == [
        "code,note,amount,price,ratio,data,_version",
        # Each record's _version: the storage's counter, in the order they were created.
        *(f"{line.removesuffix(',1')},{n}" for n, (_, line) in enumerate(CELL_LINES, 1)),
        "",
    ]


def test_csv_writes_null_as_an_empty_cell_and_empty_text_as_two_quotes(api_client, three):
    raw = body(export(api_client, "fields=name,breed,born", fmt="csv")).decode()

    ids = [record["id"] for record in listed(api_client)]
    v = [record["_version"] for record in listed(api_client)]
    assert raw.split("\r\n") == [
        "id,name,breed,born,_version",
        f"{ids[0]},Rex,collie,2020-02-29,{v[0]}",
        f"{ids[1]},Bare,,,{v[1]}",  # breed and born are null
        f'{ids[2]},"Line one\nline ""two"", three","",,{v[2]}',  # breed is empty text
        "",
    ]
