"""storage.sql.pages: a list page run from its kept statement is the page Django's
ORM would have built, and only what was validated is kept.

Every page below is asked twice: with the statements kept by earlier requests (warm) and
with none (cold: the ORM builds and compiles it, as before the cache). Both must agree.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

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
