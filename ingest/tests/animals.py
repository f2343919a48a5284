"""The issue's animal scenario: storage definitions with sources, and events to feed them."""

from __future__ import annotations

import copy
from typing import Any

ALIVE = {"path": "/animal/deleted", "exists": False}

# The example: one stream of animal events feeds a dogs and a cats storage.
DOGS: dict[str, Any] = {
    "name": "dogs",
    "fields": [
        {"name": "name", "type": "text", "max_length": 120, "required": True},
        {"name": "age", "type": "integer", "min": 0, "max": 40, "default": 0},
        {"name": "breed", "type": "text"},
        {"name": "registered_at", "type": "datetime", "required": True},
    ],
    "indexes": [{"fields": ["name"], "unique": True}],
    "source": {
        "match": {"all": [{"path": "/animal/species", "equals": "dog"}, ALIVE]},
        "map": {
            "name": "/animal/name",
            "age": "/animal/age_years",
            "breed": "/animal/details/breed",
            "registered_at": "/meta/created",
        },
    },
}
CATS: dict[str, Any] = {
    "name": "cats",
    "fields": [
        {"name": "name", "type": "text", "required": True},
        {"name": "age", "type": "integer", "min": 0, "default": 0},
        {"name": "indoor", "type": "boolean", "default": False},
    ],
    "source": {
        "match": {"all": [{"path": "/animal/species", "equals": "cat"}, ALIVE]},
        "map": {"name": "/animal/name", "age": "/animal/age_years", "indoor": "/animal/indoor"},
    },
}


def definition(base: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {**copy.deepcopy(base), **overrides}


def dog(name: str, age: Any = 3, breed: str = "beagle", **animal: Any) -> dict[str, Any]:
    """An animal event as the producer sends it: a few attributes in a lot of noise."""
    return {
        "animal": {
            "species": "dog",
            "name": name,
            "age_years": age,
            "details": {"breed": breed, "colour": "brown", "microchip": "x1"},
            **animal,
        },
        "meta": {"created": "2024-05-01T12:00:00Z", "source": "registry", "seq": 1},
        "noise": {f"f{i}": i for i in range(20)},
    }


def cat(name: str, age: Any = 2, indoor: Any = True, **animal: Any) -> dict[str, Any]:
    return {
        "animal": {"species": "cat", "name": name, "age_years": age, "indoor": indoor, **animal},
        "meta": {"created": "2024-05-02T08:00:00Z"},
    }


def cow(name: str) -> dict[str, Any]:
    return {"animal": {"species": "cow", "name": name}, "meta": {"created": "2024-05-03"}}
