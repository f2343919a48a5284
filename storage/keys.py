"""A record's key as one segment of its URL.

Which text keys can be one is the text key type's rule (factory.schema.types.keys: not `.`
or `..`, no `/`), checked when a record is created; every other key is percent-encoded
whole into the segment, so that `?`, `#`, `%` and spaces stay in it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def key_segment(key: Any) -> str:
    """The key as its URL's path segment: percent-encoded whole (UTF-8), '/' included."""
    return quote(str(key), safe="")
