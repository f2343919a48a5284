"""What a read costs the worker, in process: CPU time per request through the WSGI
application (`datastorage.wsgi.application`, the front door included), no server, no wrk.

    scripts/with_postgres.py -- .venv/bin/python bench/page_cost.py [--profile OPERATION]

On a shared virtual machine wrk's req/s move 15-25 % between runs; the CPU time a request
costs the process that answers it moves far less, so this is the measure for an A/B of a
code change (run it in both trees, alternately). Seeds BENCH_ROWS (10,000) records into
`dogs`, `rich` and `plain` (bench/harness.py, the shapes of `make bench-peers`) through
the bulk endpoint, then calls the application BENCH_CALLS (2,000) times per operation and
round, BENCH_ROUNDS (5) rounds, operations interleaved; prints the best round's µs per
request. `--profile NAME` runs that operation under cProfile instead and prints the top.
The request log goes to stdout, which is sent to /dev/null while measuring.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datastorage.settings")

import harness  # bench/ is on the path when run as a script
import orjson

FILTER = "breed=beagle&limit=20"
OUT = sys.stderr  # the request log goes to stdout


def environ(token: str, method: str, path: str, query: str = "", body: bytes = b"") -> dict:
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
    }
    if body:
        env["CONTENT_TYPE"] = "application/json"
        env["CONTENT_LENGTH"] = str(len(body))
    return env


def call(app: Any, env: dict) -> tuple[str, bytes]:
    status: list[str] = []
    env["wsgi.input"].seek(0)
    chunks = app(env, lambda s, h, *a: status.append(s))
    body = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return status[0], body


def seed(app: Any, token: str, rows: int) -> None:
    definitions = {
        "dogs": harness.DOGS,
        **{s: harness.shaped_definition(s) for s in harness.SHAPES},
    }
    for name, definition in definitions.items():
        made = call(
            app, environ(token, "POST", "/api/v1/factory/storage/", body=orjson.dumps(definition))
        )
        if not made[0].startswith("201"):
            raise RuntimeError(f"create {name}: {made}")
        for batch, count in harness.seed_batches(rows, 10_000):
            if name == "dogs":
                body = harness.bulk_body(harness.dog_rows(batch, 10_000, count))
            else:
                records = harness.shaped_records(batch, 10_000, count, name)
                body = orjson.dumps(records, default=str)
            done = call(app, environ(token, "POST", f"/api/v1/storage/{name}/", body=body))
            if not done[0].startswith("201"):
                raise RuntimeError(f"seed {name}: {done[0]} {done[1][:300]!r}")


def operations(token: str, rows: int) -> dict[str, Callable[[int], dict]]:
    def page(name: str) -> Callable[[int], dict]:
        return lambda i: environ(token, "GET", f"/api/v1/storage/{name}/", FILTER)

    def by_key(i: int) -> dict:
        return environ(token, "GET", f"/api/v1/storage/dogs/{1 + (i * 7919) % rows}/")

    return {
        "get by key (dogs)": by_key,
        "filtered page, dogs": page("dogs"),
        "filtered page, rich": page("rich"),
        "filtered page, plain": page("plain"),
    }


def measure(app: Any, make: Callable[[int], dict], calls: int) -> float:
    envs = [make(i) for i in range(calls)]
    with contextlib.redirect_stdout(io.StringIO()):
        started = time.process_time()
        for env in envs:
            call(app, env)
        return (time.process_time() - started) / calls * 1e6


def main() -> int:
    rows = harness.env_int("BENCH_ROWS", 10_000)
    calls = harness.env_int("BENCH_CALLS", 2_000)
    rounds = harness.env_int("BENCH_ROUNDS", 5)
    harness.database_url()
    harness.manage("migrate", "--no-input", env=dict(os.environ))
    token = harness.manage("issue_token", "cost", "--admin", env=dict(os.environ)).split()[-1]
    from datastorage.wsgi import application

    with contextlib.redirect_stdout(io.StringIO()):
        seed(application, token, rows)
    ops = operations(token, rows)
    for make in ops.values():  # a first answer, checked, and warm caches
        status, body = call(application, make(1))
        if not status.startswith("200"):
            raise RuntimeError(f"{status}: {body[:300]!r}")
        measure(application, make, 200)
    if "--profile" in sys.argv:
        name = sys.argv[sys.argv.index("--profile") + 1]
        make = next(m for n, m in ops.items() if name in n)
        profile = cProfile.Profile()
        profile.runcall(measure, application, make, calls)
        if "--dump" in sys.argv:
            profile.dump_stats(sys.argv[sys.argv.index("--dump") + 1])
        stats = pstats.Stats(profile, stream=OUT).sort_stats("tottime")
        stats.print_stats(35)
        if "--callers" in sys.argv:
            stats.print_callers(sys.argv[sys.argv.index("--callers") + 1])
        return 0
    best = {name: float("inf") for name in ops}
    for _ in range(rounds):
        for name, make in ops.items():
            best[name] = min(best[name], measure(application, make, calls))
    for name, micros in best.items():
        print(f"{name:28} {micros:8.1f} µs CPU per request (best of {rounds} x {calls})", file=OUT)
    print(
        f"rich / plain: {best['filtered page, rich'] / best['filtered page, plain']:.3f}", file=OUT
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
