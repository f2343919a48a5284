"""What exact numbers cost: parsing a 10,000-item bulk body with orjson (floats, the parser
before issue 15) and with core.json.loads (msgspec, numbers exact).

    .venv/bin/python bench/json_numbers.py

Two bodies of the benchmark's dogs (bench/harness.py): decimals as strings, as the
benchmark sends them, and as JSON numbers (a non-integer in every item). Prints the best
of 15 parses of each, in milliseconds.
"""

from __future__ import annotations

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

ITEMS = 10_000
RUNS = 15


def best_ms(parse: Callable[[bytes], Any], body: bytes) -> float:
    parse(body)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        parse(body)
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    rows = harness.dog_rows(0, ITEMS, ITEMS)
    as_strings = harness.bulk_body(rows)
    items = [dict(zip(harness.COLUMNS, row, strict=True)) for row in rows]
    for item in items:
        item["weight_kg"] = float(item["weight_kg"])
    as_numbers = orjson.dumps(items, default=str)
    for label, body in (("decimals as strings", as_strings), ("decimals as numbers", as_numbers)):
        before, after = best_ms(orjson.loads, body), best_ms(loads, body)
        print(
            f"{label} ({len(body) / 1e6:.1f} MB): orjson {before:.1f} ms, "
            f"core.json.loads {after:.1f} ms ({after / before:.2f}x)"
        )


if __name__ == "__main__":
    main()
