"""Request bodies: out-of-range numbers, deep nesting, broken encodings, wrong or missing
content types, empty bodies, wrong shapes and oversized bodies are all refused with a 4xx
problem, and change nothing."""

from __future__ import annotations

import io
import json

import pytest

from tests.hostile.conftest import DOG, send

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("world")]

DOGS = "/api/v1/storage/dogs/"
NOTES = "/api/v1/storage/notes/"
NOTE = NOTES + "1/"
FACTORY = "/api/v1/factory/storage/"
TOKENS = "/api/v1/auth/tokens/"
IF_MATCH = {"HTTP_IF_MATCH": '"1"'}
NOTES_V2 = {
    "name": "notes",
    "fields": [
        {"name": "note", "type": "text"},
        {"name": "n", "type": "integer"},
        {"name": "data", "type": "json"},
        {"name": "extra", "type": "text"},
    ],
}

# Where a body goes: record create, replace and patch; definitions; tokens.
WRITES = {
    "post-record": ("POST", NOTES),
    "put-record": ("PUT", NOTE),
    "patch-record": ("PATCH", NOTE),
    "post-definition": ("POST", FACTORY),
    "put-definition": ("PUT", FACTORY + "notes/"),
    "post-token": ("POST", TOKENS),
}


def dog_with(field: str, raw: str) -> str:
    """A valid dog, but for one member given as raw JSON text."""
    return json.dumps(DOG)[:-1] + f', "{field}": {raw}}}'


# --- numbers and other values ---------------------------------------------------------------

VALUES = {
    "int-2^63": ("age", "9223372036854775808", "validation-error"),
    "int-below-int64": ("age", "-9223372036854775809", "validation-error"),
    "int-2^64": ("age", "18446744073709551616", "validation-error"),
    "int-10^400": ("age", "1" + "0" * 400, "validation-error"),
    "int-negative": ("age", "-1", "validation-error"),
    "int-over-max": ("age", "41", "validation-error"),
    "int-fraction": ("age", "1.5", "validation-error"),
    "int-float-one": ("age", "1.0", "validation-error"),
    "int-exponent": ("age", "1e1", "validation-error"),
    "int-boolean": ("age", "true", "validation-error"),
    "int-string": ("age", '"5"', "validation-error"),
    "int-nan": ("age", "NaN", "malformed-request"),
    "int-infinity": ("age", "Infinity", "malformed-request"),
    "int-minus-infinity": ("age", "-Infinity", "malformed-request"),
    "float-overflow": ("age", "1e400", "validation-error"),
    "decimal-too-many-digits": ("weight_kg", "12345678901234567890123", "validation-error"),
    "decimal-nan-string": ("weight_kg", '"NaN"', "validation-error"),
    "decimal-infinity-string": ("weight_kg", '"Infinity"', "validation-error"),
    "decimal-minus-infinity-string": ("weight_kg", '"-Infinity"', "validation-error"),
    "decimal-huge-exponent": ("weight_kg", '"1e999999"', "validation-error"),
    "decimal-hex": ("weight_kg", '"0x10"', "validation-error"),
    "decimal-sql": ("weight_kg", '"1; DROP TABLE ds_dogs"', "validation-error"),
    "datetime-past-9999": ("registered_at", '"9999-12-31T23:59:59-12:00"', "validation-error"),
    "datetime-before-1": ("registered_at", '"0001-01-01T00:00:00+12:00"', "validation-error"),
    "datetime-naive": ("registered_at", '"2024-05-01T12:00:00"', "validation-error"),
    "datetime-number": ("registered_at", "1714564800", "validation-error"),
    "date-year-0": ("born", '"0000-01-01"', "validation-error"),
    "date-year-99999": ("born", '"99999-01-01"', "validation-error"),
    "uuid-invalid": ("chip", '"zzz"', "validation-error"),
    "boolean-string": ("vaccinated", '"true"', "validation-error"),
    "text-null-required": ("name", "null", "validation-error"),
    "text-too-long": ("name", json.dumps("a" * 121), "validation-error"),
    "text-nul": ("name", '"a\\u0000b"', "validation-error"),
    "text-not-a-choice": ("size", '"huge"', "validation-error"),
    "text-choice-injection": ("size", "\"small' OR '1'='1\"", "validation-error"),
    "json-nul": ("extra", '{"a": "\\u0000"}', "validation-error"),
    "json-nul-key": ("extra", '{"\\u0000": 1}', "validation-error"),
    "json-33-levels": ("extra", "[" * 33 + "]" * 33, "validation-error"),
    "json-10000-levels": ("extra", "[" * 10_000 + "]" * 10_000, "malformed-request"),
    "system-field": ("_version", "99", "validation-error"),
    "key-on-serial": ("id", "1", "validation-error"),
    "unknown-field": ("password", '"x"', "validation-error"),
    "injection-as-field": ('name\\"; DROP TABLE ds_dogs; --', '"x"', "validation-error"),
}


@pytest.mark.parametrize(("field", "raw", "problem_type"), list(VALUES.values()), ids=list(VALUES))
def test_hostile_value_is_refused(refused, field, raw, problem_type):
    refused("POST", DOGS, dog_with(field, raw), 400, problem_type)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/storage/counters/", {"n": 2**63, "label": "x"}),
        ("/api/v1/storage/counters/", {"n": -(2**63) - 1, "label": "x"}),
        ("/api/v1/storage/counters/", {"n": "1", "label": "x"}),
        ("/api/v1/storage/tags/", {"code": "", "label": "x"}),
        ("/api/v1/storage/tags/", {"code": "a" * 256, "label": "x"}),
        ("/api/v1/storage/tags/", {"code": "a\x00", "label": "x"}),
        ("/api/v1/storage/tags/", {"code": 1, "label": "x"}),
        ("/api/v1/storage/chips/", {"chip": "' OR '1'='1", "label": "x"}),
        ("/api/v1/storage/notes/", {"n": 2**63}),
    ],
    ids=[
        "integer-key-2^63",
        "integer-key-below-int64",
        "integer-key-string",
        "text-key-empty",
        "text-key-256-chars",
        "text-key-nul",
        "text-key-number",
        "uuid-key-injection",
        "optional-int-2^63",
    ],
)
def test_hostile_key_or_value_of_another_storage_is_refused(refused, path, body):
    refused("POST", path, body, 400, "validation-error")


def test_a_key_that_exists_is_a_conflict(refused):
    refused("POST", "/api/v1/storage/tags/", {"code": "a", "label": "again"}, 409)


# --- nesting and encodings ------------------------------------------------------------------

DEEP_ARRAY = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["arrays", "objects"])
@pytest.mark.parametrize(("method", "path"), list(WRITES.values()), ids=list(WRITES))
def test_json_nested_10000_levels_is_refused(refused, method, path, body):
    refused(method, path, body, 400, "malformed-request", **IF_MATCH)


ENCODINGS = {
    "invalid-byte": b'{"note": "\xff"}',
    "truncated-sequence": b'{"note": "\xc3\x28"}',
    "overlong-slash": b'{"note": "\xc0\xaf"}',
    "encoded-surrogate": b'{"note": "\xed\xa0\x80"}',
    "escaped-lone-surrogate": b'{"note": "\\ud800"}',
    "escaped-low-surrogate-first": b'{"note": "\\udc00\\ud800"}',
    "utf8-bom": b'\xef\xbb\xbf{"note": "x"}',
    "utf16": '{"note": "x"}'.encode("utf-16"),
    "latin1": '{"note": "caf\xe9"}'.encode("latin-1"),
    "raw-nul": b'{"note": "a\x00b"}',
    "raw-control": b'{"note": "a\x01b"}',
    "nul-only": b"\x00",
    "nan-literal": b'{"note": "x", "n": NaN}',
    "single-quotes": b"{'note': 'x'}",
    "trailing-comma": b'{"note": "x",}',
    "comment": b'{"note": "x"} // DROP TABLE',
    "two-documents": b'{"note": "x"}{"note": "y"}',
    "truncated": b'{"note": "x"',
}


@pytest.mark.parametrize("body", list(ENCODINGS.values()), ids=list(ENCODINGS))
@pytest.mark.parametrize(("method", "path"), list(WRITES.values()), ids=list(WRITES))
def test_body_that_is_not_utf8_json_is_refused(refused, method, path, body):
    refused(method, path, body, 400, "malformed-request", **IF_MATCH)


# --- content types --------------------------------------------------------------------------

CONTENT_TYPES = {
    "text": ("text/plain", '{"note": "x"}'),
    "form": ("application/x-www-form-urlencoded", "note=x"),
    "multipart": ("multipart/form-data; boundary=xyz", "--xyz\r\n\r\nnote=x\r\n--xyz--"),
    "xml": ("application/xml", "<note>x</note>"),
    "problem-json": ("application/problem+json", '{"note": "x"}'),
    "json-patch": ("application/json-patch+json", '[{"op": "add"}]'),
    "jsonp": ("application/jsonp", '{"note": "x"}'),
    "ndjson": ("application/x-ndjson", '{"note": "x"}\n'),
    "missing": ("", '{"note": "x"}'),
    "garbage": ("';DROP TABLE ds_notes;--", '{"note": "x"}'),
    "header-injection": ("application/xml\r\nX-Injected: 1", '{"note": "x"}'),
}


@pytest.mark.parametrize(
    ("content_type", "body"), list(CONTENT_TYPES.values()), ids=list(CONTENT_TYPES)
)
@pytest.mark.parametrize(("method", "path"), list(WRITES.values()), ids=list(WRITES))
def test_body_of_another_content_type_is_refused(refused, method, path, content_type, body):
    refused(
        method,
        path,
        body,
        415,
        "unsupported-media-type",
        content_type=content_type,
        **IF_MATCH,
    )


# --- empty bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", "application/json"), (b"", ""), (b" \n\t", "application/json")],
    ids=["empty-json", "no-body-no-type", "whitespace"],
)
@pytest.mark.parametrize(("method", "path"), list(WRITES.values()), ids=list(WRITES))
def test_empty_body_is_refused(refused, method, path, body, content_type):
    # notes has only optional fields: `{}` would be a valid record there.
    refused(method, path, body, 400, content_type=content_type, **IF_MATCH)


# --- shapes ---------------------------------------------------------------------------------

SHAPES = {
    # records
    "record-as-array": ("PUT", NOTE, [{"note": "x"}]),
    "patch-as-array": ("PATCH", NOTE, [{"note": "x"}]),
    "record-as-string": ("POST", NOTES, "note"),
    "record-as-number": ("POST", NOTES, 5),
    "record-as-null": ("POST", NOTES, None),
    "patch-as-null": ("PATCH", NOTE, None),
    "bulk-of-arrays": ("POST", NOTES, [[{"note": "x"}]]),
    "bulk-of-numbers": ("POST", NOTES, [1, 2]),
    "bulk-with-one-bad": ("POST", NOTES, [{"note": "x"}, {"note": ["x"]}]),
    "text-as-array": ("POST", NOTES, {"note": ["x"]}),
    "text-as-object": ("POST", NOTES, {"note": {"x": 1}}),
    "integer-as-array": ("POST", NOTES, {"n": [1]}),
    "integer-as-object": ("POST", NOTES, {"n": {"value": 1}}),
    "version-as-object": ("PATCH", NOTE, {"note": "x", "_version": {"a": 1}}),
    # definitions
    "definition-as-array": ("POST", FACTORY, [NOTES_V2]),
    "new-version-as-array": ("PUT", FACTORY + "notes/", [NOTES_V2]),
    "fields-as-object": ("POST", FACTORY, {"name": "cats", "fields": {"name": "a"}}),
    "field-as-array": ("POST", FACTORY, {"name": "cats", "fields": [["a", "text"]]}),
    "field-as-string": ("POST", FACTORY, {"name": "cats", "fields": ["a"]}),
    "primary-key-as-array": (
        "POST",
        FACTORY,
        {"name": "cats", "primary_key": ["id"], "fields": [{"name": "a", "type": "text"}]},
    ),
    "indexes-as-object": (
        "POST",
        FACTORY,
        {"name": "cats", "fields": [{"name": "a", "type": "text"}], "indexes": {"fields": ["a"]}},
    ),
    "index-fields-as-string": (
        "POST",
        FACTORY,
        {"name": "cats", "fields": [{"name": "a", "type": "text"}], "indexes": [{"fields": "a"}]},
    ),
    "choices-as-string": (
        "POST",
        FACTORY,
        {"name": "cats", "fields": [{"name": "a", "type": "text", "choices": "abc"}]},
    ),
    "default-as-object": (
        "POST",
        FACTORY,
        {"name": "cats", "fields": [{"name": "a", "type": "text", "default": {"x": 1}}]},
    ),
    "description-as-object": (
        "POST",
        FACTORY,
        {"name": "cats", "description": {"x": 1}, "fields": [{"name": "a", "type": "text"}]},
    ),
    "name-as-array": (
        "POST",
        FACTORY,
        {"name": ["cats"], "fields": [{"name": "a", "type": "text"}]},
    ),
    "501-fields": (
        "POST",
        FACTORY,
        {"name": "cats", "fields": [{"name": f"f{i}", "type": "text"} for i in range(501)]},
    ),
    # tokens
    "token-as-array": ("POST", TOKENS, [{"name": "x"}]),
    "grants-as-object": ("POST", TOKENS, {"name": "x", "grants": {"storage": "dogs"}}),
    "grant-as-array": ("POST", TOKENS, {"name": "x", "grants": [["dogs", "read"]]}),
    "access-as-string": (
        "POST",
        TOKENS,
        {"name": "x", "grants": [{"storage": "dogs", "access": "read"}]},
    ),
    "token-name-as-object": ("POST", TOKENS, {"name": {"x": 1}}),
    "token-name-10000-chars": ("POST", TOKENS, {"name": "a" * 10_000}),
    "token-name-nul": ("POST", TOKENS, {"name": "a\x00b"}),
    "grant-storage-nul": (
        "POST",
        TOKENS,
        {"name": "x", "grants": [{"storage": "dogs\x00", "access": ["read"]}]},
    ),
    "expiry-year-9999999": ("POST", TOKENS, {"name": "x", "expires_at": "9999999-01-01"}),
}


@pytest.mark.parametrize(("method", "path", "body"), list(SHAPES.values()), ids=list(SHAPES))
def test_body_of_the_wrong_shape_is_refused(refused, method, path, body):
    refused(method, path, json.dumps(body), 400, "validation-error", **IF_MATCH)


# --- sizes ----------------------------------------------------------------------------------


def chunked(body: bytes) -> dict:
    """A body streamed without Content-Length, as granian hands it over: a terminated
    input stream (read until it ends) and a Transfer-Encoding header."""
    return {
        "CONTENT_LENGTH": "",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
    }


BIG = json.dumps({"note": "x" * 2_000})


@pytest.mark.parametrize("streamed", [False, True], ids=["with-length", "chunked"])
@pytest.mark.parametrize(("method", "path"), list(WRITES.values()), ids=list(WRITES))
def test_body_over_the_limit_answers_413(refused, settings, method, path, streamed):
    settings.MAX_REQUEST_BYTES = 1_024
    extra = chunked(BIG.encode()) if streamed else {}

    refused(method, path, BIG, 413, "payload-too-large", **IF_MATCH, **extra)


@pytest.mark.parametrize(
    ("length", "status", "problem_type"),
    [
        ("abc", 400, "malformed-request"),
        ("1e3", 400, "malformed-request"),
        ("99999999999999999999999", 413, "payload-too-large"),
        ("-1", 400, "malformed-request"),
    ],
)
def test_hostile_content_length_is_refused(refused, length, status, problem_type):
    refused("POST", NOTES, '{"note": "x"}', status, problem_type, CONTENT_LENGTH=length)


def test_more_bulk_items_than_allowed_answers_413(refused, settings):
    settings.MAX_BULK_ITEMS = 3

    refused("POST", NOTES, [{"note": str(i)} for i in range(4)], 413, "payload-too-large")


def test_chunked_body_within_the_limit_is_read_not_dropped(api_client, settings):
    settings.MAX_REQUEST_BYTES = 1_024
    body = b'{"note": "streamed"}'

    response = send(api_client, "POST", NOTES, body, **chunked(body))

    assert response.status_code == 201, response.json()
    assert response.json()["note"] == "streamed"
