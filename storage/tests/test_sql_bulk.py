"""storage.sql.bulk: the COPY compiled for a model (pure; the writes are tested through
the bulk API in storage/tests/test_views_bulk.py)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from factory.schema.builder import build_model
from factory.schema.definition import normalize_definition
from factory.schema.types import FIELD_TYPES, PRIMARY_KEY_TYPES
from storage.sql.bulk import copy_insert

EXTRA_OPTIONS: dict[str, dict[str, Any]] = {
    "decimal": {"max_digits": 6, "decimal_places": 2},
}


def _model(primary_key: dict[str, str], fields: list[dict[str, Any]]) -> Any:
    definition = normalize_definition(
        {"name": "things", "primary_key": primary_key, "fields": fields}
    )
    return build_model(storage_id=1, version=1, definition=definition)


@pytest.mark.parametrize("key_type", PRIMARY_KEY_TYPES)
def test_every_field_and_key_type_has_a_copy_type_psycopg_knows(key_type):
    fields = [
        {"name": f"f_{kind}", "type": kind, **EXTRA_OPTIONS.get(kind, {})} for kind in FIELD_TYPES
    ]
    fields.append({"name": "short", "type": "text", "max_length": 10})
    model = _model({"name": "key", "type": key_type}, fields)

    insert = copy_insert(model)

    columns = model._meta.concrete_fields
    assert len(insert.types) == len(columns)
    assert all(psycopg.adapters.types.get(name) is not None for name in insert.types)
    assert insert.row_values({f.attname: f.attname for f in columns}) == tuple(
        f.attname for f in columns
    )
    assert (insert.serial_key is not None) is (key_type == "serial")


def test_the_copy_names_the_table_and_every_column_quoted():
    model = _model({"name": "id", "type": "serial"}, [{"name": "label", "type": "text"}])

    statement = copy_insert(model).statement

    assert statement.as_string() == (
        'COPY "ds_things" ("id", "_version", "_created_at", "_updated_at", "label") '
        "FROM STDIN (FORMAT BINARY)"
    )


def test_a_uuid_key_left_out_gets_a_new_uuid():
    model = _model({"name": "tag", "type": "uuid"}, [{"name": "label", "type": "text"}])

    defaults = dict(copy_insert(model).defaults)

    assert set(defaults) == {"tag"}  # _version: from the counter (storage.services)
    assert defaults["tag"]() != defaults["tag"]()
