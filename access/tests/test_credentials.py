"""The one Bearer parser (DRF's authentication and the records front door both call it)."""

from __future__ import annotations

import pytest

from access.credentials import bearer_hash, bearer_secret, hash_secret


@pytest.mark.parametrize(
    ("header", "secret"),
    [
        ("Bearer dst_abc", "dst_abc"),
        ("bearer dst_abc", "dst_abc"),
        ("BEARER  dst_abc ", "dst_abc"),
        ("Bearer " + "a" * 200, "a" * 200),
    ],
)
def test_a_bearer_header_gives_its_secret(header, secret):
    assert bearer_secret(header) == secret
    assert bearer_hash(header) == hash_secret(secret)


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Bearer    ", "Basic dst_abc", "Bearer " + "a" * 201]
)
def test_anything_else_gives_none(header):
    assert bearer_secret(header) is None
    assert bearer_hash(header) is None
