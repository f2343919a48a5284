"""Strict parsing: one spelling per key and limit, decimals, dates and date-times as the
docs say, and bodies only in UTF-8; every other spelling is refused, with the records fast
path on and off."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import DOG, send

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("world")]

DOGS = "/api/v1/storage/dogs/"
COUNTERS = "/api/v1/storage/counters/"


@pytest.fixture(params=[True, False], ids=["fast-path", "drf-only"])
def fast(request, settings) -> bool:
    settings.RECORDS_FAST_PATH = request.param
    return request.param


@pytest.mark.parametrize("key", ["01", "-0", "+1", " 1", "1 ", "1_0", "\u0661", "1.0", "00"])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", [DOGS, COUNTERS], ids=["serial", "integer"])
def test_an_integer_key_in_another_spelling_is_not_found(refused, fast, path, method, key):
    # The record with key 1 exists: "01" and its kin must not reach it.
    body = {"label": "changed"} if path == COUNTERS else DOG
    extra = {"HTTP_IF_MATCH": '"1"'} if method != "GET" else {}

    refused(method, f"{path}{key}/", body, 404, "record-not-found", **extra)


def test_the_canonical_integer_key_is_found(api_client, fast):
    assert send(api_client, "GET", f"{COUNTERS}1/").status_code == 200


@pytest.mark.parametrize("limit", ["\u0661", " 2", "2 ", "+2", "02", "2_0", "2.0", ""])
def test_a_limit_in_another_spelling_is_refused(refused, fast, limit):
    problem = refused("GET", f"{DOGS}?limit={limit}", None, 400, "validation-error")

    assert list(problem["errors"]) == ["limit"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("weight_kg", "1_000"),
        ("weight_kg", " 1.5"),
        ("weight_kg", "1.5 "),
        ("weight_kg", "+1.5"),
        ("weight_kg", ".5"),
        ("weight_kg", "5."),
        ("weight_kg", "1e2"),
        ("weight_kg", "\u0661"),
        ("born", "2024-1-1"),
        ("born", "20240101"),
        ("born", "2024-W01-1"),
        ("born", "2024-01-01T00:00"),
        ("born", "2024-01-01 "),
        ("registered_at", "2024-W18-3T12:00Z"),
        ("registered_at", "20240501T120000Z"),
        ("registered_at", "2024-05-01T12:00:00+01:00:30"),
        ("registered_at", "2024-05-01T12:00:00+0100"),
        ("registered_at", "2024-05-01T12Z"),
        ("registered_at", "2024-05-01T12:00:00.1234567Z"),
        ("registered_at", "2024-05-01T12:00:00,5Z"),
        ("registered_at", "2024-05-01T12:00:00Z "),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_value_in_a_spelling_the_docs_do_not_list_is_refused(refused, fast, method, field, value):
    if method == "POST":
        path, body, extra = DOGS, {**DOG, field: value}, {}
    else:
        path, body, extra = f"{DOGS}1/", {field: value}, {"HTTP_IF_MATCH": '"1"'}

    problem = refused(method, path, body, 400, "validation-error", **extra)

    assert list(problem["errors"]) == [field]


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("weight_kg", "-12.5", "-12.50"),
        ("born", "2024-01-01", "2024-01-01"),
        ("registered_at", "2024-05-01T12:00Z", "2024-05-01T12:00:00Z"),
        ("registered_at", "2024-05-01 14:00:00.5+02:00", "2024-05-01T12:00:00.500000Z"),
    ],
)
def test_the_documented_spellings_are_accepted(api_client, fast, field, value, shown):
    response = send(api_client, "POST", DOGS, {**DOG, "name": "Spelled", field: value})

    assert response.status_code == 201, response.content
    assert response.json()[field] == shown


LATIN_1 = {"content_type": "application/json; charset=latin-1"}


@pytest.mark.parametrize(
    ("method", "path", "extra"),
    [
        ("POST", DOGS, {}),
        ("PATCH", f"{DOGS}1/", {"HTTP_IF_MATCH": '"1"'}),
        ("PUT", f"{DOGS}1/", {"HTTP_IF_MATCH": '"1"'}),
        ("POST", "/api/v1/factory/storage/", {}),
    ],
    ids=["create", "patch", "put", "definition"],
)
@pytest.mark.parametrize("charset", ["latin-1", "ISO-8859-1", '"utf-16"', "ascii", "utf-8-sig"])
def test_a_body_in_a_charset_other_than_utf8_is_refused(
    refused, fast, method, path, extra, charset
):
    body = {**DOG, "name": "Ren\u00e9"}

    refused(
        method,
        path,
        body,
        415,
        "unsupported-media-type",
        content_type=f"application/json; charset={charset}",
        **extra,
    )


def test_an_ndjson_body_in_latin1_is_refused(refused):
    refused(
        "POST",
        "/api/v1/ingest/",
        b'{"a": "Ren\xe9"}\n',
        415,
        "unsupported-media-type",
        content_type="application/x-ndjson; charset=latin-1",
    )


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", '"utf-8"', "utf8"])
def test_a_utf8_charset_is_accepted(api_client, fast, charset):
    response = send(
        api_client,
        "POST",
        DOGS,
        {**DOG, "name": "Ren\u00e9 " + charset},
        content_type=f"application/json; charset={charset}",
    )

    assert response.status_code == 201, response.content
    assert response.json()["name"] == "Ren\u00e9 " + charset
