"""Fast, strict JSON encoding and decoding (orjson) used by the renderer and parsers."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

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


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ValueError on malformed input, NaN or Infinity included."""
    return orjson.loads(data)
