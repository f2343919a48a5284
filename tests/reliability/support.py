"""What the reliability tests share: real processes, real HTTP, and PostgreSQL control.

The service runs as in production (granian through `python -m datastorage.serve`, and
`manage.py run_worker`) against the database pytest-django made for the session; faults are
caused for real: pg_ctl stops the server, signals kill processes, a lock held by the test
keeps requests busy inside PostgreSQL.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]
# No request may take longer than this: a client still waiting has found a hung request.
CLIENT_TIMEOUT = 15
PROBLEM = "application/problem+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll until `predicate` is truthy; a deadline only turns a hang into a failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


# --- the database ----------------------------------------------------------------------------


def session_database_url() -> str:
    """DATABASE_URL, pointed at the database pytest-django made for this session."""
    url = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))


def connect() -> psycopg.Connection:
    """A connection of the test's own, outside Django and its pool (for locks, catalogs)."""
    return psycopg.connect(session_database_url(), autocommit=True)


def query(sql: str, params: Any = None) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, params).fetchall()


def backends_waiting_on_locks() -> int:
    return query(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )[0][0]


class PostgresControl:
    """Stops and starts the throwaway cluster of scripts/with_postgres.py."""

    def __init__(self) -> None:
        missing = [
            name
            for name in ("DATASTORAGE_TEST_PG_CTL", "DATASTORAGE_TEST_PG_OPTIONS")
            if not os.environ.get(name)
        ]
        if missing:
            raise AssertionError(
                f"{', '.join(missing)} unset: the reliability tests restart PostgreSQL, so "
                "they run on the throwaway cluster of scripts/with_postgres.py"
            )
        self.pg_ctl = shlex.split(os.environ["DATASTORAGE_TEST_PG_CTL"])
        self.options = os.environ["DATASTORAGE_TEST_PG_OPTIONS"]
        self.log = os.environ.get("DATASTORAGE_TEST_PG_LOG", os.devnull)

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends sessions cleanly; `immediate` kills the server as a crash would (no
        shutdown checkpoint: the next start recovers from the WAL).

        The throwaway cluster commits asynchronously (synchronous_commit=off, for speed), so
        a crash would lose the last commits a client was told had succeeded, which no
        production server (synchronous_commit=on) does: before a crash, one synchronous
        commit writes out the WAL of every commit before it."""
        if mode == "immediate":
            with connect() as conn:
                conn.execute("SET synchronous_commit TO on")
                conn.execute("SELECT pg_current_xact_id()")  # a transaction id to commit
        self._run("stop", "-m", mode, "-w")

    def start(self) -> None:
        self._run("start", "-w", "-o", self.options, "-l", self.log)

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.pg_ctl, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )


# --- processes -------------------------------------------------------------------------------


def children(parent: int) -> set[int]:
    """The pids whose parent is `parent`, from /proc."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            pids.add(int(stat.parent.name))
    return pids


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def pid_with_local_port(port: int, pids: set[int]) -> int | None:
    """Which of `pids` owns the TCP socket bound locally to `port` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{parts[9]}]")
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    return None


def listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on `port` (state 0A in /proc/net/tcp)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "0A":
                inodes.add(parts[9])
    return inodes


def accepts_on(pid: int, port: int) -> bool:
    """Whether process `pid` is polling its socket listening on `port` for connections:
    that socket is registered in one of its epoll sets (/proc/<pid>/fdinfo). A process
    that has exited (a worker that had nothing left to serve) accepts nothing."""
    try:
        return _polls_listener(pid, {f"socket:[{inode}]" for inode in listening_inodes(port)})
    except FileNotFoundError:
        return False


def _polls_listener(pid: int, inodes: set[str]) -> bool:
    listeners, epolls = set(), []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target in inodes:
            listeners.add(fd.name)
        elif target == "anon_inode:[eventpoll]":
            epolls.append(fd.name)
    for epoll in epolls:
        for line in Path(f"/proc/{pid}/fdinfo/{epoll}").read_text().splitlines():
            if line.startswith("tfd:") and line.split()[1] in listeners:
                return True
    return False


class Processes:
    """Long-running children in sessions of their own, each logging to a file."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs = logs
        self.env = env
        self.running: dict[str, subprocess.Popen] = {}

    def spawn(self, name: str, command: list[Any], **env: str) -> subprocess.Popen:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [str(part) for part in command],
                cwd=BASE_DIR,
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


class Server:
    """The production server (`python -m datastorage.serve`: granian's main process and its
    workers) on a free port; `env` overrides settings."""

    def __init__(self, processes: Processes, name: str = "server", **env: str) -> None:
        self.processes = processes
        self.name = name
        self.port = free_port()
        self.workers = int(env.get("WEB_CONCURRENCY", "3"))
        self.env = {
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(self.workers),
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        self.process = self.processes.spawn(
            self.name, [sys.executable, "-m", "datastorage.serve"], **self.env
        )
        wait_for(self._serving, f"{self.name} to serve:\n{self.log()[-3000:]}")
        return self

    def _serving(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, f"{self.name} exited:\n{self.log()[-3000:]}"
        if len(self.worker_pids()) != self.workers:
            return False
        try:
            return call(self.port, "GET", "/api/v1/health/").status == 200
        except OSError:
            return False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> set[int]:
        return children(self.pid)

    def log(self) -> str:
        return self.processes.log(self.name)


# --- HTTP ------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    def is_problem(self, status: int, code: str) -> bool:
        """A problem-details answer of this status and type, Retry-After included for 503."""
        return (
            self.status == status
            and self.headers.get("content-type") == PROBLEM
            and isinstance(self.body, dict)
            and self.body.get("type") == code
            and self.body.get("status") == status
            and (status != 503 or self.headers.get("retry-after", "").isdigit())
        )


def send(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, **headers: str
) -> Reply:
    payload = None if body is None else json.dumps(body).encode()
    if payload is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    return Reply(
        response.status,
        {name.lower(): value for name, value in response.getheaders()},
        json.loads(raw) if raw else None,
    )


def call(port: int, method: str, path: str, body: Any = None, **headers: str) -> Reply:
    """One request on a connection of its own (so any worker may take it). Raises OSError
    (a timeout, or ConnectionError for a connection cut) when no whole answer comes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    try:
        return send(conn, method, path, body, **headers)
    except http.client.HTTPException as exc:
        # A server process killed while it answered: a truncated or absent response.
        raise ConnectionError(f"no complete answer: {exc!r}") from exc
    finally:
        conn.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
