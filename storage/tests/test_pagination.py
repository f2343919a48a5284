"""Keyset pagination of the records list: limits, cursors, ordering, projection, counting."""

from __future__ import annotations

import base64
import datetime
import itertools
import uuid
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
import pytest
from django.db import connection

from core.testing import storage_db

pytestmark = storage_db

DOGS = "/api/v1/storage/dogs/"
CHIPS = [uuid.UUID(int=n * 0x1111_1111_1111_1111).hex for n in (3, 1, 2)]


def _invalid(errors: dict) -> dict:
    return {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": "The request has invalid input; see errors.",
        "errors": errors,
    }


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _bulk(api_client, count: int, **columns) -> list[dict]:
    """`count` dogs named dog-00..., each column cycling through its given values."""
    cycles = {name: itertools.cycle(values) for name, values in columns.items()}
    items = [
        {
            "name": f"dog-{n:02d}",
            "registered_at": "2024-01-01T00:00:00Z",
            **{name: next(values) for name, values in cycles.items()},
        }
        for n in range(count)
    ]
    response = api_client.post(DOGS, items, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def walkable(api_client, dogs) -> list[dict]:
    """23 dogs with many ties and NULLs in every orderable column."""
    return _bulk(
        api_client,
        23,
        breed=["b", None, "a", "b", "c", None, "a"],
        age=[3, None, 1, 3, 0],
        weight_kg=["1.50", None, "10.00", "1.5", "2.25"],
        born=["2020-01-01", None, "2019-05-05", "2020-01-01"],
        registered_at=["2024-01-01T00:00:00Z", "2023-06-01T12:30:00.5Z", "2024-01-01T00:00:00Z"],
        vaccinated=[True, False, None],
        chip=[CHIPS[0], None, CHIPS[1], CHIPS[0], CHIPS[2]],
        size=["small", None, "large", "medium"],
    )


_PARSE = {
    "weight_kg": Decimal,
    "born": datetime.date.fromisoformat,
    "registered_at": datetime.datetime.fromisoformat,
    "_created_at": datetime.datetime.fromisoformat,
}


def _expected(records: list[dict], field: str, descending: bool) -> list[int]:
    """PostgreSQL's order: NULLs last ascending (so first descending), key as tie-breaker."""

    def key(record: dict) -> tuple:
        value = record[field]
        if value is not None and field in _PARSE:
            value = _PARSE[field](value)
        return (value is None, 0 if value is None else value, record["id"])

    ordered = [record["id"] for record in sorted(records, key=key)]
    return ordered[::-1] if descending else ordered


def _walk(api_client, url: str, link: str) -> list[dict]:
    pages = []
    while url:
        response = api_client.get(url)
        assert response.status_code == 200, response.json()
        pages.append(response.json())
        url = pages[-1][link]
    return pages


def _ids(pages: list[dict]) -> list[int]:
    return [record["id"] for page in pages for record in page["results"]]


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize(
    "field",
    [
        "breed",
        "age",
        "weight_kg",
        "born",
        "registered_at",
        "vaccinated",
        "chip",
        "size",
        "_created_at",
        "_version",
        "id",
    ],
)
def test_pages_walk_forwards_and_backwards_without_skips_or_repeats(
    api_client, walkable, field, descending
):
    ordering = f"-{field}" if descending else field
    expected = _expected(walkable, field, descending)

    forwards = _walk(api_client, f"{DOGS}?{urlencode({'ordering': ordering, 'limit': 4})}", "next")
    backwards = _walk(api_client, forwards[-1]["previous"], "previous")

    assert _ids(forwards) == expected
    assert [len(page["results"]) for page in forwards] == [4, 4, 4, 4, 4, 3]
    assert forwards[0]["previous"] is None
    assert forwards[-1]["next"] is None
    assert [page["results"] for page in backwards] == [
        page["results"] for page in reversed(forwards[:-1])
    ]
    assert backwards[-1]["previous"] is None


def test_nulls_sort_last_ascending_and_first_descending(api_client, walkable):
    ascending = api_client.get(DOGS, {"ordering": "breed", "limit": 1000}).json()["results"]
    descending = api_client.get(DOGS, {"ordering": "-breed", "limit": 1000}).json()["results"]

    assert [r["breed"] for r in ascending] == sorted(
        (r["breed"] for r in walkable), key=lambda b: (b is None, b or "")
    )
    assert ascending[-1]["breed"] is None
    assert descending[0]["breed"] is None
    assert descending[-1]["breed"] == "a"


def test_default_order_is_the_primary_key(api_client, walkable):
    response = api_client.get(DOGS)

    assert [r["id"] for r in response.json()["results"]] == sorted(r["id"] for r in walkable)


def test_page_links_are_absolute_and_keep_the_other_parameters(api_client, walkable):
    params = {"breed__isnull": "false", "ordering": "-age", "limit": "3", "fields": "name"}

    first = api_client.get(DOGS, params).json()
    first.pop("changes")  # on a page asked for without a cursor only (storage.changes)
    second = api_client.get(first["next"]).json()

    for link in (first["next"], second["previous"]):
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc, parts.path) == ("http", "testserver", DOGS)
        query = parse_qs(parts.query)
        assert {k: v for k, v in query.items() if k != "cursor"} == {
            name: [value] for name, value in params.items()
        }
        assert len(query["cursor"]) == 1
    assert api_client.get(second["previous"]).json() == first


def test_filtered_walk_sees_only_matching_records(api_client, walkable):
    pages = _walk(api_client, f"{DOGS}?breed__isnull=true&ordering=age&limit=2", "next")

    expected = _expected([r for r in walkable if r["breed"] is None], "age", descending=False)
    assert _ids(pages) == expected


def test_default_limit_is_100(api_client, dogs):
    created = _bulk(api_client, 101)

    first = api_client.get(DOGS).json()
    first.pop("changes")  # on a page asked for without a cursor only (storage.changes)
    second = api_client.get(first["next"]).json()

    assert len(first["results"]) == 100
    assert [r["id"] for r in second["results"]] == [created[-1]["id"]]
    assert second["next"] is None
    assert api_client.get(second["previous"]).json() == first


def test_limit_over_the_maximum_is_clamped(api_client, walkable, settings):
    settings.PAGE_SIZE_MAX = 5

    response = api_client.get(DOGS, {"limit": 50})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 5
    assert len(api_client.get(response.json()["next"]).json()["results"]) == 5


def test_page_size_limits_default_to_100_and_1000(settings):
    assert (settings.PAGE_SIZE_DEFAULT, settings.PAGE_SIZE_MAX) == (100, 1000)


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("abc", "Must be a whole number."),
        ("1.5", "Must be a whole number."),
        ("", "Must be a whole number."),
        ("0", "Must be at least 1."),
        ("-3", "Must be at least 1."),
    ],
)
def test_invalid_limit_answers_400(api_client, dogs, limit, message):
    response = api_client.get(DOGS, {"limit": limit})

    assert response.status_code == 400
    assert response.json() == _invalid({"limit": [message]})


INVALID_CURSOR = _invalid({"cursor": ["Invalid cursor; use the next/previous links."]})


@pytest.mark.parametrize(
    ("ordering", "cursor"),
    [
        ("", "abc"),
        ("", "!!!!"),
        ("", "%%%"),
        ("", _cursor({"a": 1})),
        ("", _cursor(["id", "n", 1])),
        ("", _cursor(["id", "x", 1, 1])),
        ("", _cursor(["id", "n", 1, "one"])),
        ("", _cursor(["id", "n", 1, [1]])),
        ("born", _cursor(["born", "n", "not a date", 1])),
        ("age", _cursor(["age", "p", [3], 1])),
    ],
)
def test_tampered_cursor_answers_400(api_client, walkable, ordering, cursor):
    params = {"cursor": cursor, **({"ordering": ordering} if ordering else {})}

    response = api_client.get(DOGS, params)

    assert response.status_code == 400
    assert response.json() == INVALID_CURSOR


def test_truncated_cursor_answers_400(api_client, walkable):
    cursor = parse_qs(urlsplit(api_client.get(DOGS, {"limit": 2}).json()["next"]).query)["cursor"]

    response = api_client.get(DOGS, {"limit": 2, "cursor": cursor[0][:-3]})

    assert response.status_code == 400
    assert response.json() == INVALID_CURSOR


@pytest.mark.parametrize(("first", "then"), [("breed", "-breed"), ("breed", "age"), ("age", "")])
def test_cursor_used_with_another_ordering_answers_400(api_client, walkable, first, then):
    link = api_client.get(DOGS, {"limit": 2, "ordering": first}).json()["next"]
    cursor = parse_qs(urlsplit(link).query)["cursor"][0]
    params = {"limit": 2, "cursor": cursor, **({"ordering": then} if then else {})}

    response = api_client.get(DOGS, params)

    assert response.status_code == 400
    assert response.json() == _invalid(
        {"cursor": ["This cursor belongs to another ordering; keep `ordering` unchanged."]}
    )


@pytest.mark.parametrize("ordering", ["colour", "-colour", "extra", "-", "name,age"])
def test_ordering_on_an_unknown_or_unorderable_field_answers_400(api_client, dogs, ordering):
    response = api_client.get(DOGS, {"ordering": ordering})

    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]) == ["ordering"]
    (message,) = body["errors"]["ordering"]
    assert message.startswith("Cannot order by ")
    assert message.endswith(
        "use one of: _created_at, _updated_at, _version, age, born, breed, chip, id, name, "
        "registered_at, size, vaccinated, weight_kg."
    )


def test_fields_returns_only_those_plus_the_key_and_version(api_client, walkable):
    response = api_client.get(DOGS, {"fields": "name,age", "limit": 2})

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"id": r["id"], "name": r["name"], "age": r["age"], "_version": r["_version"]}
        for r in walkable[:2]
    ]


def test_fields_may_name_the_key(api_client, walkable):
    response = api_client.get(DOGS, {"fields": "id", "limit": 1})

    assert response.json()["results"] == [
        {"id": walkable[0]["id"], "_version": walkable[0]["_version"]}
    ]


def test_fields_keep_pages_in_order_when_ordering_by_an_unlisted_field(api_client, walkable):
    pages = _walk(api_client, f"{DOGS}?fields=name&ordering=-breed&limit=5", "next")

    assert _ids(pages) == _expected(walkable, "breed", descending=True)
    assert {tuple(r) for page in pages for r in page["results"]} == {("id", "name", "_version")}


@pytest.mark.parametrize(
    ("fields", "messages"),
    [
        ("colour", ["Unknown field 'colour'."]),
        ("name,colour,owner", ["Unknown field 'colour'.", "Unknown field 'owner'."]),
        ("_created_at", ["Unknown field '_created_at'."]),
        ("", ["Name at least one field."]),
        (",", ["Name at least one field."]),
    ],
)
def test_unknown_field_in_fields_answers_400(api_client, dogs, fields, messages):
    response = api_client.get(DOGS, {"fields": fields})

    assert response.status_code == 400
    assert response.json() == _invalid({"fields": messages})


def _first_cursor(api_client) -> str:
    return parse_qs(urlsplit(api_client.get(DOGS, {"limit": 1}).json()["next"]).query)["cursor"][0]


def test_count_is_not_given_unless_asked(api_client, walkable):
    assert set(api_client.get(DOGS).json()) == {"results", "next", "previous", "changes"}
    assert set(api_client.get(DOGS, {"cursor": _first_cursor(api_client)}).json()) == {
        "results",
        "next",
        "previous",
    }


def test_count_exact_gives_the_total_of_the_filtered_list(api_client, walkable):
    response = api_client.get(DOGS, {"count": "exact", "breed": "a", "limit": 2})

    assert response.status_code == 200
    assert response.json()["count"] == sum(1 for r in walkable if r["breed"] == "a")
    assert len(response.json()["results"]) == 2


def test_count_estimated_gives_a_number(api_client, walkable):
    response = api_client.get(DOGS, {"count": "estimated"})

    assert response.status_code == 200
    count = response.json()["count"]
    assert isinstance(count, int)
    assert count >= 0


def test_invalid_count_answers_400(api_client, dogs):
    response = api_client.get(DOGS, {"count": "approximate"})

    assert response.status_code == 400
    assert response.json() == _invalid({"count": ["Must be one of: exact, estimated."]})


def test_a_page_costs_two_queries_at_any_depth(api_client, walkable, django_assert_num_queries):
    first = f"{DOGS}?ordering=breed&limit=3"
    last = _walk(api_client, first, "next")[-2]["next"]

    for url in (first, last):
        # The token with the storage's serving version, then the page: no count, no OFFSET.
        # (SQLite reads a first page's feed bound apart, from its counter: storage.changes.)
        sqlite_first = url == first and connection.vendor == "sqlite"
        with django_assert_num_queries(3 if sqlite_first else 2) as captured:
            assert api_client.get(url).status_code == 200
        assert all("OFFSET" not in query["sql"].upper() for query in captured.captured_queries)
