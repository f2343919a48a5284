"""What per-value code costs: the fast accept check and the representation of records.

    DATABASE_URL= .venv/bin/python bench/values.py

The benchmark's dogs (bench/harness.py), 10,000 of them: accepting a bulk body's items
(RecordValidator.for_create, whose plainly valid records never reach DRF), representing
their rows for a bulk answer (represent_all) and one at a time (represent, as an export
does), and compiling what a storage version needs (validator, converters, filters). Prints
the best of 15 runs of each, in milliseconds.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datastorage.settings")

import django

django.setup()

import orjson  # noqa: E402

from bench import harness  # noqa: E402
from core.json import loads  # noqa: E402
from factory.schema.builder import build_model  # noqa: E402
from factory.schema.definition import normalize_definition  # noqa: E402
from storage.filters import build_filters  # noqa: E402
from storage.serializers import (  # noqa: E402
    RecordValidator,
    RowRecord,
    converters,
    represent,
    represent_all,
)

ITEMS = 10_000
RUNS = 15


def best_ms(run: Callable[[], Any]) -> float:
    run()
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def compile_version(definition: dict[str, Any], model: Any) -> tuple[Any, ...]:
    return RecordValidator(definition), converters(definition), build_filters(model, definition)


def main() -> None:
    definition = normalize_definition(harness.DOGS)
    items = loads(harness.bulk_body(harness.dog_rows(0, ITEMS, ITEMS)))
    validator = RecordValidator(definition)
    accepted = [validator.for_create(item) for item in items]
    assert all(validator.acceptor.accept(item) is not None for item in items)
    now = datetime.datetime.now(datetime.UTC)
    rows = [
        {"id": i, **values, "_version": 1, "_created_at": now, "_updated_at": now}
        for i, values in enumerate(accepted, start=1)
    ]
    records = [RowRecord(dict(row), "id") for row in rows]
    pairs = converters(definition)
    model = build_model(storage_id=1, version=1, definition=definition)
    figures = {
        "accept (for_create)": best_ms(lambda: [validator.for_create(i) for i in items]),
        "represent_all + dumps": best_ms(lambda: orjson.dumps(represent_all(rows, pairs))),
        "represent (one by one)": best_ms(lambda: [represent(r, pairs) for r in records]),
        "compile validator+converters+filters x100": best_ms(
            lambda: [compile_version(definition, model) for _ in range(100)]
        ),
    }
    for label, ms in figures.items():
        print(f"{label:45} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
