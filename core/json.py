"""Fast, strict JSON encoding (orjson) and exact decoding (msgspec) for the API.

Decoding keeps every number exactly: orjson turns integers beyond 64 bits and every
number with a fraction or exponent into a float, so `123456789012345678.12` reached a
decimal field as 123456789012345680. msgspec parses as fast (bench/json_numbers.py) and
hands each non-integer literal to a hook, which keeps a float when the float is that
number (its shortest form reads back the same: 0.1, 1.5e300) and a Decimal otherwise.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import re
import uuid
from typing import Any

import msgspec
import orjson

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # Exact: decimals travel as strings.
        return str(value)
    if isinstance(value, uuid.UUID | datetime.date | datetime.time):
        return str(value)
    if hasattr(value, "__str__"):
        # Lazy translation strings, ErrorDetail and the like.
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, indent: bool = False) -> bytes:
    """Compact JSON; `indent`: two spaces a level, for people (the browsable API)."""
    try:
        return orjson.dumps(
            value, default=_default, option=_OPTIONS | (orjson.OPT_INDENT_2 if indent else 0)
        )
    except TypeError:
        # orjson refuses integers beyond 64 bits, which parsing keeps (a value not yet
        # validated, e.g. an event being sized); no stored value holds one.
        layout: dict[str, Any] = {"indent": 2} if indent else {"separators": (",", ":")}
        return json.dumps(value, default=_default, **layout).encode()


def exact_number(literal: str) -> float | decimal.Decimal:
    """A non-integer JSON number: a float when the float is exactly this number in
    decimal, as its shortest form reads, else the exact Decimal (too many digits for a
    double, or beyond its range: 123456789012345678.12, 1e400, 1e-400)."""
    if len(literal) < 16 and "e" not in literal and "E" not in literal:
        return float(literal)  # at most 14 digits: every double of them reads back the same
    value = float(literal)
    exact = decimal.Decimal(literal)
    if math.isfinite(value) and decimal.Decimal(repr(value)) == exact:
        return value
    return exact


_decoder = msgspec.json.Decoder(float_hook=exact_number)


def loads(data: bytes | str) -> Any:
    """Parse JSON strictly, numbers exactly: integers as int of any size, other numbers as
    exact_number makes them. Raises ValueError on malformed input (NaN and Infinity, lone
    surrogates, invalid UTF-8 included) and on nesting deeper than the interpreter allows."""
    try:
        return _decoder.decode(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


# 16 digits (or dots) in a row: a number orjson might read otherwise than json.loads does
# (integers beyond 64 bits it reads as floats; a double needs at most 17 digits), or text.
_LONG_NUMBER = re.compile(rb"[0-9.]{16}")


def loads_stored(text: bytes) -> Any:
    """A json field's value as PostgreSQL returns it (jsonb's text, UTF-8), read as
    json.loads reads it (Django's JSONField) but by orjson, in C, when that gives the same
    value: every number of at most 15 digits (integers, and decimals, which both read as
    the nearest double), every string, object and array. A text with a longer run of
    digits goes to json.loads. Raises ValueError (JSONDecodeError) on malformed text."""
    if not _LONG_NUMBER.search(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # json.loads refuses it as well, or reads what orjson does not (NaN)
    return json.loads(text)
