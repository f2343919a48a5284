"""What each block of a definition checks first (`source`, `retention`, `partition`,
`distribution`, and the definition itself): an object, with no key it does not know.
Problems are reported with add_error(path, message), every one at once."""

from __future__ import annotations

from typing import Any


def unknown_keys(data: dict[Any, Any], allowed: frozenset[str], path: str, add_error: Any) -> None:
    for key in sorted(set(data) - allowed, key=str):
        add_error(f"{path}.{key}" if path else str(key), "unknown key")


def is_block(value: Any, allowed: frozenset[str], path: str, shape: str, add_error: Any) -> bool:
    """Whether `value` is an object (else "must be <shape>" is reported); its unknown keys
    are reported either way."""
    if not isinstance(value, dict):
        add_error(path, f"must be {shape}")
        return False
    unknown_keys(value, allowed, path, add_error)
    return True
