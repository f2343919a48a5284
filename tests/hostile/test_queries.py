"""Query strings and keys in URLs: filters, ordering and paging that try injection, unknown
columns or out-of-range values are refused (400); keys that cannot be keys find nothing."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

import pytest

from tests.hostile.conftest import CHIP

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("world")]

DOGS = "/api/v1/storage/dogs/"
DEEP = "[" * 10_000 + "]" * 10_000


def cursor(*payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


FILTERS = {
    # unknown columns and lookups
    "unknown-column": {"password": "x"},
    "statement-as-column": {"name; DROP TABLE ds_dogs": "1"},
    "quoted-column": {"name\" = 'x' OR \"1": "1"},
    "regex-lookup": {"name__regex": ".*"},
    "raw-lookup": {"name__extra": "1"},
    "json-path": {"extra__a__b": "1"},
    "system-column": {"_version": "1"},
    "table-column": {"ds_dogs.name": "x"},
    "cyrillic-column": {"n\u0430me": "Rex"},
    "10000-char-column": {"a" * 10_000: "1"},
    # values that do not fit the column
    "int-injection": {"age": "1 OR 1=1"},
    "int-statement": {"age": "1; DROP TABLE ds_dogs"},
    "int-gt-injection": {"id__gt": "0) OR (1=1"},
    "int-2^63": {"age": str(2**63)},
    "int-below-int64": {"age__gt": str(-(2**63) - 1)},
    "int-in-2^64": {"age__in": f"1,{2**64}"},
    "key-in-2^63": {"id__in": f"1,{2**63}"},
    "int-in-injection": {"age__in": "1,2) OR (1=1"},
    "int-fraction": {"age": "1.5"},
    "int-exponent": {"age": "1e3"},
    "int-empty": {"age": ""},
    "decimal-nan": {"weight_kg": "NaN"},
    "decimal-infinity": {"weight_kg": "Infinity"},
    "decimal-huge": {"weight_kg": "1e999999"},
    "decimal-in-nan": {"weight_kg__in": "1,NaN"},
    "date-invalid": {"born": "2020-02-30"},
    "date-year-0": {"born": "0000-01-01"},
    "date-us": {"born": "01/02/2020"},
    "datetime-function": {"registered_at__gt": "now()"},
    "datetime-year-99999": {"registered_at__gt": "99999-01-01T00:00:00Z"},
    "uuid-invalid": {"chip": "zzz"},
    "uuid-injection": {"chip": "' OR '1'='1"},
    "boolean-injection": {"vaccinated": "true OR 1=1"},
    "isnull-injection": {"breed__isnull": "1 OR 1=1"},
    "text-nul": {"name": "a\x00b"},
    "text-in-nul": {"name__in": "a,b\x00"},
    "has-key-nul": {"extra__has_key": "a\x00"},
    "contains-deep": {"extra__contains": DEEP},
    "contains-33-levels": {"extra__contains": "[" * 33 + "]" * 33},
    "contains-nan": {"extra__contains": "NaN"},
    "contains-nul": {"extra__contains": '{"a": "\\u0000"}'},
    "contains-nul-key": {"extra__contains": '{"\\u0000": 1}'},
    "contains-malformed": {"extra__contains": "{'a': 1}"},
    # ordering
    "ordering-statement": {"ordering": "name; DROP TABLE ds_dogs"},
    "ordering-sql": {"ordering": "name desc"},
    "ordering-function": {"ordering": "RANDOM()"},
    "ordering-subquery": {"ordering": "(SELECT 1)"},
    "ordering-quote": {"ordering": "name'"},
    "ordering-dash": {"ordering": "-"},
    "ordering-double-dash": {"ordering": "--name"},
    "ordering-several": {"ordering": "name,age"},
    "ordering-json": {"ordering": "extra"},
    "ordering-unknown": {"ordering": "password"},
    "ordering-number": {"ordering": "1"},
    "ordering-10000-chars": {"ordering": "-" + "a" * 10_000},
    # paging, projection, export
    "limit-negative": {"limit": "-1"},
    "limit-zero": {"limit": "0"},
    "limit-text": {"limit": "all"},
    "limit-exponent": {"limit": "1e3"},
    "limit-empty": {"limit": ""},
    "count-unknown": {"count": "all"},
    "count-injection": {"count": "exact; DROP TABLE ds_dogs"},
    "cursor-garbage": {"cursor": "' OR '1'='1"},
    "cursor-10000-chars": {"cursor": "A" * 10_000},
    "cursor-not-json": {"cursor": base64.urlsafe_b64encode(b"\xff\xfe").decode()},
    "cursor-wrong-types": {"cursor": cursor("id", "n", "x' OR 1=1", "y")},
    "cursor-other-ordering": {"cursor": cursor("-name", "n", "Rex", 1)},
    "cursor-bad-direction": {"cursor": cursor("id", "x", 1, 1)},
    "cursor-short": {"cursor": cursor("id", "n")},
    "cursor-key-2^64": {"cursor": cursor("id", "n", 2**64, 2**64)},
    "cursor-value-2^63": {"ordering": "age", "cursor": cursor("age", "n", 2**63, 1)},
    "cursor-value-nan": {"ordering": "weight_kg", "cursor": cursor("weight_kg", "n", "NaN", 1)},
    "cursor-date-invalid": {"ordering": "born", "cursor": cursor("born", "n", "2020-02-30", 1)},
    "fields-unknown": {"fields": "name,password"},
    "fields-statement": {"fields": "name; DROP TABLE ds_dogs"},
    "fields-empty": {"fields": ","},
    "format-unknown": {"format": "xml"},
}
RAW_QUERIES = {
    "repeated-parameter": "name=a&name=b",
    "repeated-ordering": "ordering=name&ordering=age",
    "bare-injection": "1=1",
    "percent-nul-name": "na%00me=Rex",
}


@pytest.mark.parametrize("query", list(FILTERS.values()), ids=list(FILTERS))
def test_hostile_query_parameter_is_refused(refused, query):
    refused("GET", f"{DOGS}?{urlencode(query)}", None, 400, "validation-error")


@pytest.mark.parametrize("query", list(RAW_QUERIES.values()), ids=list(RAW_QUERIES))
def test_hostile_raw_query_string_is_refused(refused, query):
    refused("GET", f"{DOGS}?{query}", None, 400, "validation-error")


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ({"name": "Rex"}, ["Rex"]),
        ({"name": "x' OR '1'='1"}, []),
        ({"name": "Rex' --"}, []),
        ({"name": 'Rex"; DROP TABLE ds_dogs; --'}, []),
        ({"name__in": "Rex','x"}, []),
        ({"extra__has_key": "' OR '1'='1"}, []),
        ({"name": "R%"}, []),
        ({"name": "R_x"}, []),
    ],
)
def test_injection_in_a_filter_value_is_only_a_value(api_client, query, found):
    response = api_client.get(f"{DOGS}?{urlencode(query)}")

    assert response.status_code == 200
    assert [dog["name"] for dog in response.json()["results"]] == found


# --- keys in URLs ---------------------------------------------------------------------------

KEYS = {
    # serial
    "serial-text": ("dogs", "abc"),
    "serial-fraction": ("dogs", "1.5"),
    "serial-exponent": ("dogs", "1e0"),
    "serial-space": ("dogs", " 1"),
    "serial-plus": ("dogs", "+1"),
    "serial-underscore": ("dogs", "0_1"),
    "serial-arabic-digit": ("dogs", "\u0661"),
    "serial-fullwidth-digit": ("dogs", "\uff11"),
    "serial-hex": ("dogs", "0x1"),
    "serial-20-digits": ("dogs", "9" * 20),
    "serial-2^63": ("dogs", str(2**63)),
    "serial-dash": ("dogs", "-"),
    "serial-injection": ("dogs", "1 OR 1=1"),
    "serial-statement": ("dogs", "1;DROP TABLE ds_dogs"),
    "serial-nul": ("dogs", "1\x00"),
    # integer
    "integer-2^63": ("counters", str(2**63)),
    "integer-below-int64": ("counters", str(-(2**63) - 1)),
    "integer-fraction": ("counters", "1.0"),
    "integer-plus": ("counters", "+1"),
    "integer-arabic-digit": ("counters", "\u0661"),
    # uuid
    "uuid-text": ("chips", "not-a-uuid"),
    "uuid-36-chars": ("chips", "x" * 36),
    "uuid-too-long": ("chips", CHIP + "0"),
    "uuid-injection": ("chips", "' OR '1'='1"),
    # text
    "text-injection": ("tags", "' OR '1'='1"),
    "text-statement": ("tags", "a'; DROP TABLE ds_tags; --"),
    "text-10000-chars": ("tags", "a" * 10_000),
    "text-cyrillic": ("tags", "\u0430"),
    "text-nul": ("tags", "a\x00"),
}
BODIES = {
    "dogs": {"age": 1},
    "counters": {"label": "x"},
    "chips": {"label": "x"},
    "tags": {"label": "x"},
}


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize(("storage", "key"), list(KEYS.values()), ids=list(KEYS))
def test_key_that_does_not_fit_the_primary_key_finds_nothing(refused, method, storage, key):
    expected = "not-found" if "\x00" in key else "record-not-found"
    body = BODIES[storage] if method == "PATCH" else None

    refused(
        method,
        f"/api/v1/storage/{storage}/{quote(key, safe='')}/",
        body,
        404,
        expected,
        HTTP_IF_MATCH='"1"',
    )
