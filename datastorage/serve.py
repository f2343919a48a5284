"""The production HTTP server: granian's WSGI interface, configured from the environment.

    python -m datastorage.serve         # the API (make serve, the image, compose, the tests)
    python -m datastorage.serve APP     # another WSGI app with the same settings (benchmarks)

HOST, PORT, WEB_CONCURRENCY and LOG_LEVEL are the service's own names. Every other granian
option is read by granian itself from its GRANIAN_* variable (`granian --help` lists them);
DEFAULTS below holds the ones this service sets differently. The launcher then replaces
itself with granian (exec): the process started is granian's main process, and signals
reach it directly. Stop it with SIGTERM to that process, not with Ctrl-C in a terminal,
which also signals the workers (see "Known differences" in docs/operations.md).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

APP = "datastorage.wsgi:application"
# One worker per CPU: on the 2-CPU reference machine 2 workers served 13 % more record
# reads per second than 4 (docs/performance.md). Set WEB_CONCURRENCY to your CPUs.
WORKERS = "2"
# granian's own messages (workers spawned, respawned, stopped) as JSON lines on stdout, like
# the application's: one format for log shippers.
LOG_CONFIG = Path(__file__).with_name("granian_logging.json")

# granian settings this service chooses; a GRANIAN_* variable in the environment wins.
DEFAULTS = {
    # Python threads per worker, i.e. requests inside Django at once. Each holds a pooled
    # database connection while it runs, so this must stay at most DB_POOL_MAX (10):
    # otherwise requests queue for a connection and get 503 after DB_POOL_TIMEOUT.
    # granian's own default for WSGI (backpressure / 2: 256 with 2 workers) is far beyond
    # the pool. 4 measured best with 2 workers on 2 CPUs (8: -14 % reads/s, twice the p99;
    # docs/performance.md): more threads only add GIL contention to requests that spend
    # little time waiting on PostgreSQL. Raise it, up to DB_POOL_MAX, for slow queries.
    "GRANIAN_BLOCKING_THREADS": "4",
    # On SIGTERM workers stop accepting and let requests in flight finish; a worker still
    # busy after this many seconds is killed (granian's default: wait forever).
    "GRANIAN_WORKERS_KILL_TIMEOUT": "30",
}


def command(environ: Mapping[str, str], app: str = APP) -> tuple[list[str], dict[str, str]]:
    """granian's command line and environment for these settings."""
    argv = [
        sys.executable, "-m", "granian",
        "--interface", "wsgi",
        "--no-ws",
        "--host", environ.get("HOST") or "127.0.0.1",
        "--port", environ.get("PORT") or "8000",
        "--workers", environ.get("WEB_CONCURRENCY") or WORKERS,
        "--log-level", (environ.get("LOG_LEVEL") or "info").lower(),
        "--log-config", str(LOG_CONFIG),
        # Our middleware logs one JSON line per request; granian's would double it.
        "--no-access-log",
        # A worker that dies (out of memory, SIGKILL) is replaced; without this granian
        # shuts the whole server down.
        "--respawn-failed-workers",
        app,
    ]  # fmt: skip
    return argv, {**DEFAULTS, **environ}


def metrics_directory(env: dict[str, str]) -> None:
    """Points every granian worker at one PROMETHEUS_MULTIPROC_DIR (var/metrics unless set;
    `make serve` sets it for the task worker too), creates it, and removes what processes
    no longer running left there (an earlier run): their counters would otherwise be added
    to this run's, and a process later given the same pid would carry them on. (Nothing
    here imports prometheus-client: it would open files in a directory not made yet.)"""
    if env.get("METRICS_ENABLED", "1").lower() in {"0", "false", "no", "off"}:
        return
    default = Path(env.get("VAR_DIR") or Path(__file__).resolve().parent.parent / "var")
    directory = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(default / "metrics")))
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def pool_warning(env: Mapping[str, str]) -> str | None:
    """A warning when the blocking threads outnumber a worker's database connections (and
    the change feed's long-polls, which wait holding a thread but no connection)."""
    from datastorage import settings

    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    threads = env.get("GRANIAN_BLOCKING_THREADS", "")
    waiters = settings.FEED_MAX_WAITERS
    if not pool or not threads.isdigit() or int(threads) <= pool["max_size"] + waiters:
        return None
    return (
        f"GRANIAN_BLOCKING_THREADS={threads} is more than DB_POOL_MAX={pool['max_size']} plus "
        f"FEED_MAX_WAITERS={waiters}: requests will wait for a database connection, and get "
        "503 after DB_POOL_TIMEOUT"
    )


def main(args: list[str]) -> None:
    if len(args) > 1 or (args and args[0].startswith("-")):
        sys.exit("usage: python -m datastorage.serve [APP]  (options: GRANIAN_* variables)")
    argv, env = command(os.environ, *args)
    metrics_directory(env)
    warning = pool_warning(env)
    if warning:
        print(f"datastorage.serve: {warning}", file=sys.stderr, flush=True)
    os.execve(sys.executable, argv, env)


if __name__ == "__main__":
    main(sys.argv[1:])
