"""The fast accept path (storage.accept) against DRF: whatever it accepts, DRF accepts too,
with the same value (type, decimal places, time zone included); the rest it leaves to DRF."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest

from core.errors import ValidationFailed
from factory.schema.definition import normalize_definition
from storage.serializers import RecordValidator

CHIP = "0b5a2d2e-8c1f-4e57-9a52-1f1f0d5f6c11"

FIELDS = [
    {"name": "name", "type": "text", "max_length": 5, "required": True},
    {"name": "note", "type": "text", "nullable": True},
    {"name": "size", "type": "text", "choices": ["small", "large"]},
    {"name": "age", "type": "integer", "min": 0, "max": 40, "default": 0},
    {"name": "tally", "type": "integer", "nullable": False, "default": 7},
    {"name": "big", "type": "integer"},
    {"name": "level", "type": "integer", "choices": [1, 2, 3]},
    {"name": "ratio", "type": "float", "min": -1.5, "max": 2},
    {"name": "free", "type": "float"},
    {"name": "price", "type": "decimal", "max_digits": 6, "decimal_places": 2},
    {"name": "fraction", "type": "decimal", "max_digits": 4, "decimal_places": 4},
    {"name": "whole", "type": "decimal", "max_digits": 3, "decimal_places": 0, "min": "-5"},
    {"name": "grade", "type": "decimal", "max_digits": 3, "decimal_places": 1, "choices": ["1.5"]},
    {"name": "ok", "type": "boolean", "default": False},
    {"name": "born", "type": "date"},
    {"name": "holiday", "type": "date", "choices": ["2024-12-25"]},
    {"name": "seen", "type": "datetime", "default": "2024-01-01T00:00:00Z"},
    {"name": "chip", "type": "uuid"},
    {"name": "pick", "type": "uuid", "choices": [CHIP]},
    {"name": "extra", "type": "json"},
    {"name": "strict", "type": "json", "nullable": False, "default": {"a": [1]}},
]
BASE = {"name": "Rex"}


def _nest(depth: int) -> Any:
    """A JSON value `depth` levels deep: 1 inside depth-1 lists."""
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    return value


ODD_VALUES = [None, True, False, 0, 1, -1, 1.0, 2.5, "", " ", "1", [], {}, [1], {"a": 1}]
VALUES: dict[str, list[Any]] = {
    "text": ["Rex", "Bella", "abcdef", "é", "a\tb\n", "a\x00b", "\ud800", "\udfff x", "  "],
    "choices": ["small", "large", "SMALL", "small "],
    "integer": [40, 41, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**30, 3, 4],
    "float": [-1.5, -1.6, 2, 2.0000001, 1e308, -0.0, 2**53 + 1, 10**400, 1e-320, float("nan")],
    "decimal": [
        *["8.5", "8.50", "8.505", "0", "0.00", "-0", "-0.5", "0012.50", "1234.5", "9999.99"],
        *["10000", "10000.00", "1000.000", "0.0001", "0.00001", ".5", "5.", "+1", "1e2", "1E2"],
        *[" 1", "1 ", "1_0", "NaN", "-Infinity", "\u0661", "-", "--1", "0000000001", "1.5", "1.50"],
        *["-5", "-6", "-5.0", "999", "1000", "0.1234", "-0.1234", "0.12345", "1" * 1001],
        *[12, -12, 0, 10**6, 10**20, 12.5, float("inf")],
    ],
    "boolean": ["true", "false", 0, 1],
    "date": [
        *["2024-01-01", "20240101", "2024-W01-1", "2024-1-1", "2024-02-30", "2024-02-29"],
        *["2024-01-01T00:00", "0001-01-01", "9999-12-31", "2024-12-25", "2024-01-01 "],
        20240101,
    ],
    "datetime": [
        *["2024-05-01T12:00:00Z", "2024-05-01T12:00:00+02:00", "2024-05-01T12:00:00"],
        *["2024-05-01", "2024-05-01 12:00:00Z", "2024-05-01T12:00:00.123Z"],
        *["2024-05-01T12:00:00.123456789Z", "0001-01-01T00:00:00+01:00"],
        *["9999-12-31T23:59:59-01:00", "2024-05-01T25:00:00Z", "20240501T120000Z"],
        *["2024-05-01T12:00:00,5+05:30", "2024-05-01T12:00Z", "2024-05-01T12Z"],
    ],
    "uuid": [CHIP, CHIP.upper(), CHIP.replace("-", ""), "{" + CHIP + "}", "urn:uuid:" + CHIP],
    "json": [
        *[{"a": [1, {"b": "x"}]}, {"a": "x\x00"}, {"a\x00": 1}, ["\x00"], [1.5, "s"]],
        *[_nest(31), _nest(32), _nest(33), {"k": _nest(31)}, {"k": _nest(32)}, [(1, 2)]],
        *[{"n": float("nan")}, [float("inf")], "text", 10**30, {"k": None}],
    ],
}
VALUES["uuid"] += [CHIP[:-1], CHIP + "0", "not-a-uuid", 5, uuid.UUID(CHIP).int]


def _kind(spec: dict[str, Any]) -> str:
    return "choices" if spec["type"] == "text" and spec.get("choices") else spec["type"]


@pytest.fixture(scope="module")
def validator() -> RecordValidator:
    definition = normalize_definition({"name": "samples", "fields": FIELDS})
    return RecordValidator(definition)


def _drf(validator: RecordValidator, item: Any) -> dict[str, Any] | None:
    """What the DRF fields alone answer: the values, or None for a ValidationFailed."""
    accept, validator.acceptor.accept = validator.acceptor.accept, lambda data: None
    try:
        return validator.for_create(item)
    except ValidationFailed:
        return None
    finally:
        validator.acceptor.accept = accept


def _same(a: Any, b: Any) -> bool:
    """Equal, of the same type, and spelled the same (8.5 != 8.50; UTC != +02:00)."""
    if type(a) is not type(b) or a != b:
        return False
    if isinstance(a, datetime.datetime):
        return a.tzinfo == b.tzinfo and a.isoformat() == b.isoformat()
    return str(a) == str(b) if isinstance(a, Decimal | datetime.date) else True


def _assert_agrees(validator: RecordValidator, item: Any) -> bool:
    accepted = validator.acceptor.accept(item)
    if accepted is None:
        return False
    expected = _drf(validator, item)
    assert expected is not None, f"accepted what DRF refuses: {item!r}"
    assert accepted.keys() == expected.keys()
    for name, value in expected.items():
        assert _same(accepted[name], value), (name, item, accepted[name], value)
    return True


@pytest.mark.parametrize("spec", FIELDS, ids=[spec["name"] for spec in FIELDS])
def test_each_value_accepted_is_accepted_by_drf_with_the_same_value(validator, spec):
    candidates = VALUES[_kind(spec)] + ODD_VALUES
    accepted = [raw for raw in candidates if _assert_agrees(validator, {**BASE, spec["name"]: raw})]

    assert accepted, "the fast path accepts nothing of this type"


@pytest.mark.parametrize(
    ("item", "accepted"),
    [
        (BASE, True),
        ({}, False),  # a required field missing
        ({**BASE, "unknown": 1}, False),
        ({**BASE, "_version": 1}, False),
        ({**BASE, "id": 5}, False),  # a serial key is the server's
        ([BASE], False),
        ("Rex", False),
        (None, False),
    ],
)
def test_records_accepted_or_referred_as_a_whole(validator, item, accepted):
    assert _assert_agrees(validator, item) is accepted


def test_a_typical_record_takes_the_fast_path(validator):
    item = {
        **BASE,
        "note": "a note",
        "size": "small",
        "age": 3,
        "price": "12.5",
        "ok": True,
        "born": "2020-02-29",
        "seen": "2024-05-01T12:00:00Z",
        "chip": CHIP,
        "extra": {"color": "tan", "tags": ["seed"]},
    }

    assert _assert_agrees(validator, item)


def test_omitted_fields_get_the_same_defaults_as_through_drf(validator):
    assert _assert_agrees(validator, BASE)
    values = validator.acceptor.accept(BASE)

    assert values["tally"] == 7
    assert values["strict"] == {"a": [1]}
    assert values["seen"] == datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    assert values["note"] is None


@pytest.mark.parametrize(
    ("key_type", "raws"),
    [
        ("text", ["pug", "", " ", "x" * 255, "x" * 256, "a\x00", 5, None, True]),
        ("integer", [0, -1, 2**63 - 1, 2**63, 1.0, "5", None, True]),
        ("uuid", [CHIP, CHIP.upper(), "nope", 5, None]),
    ],
)
def test_natural_keys_are_accepted_only_as_drf_accepts_them(key_type, raws):
    definition = normalize_definition(
        {
            "name": "keyed",
            "primary_key": {"name": "code", "type": key_type},
            "fields": [{"name": "label", "type": "text"}],
        }
    )
    validator = RecordValidator(definition)

    agreed = [raw for raw in raws if _assert_agrees(validator, {"code": raw, "label": "x"})]

    assert raws[0] in agreed
    # Only a uuid key may be left out (the server generates it).
    assert _assert_agrees(validator, {"label": "x"}) is (key_type == "uuid")
