"""storage.sql.pages: a list page run from its kept statement is the page Django's
ORM would have built, and only what was validated is kept.

Every page below is asked twice: with the statements kept by earlier requests (warm) and
with none (cold: the ORM builds and compiles it, as before the cache). Both must agree.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.db import connection, models

from core.json import dumps, loads_stored
from core.testing import storage_db
from storage.sql import pages as page_statements
from storage.tests.test_pagination import DOGS, walkable  # noqa: F401 (fixture)

pytestmark = storage_db


def _cold(api_client, url: str) -> dict:
    page_statements.clear()
    response = api_client.get(url)
    page_statements.clear()
    return {"status": response.status_code, "body": response.json()}


def _warm(api_client, url: str) -> dict:
    response = api_client.get(url)
    return {"status": response.status_code, "body": response.json()}


def _walk(api_client, url: str, link: str) -> list[str]:
    """The URLs of every page from `url` on, following `link`, each checked warm and cold."""
    urls = []
    while url:
        urls.append(url)
        warm = _warm(api_client, url)
        assert warm == _cold(api_client, url), url
        assert warm == _warm(api_client, url), url  # and again, from the kept statement
        url = warm["body"][link]
    return urls


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 4},
        {"limit": 4, "ordering": "-age"},
        {"limit": 3, "ordering": "breed", "fields": "name"},
        {"limit": 5, "ordering": "-weight_kg", "breed": "b"},
        {"limit": 2, "ordering": "born", "age__gte": "1"},
        {"limit": 4, "ordering": "-registered_at", "breed__isnull": "false"},
        {"limit": 4, "ordering": "chip", "size__in": "small,large"},
        {"limit": 4, "ordering": "-_created_at", "count": "exact"},
    ],
    ids=lambda query: urlencode(query),
)
def test_kept_statements_give_the_pages_the_orm_gives(api_client, walkable, query):  # noqa: F811
    forwards = _walk(api_client, f"{DOGS}?{urlencode(query)}", "next")
    last = _warm(api_client, forwards[-1])["body"]
    if last["previous"]:
        _walk(api_client, last["previous"], "previous")

    assert len(forwards) > 1 or query.get("breed")


def test_one_statement_is_kept_per_shape_not_per_page(api_client, walkable):  # noqa: F811
    page_statements.clear()
    pages, url = 0, f"{DOGS}?limit=4&ordering=age"
    while url:
        pages += 1
        url = api_client.get(url).json()["next"]

    assert pages == 6
    # The first page (no cursor), and the pages after a cursor on a value, and on a NULL.
    assert len(page_statements._statements) == 3


def test_other_filter_values_are_validated_and_compiled_afresh(api_client, walkable):  # noqa: F811
    assert api_client.get(f"{DOGS}?age=3").status_code == 200

    refused = api_client.get(f"{DOGS}?age=three")
    refused_again = api_client.get(f"{DOGS}?age=three")

    assert refused.status_code == refused_again.status_code == 400
    assert refused.json() == refused_again.json()
    assert refused.json()["errors"] == {"age": ["Enter a whole number."]}


def test_errors_keep_their_order_once_the_filters_were_kept(api_client, walkable):  # noqa: F811
    """A bad filter value is reported before a bad ordering whether or not another request
    with the same filters was answered before."""
    first = api_client.get(f"{DOGS}?age=three&ordering=colour").json()["errors"]
    assert api_client.get(f"{DOGS}?age=3").status_code == 200
    kept = api_client.get(f"{DOGS}?age=3&ordering=colour").json()["errors"]
    unknown = api_client.get(f"{DOGS}?age=3&colour=red").json()["errors"]

    assert list(first) == ["age"]
    assert list(kept) == ["ordering"]
    assert list(unknown) == ["colour"]


def test_long_filter_values_are_answered_but_not_kept(api_client, walkable):  # noqa: F811
    """A client cannot fill a worker's cache with long keys and statements."""
    page_statements.clear()
    names = ",".join(f"dog-{n:02d}" for n in range(300))  # over MAX_KEPT_FILTER_CHARS
    assert len(names) > page_statements.MAX_KEPT_FILTER_CHARS
    url = f"{DOGS}?{urlencode({'name__in': names, 'limit': 4})}"

    pages = _walk(api_client, url, "next")  # each page as the ORM gives it
    page_statements.clear()
    answers = [api_client.get(url).status_code for _ in range(2)]

    assert len(pages) == 6  # the 23 dogs, 4 a page
    assert answers == [200, 200]
    assert len(page_statements._statements) == 0
    assert len(page_statements.valid_filters) == 0


# json values as a client may send them: numbers no double holds, integers beyond 64 bits,
# digits in strings, escapes, keys out of order, nesting.
JSON_DOCUMENTS = [
    '{"color": "brown", "tags": ["seed"]}',
    '{"max": 9223372036854775807, "min": -9223372036854775808, "15": 999999999999999}',
    '{"tiny": 1e-30, "huge": 1e300, "third": 0.3333333333333333, "long": 1.2345678901234567}',
    '{"digits": "12345678901234567890", "\\u00fc": "\\ud83d\\ude00 \\u0001 \\" \\\\ /"}',
    "[1, 2.5, -0.0, 1.0, 0.1, 100000000000000, true, false, null, [], {}]",
    '{"z": 1, "a": {"nested": [1, {"deeper": "x"}]}, "": ""}',
    '"just text"',
    "42",
]


# What the API refuses (json numbers it would not keep exactly) but a table may hold.
BEYOND_THE_API = [
    '{"big": 18446744073709551616, "low": -9223372036854775809}',
    '{"exact": 123456789012345678.12, "many": 0.1000000000000000055511151231257827}',
    "1e400",
]


def _stored_text(document: str) -> str:
    """The json value as the database gives it back to Django: jsonb's text on PostgreSQL,
    the text Django stored on SQLite."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s::jsonb", [document])
            return cursor.fetchone()[0]
    return json.dumps(json.loads(document))


@pytest.mark.parametrize("document", JSON_DOCUMENTS + BEYOND_THE_API)
def test_json_values_are_read_as_djangos_converter_reads_them(document):
    field = models.JSONField()
    text = _stored_text(document)

    ours = loads_stored(text.encode())
    django = field.from_db_value(text, None, connection)

    assert repr(ours) == repr(django)  # the same types too: 1 is not 1.0
    assert dumps(ours) == dumps(django)


def test_a_page_of_json_values_answers_the_bytes_djangos_converter_gives(
    api_client, dogs, monkeypatch
):
    for number, document in enumerate(JSON_DOCUMENTS):
        at = "2024-01-01T00:00:00Z"
        body = f'{{"name": "j{number}", "registered_at": "{at}", "extra": {document}}}'
        response = api_client.post(DOGS, body, content_type="application/json")
        assert response.status_code == 201, (document, response.json()["errors"])
    url = f"{DOGS}?limit=50"

    page_statements.clear()
    ours = api_client.get(url)
    monkeypatch.setattr(page_statements, "_read_json_natively", lambda *args: False)
    page_statements.clear()
    django = api_client.get(url)

    assert ours.status_code == django.status_code == 200
    assert ours.content == django.content
    assert len(ours.json()["results"]) == len(JSON_DOCUMENTS)
