#!/usr/bin/env python3
"""Run a command against a throwaway PostgreSQL cluster, then stop and delete the cluster.

    python scripts/with_postgres.py -- pytest ...
    python scripts/with_postgres.py --citus 2 -- pytest ...

When DATABASE_URL is already set, the command runs against that database instead. The
cluster lives in a temporary directory, listens on 127.0.0.1 on a free port, trusts local
connections and trades durability for speed (fsync off): it is for tests and benchmarks
only. PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.

With `--citus N`, a Citus cluster instead: a coordinator and N workers, each its own
server with the citus extension preloaded (installed by ../shared/citus/build-citus.sh,
which `make test-citus` calls). Citus keeps its metadata per database, so the database the
command uses (CITUS_DATABASE, also TEST_DATABASE_NAME for pytest's --reuse-db) is created on
every node with the extension, and the workers are registered in it on the coordinator.

The child sees DATABASE_URL plus DATASTORAGE_TEST_PG_* variables that let reliability
tests stop and start the (coordinator's) server (see tests/reliability/support.py), and
DATASTORAGE_TEST_CITUS=1 on a Citus cluster.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile

PACKAGE_HINT = (
    "PostgreSQL server binaries (pg_ctl, initdb) not found: install the Debian package "
    "'postgresql' (sudo apt-get install postgresql) or set DATABASE_URL."
)
CITUS_HINT = (
    "the citus extension is not installed in this PostgreSQL: run "
    "../shared/citus/build-citus.sh (as root) first"
)
CITUS_DATABASE = "datastorage_test"


def find_bindir() -> str | None:
    on_path = shutil.which("pg_ctl")
    if on_path:
        return os.path.dirname(os.path.realpath(on_path))
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    return os.path.dirname(candidates[-1]) if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_as_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    return ["runuser", "-u", "postgres", "--"]


class Server:
    """One throwaway PostgreSQL server in `workdir/name`."""

    def __init__(self, bindir: str, prefix: list[str], workdir: str, name: str) -> None:
        self.bindir, self.prefix, self.workdir = bindir, prefix, workdir
        self.datadir = os.path.join(workdir, name)
        self.log = os.path.join(workdir, f"{name}.log")
        self.port = free_port()
        self.pg_ctl = [*prefix, os.path.join(bindir, "pg_ctl"), "-D", self.datadir]
        self.options = ""

    def start(self, extra: str = "") -> None:
        subprocess.run(
            [
                *self.prefix,
                os.path.join(self.bindir, "initdb"),
                "-D",
                self.datadir,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C.UTF-8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=300{extra}"
        )
        subprocess.run(
            [*self.pg_ctl, "start", "-w", "-o", self.options, "-l", self.log],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def sql(self, statement: str, database: str = "postgres") -> None:
        psql = [os.path.join(self.bindir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        where = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database]
        subprocess.run(
            [*psql, *where, "-c", statement],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        subprocess.run(
            [*self.pg_ctl, "stop", "-m", "fast"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )


# Citus settings for a cluster on one small machine: two shards per distributed table (32
# multiply every DDL statement and storage creation), and 2PC recovery every second, so a
# transaction a failed commit left prepared on a worker (which holds the change feed's
# bound back: storage/sql/changes.py) is resolved soon.
CITUS_OPTIONS = (
    " -c shared_preload_libraries=citus -c max_prepared_transactions=200"
    " -c citus.shard_count=2 -c citus.recover_2pc_interval=1s"
)


def start_citus(bindir: str, prefix: list[str], workdir: str, workers: int) -> list[Server]:
    if not os.path.exists(os.path.join(pkglibdir(bindir), "citus.so")):
        raise SystemExit(CITUS_HINT)
    servers = [Server(bindir, prefix, workdir, name) for name in _node_names(workers)]
    for server in servers:
        server.start(CITUS_OPTIONS)
    for server in servers:
        server.sql(f"CREATE DATABASE {CITUS_DATABASE}")
        server.sql("CREATE EXTENSION citus", CITUS_DATABASE)
    coordinator = servers[0]
    coordinator.sql(
        f"SELECT citus_set_coordinator_host('127.0.0.1', {coordinator.port})", CITUS_DATABASE
    )
    for worker in servers[1:]:
        coordinator.sql(f"SELECT citus_add_node('127.0.0.1', {worker.port})", CITUS_DATABASE)
    return servers


def _node_names(workers: int) -> list[str]:
    return ["coordinator", *(f"worker{n}" for n in range(1, workers + 1))]


def pkglibdir(bindir: str) -> str:
    pg_config = os.path.join(bindir, "pg_config")
    if not os.path.exists(pg_config):
        pg_config = shutil.which("pg_config") or pg_config
    return subprocess.run(
        [pg_config, "--pkglibdir"], check=True, capture_output=True, text=True
    ).stdout.strip()


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    options = argv[: argv.index("--")] if "--" in argv else []
    workers = int(options[options.index("--citus") + 1]) if "--citus" in options else 0
    if not command:
        print("usage: with_postgres.py [--citus WORKERS] -- COMMAND [ARG ...]", file=sys.stderr)
        return 2
    if os.environ.get("DATABASE_URL"):
        return subprocess.call(command)
    bindir = find_bindir()
    if bindir is None:
        print(PACKAGE_HINT, file=sys.stderr)
        return 3
    prefix = run_as_prefix()
    workdir = tempfile.mkdtemp(prefix="datastorage-pg-")
    if prefix:
        shutil.chown(workdir, user="postgres")
    servers: list[Server] = []
    try:
        env = dict(os.environ)
        if workers:
            servers = start_citus(bindir, prefix, workdir, workers)
            database = CITUS_DATABASE
            env["DATASTORAGE_TEST_CITUS"] = "1"
            env["TEST_DATABASE_NAME"] = CITUS_DATABASE
        else:
            servers = [Server(bindir, prefix, workdir, "data")]
            servers[0].start()
            database = "postgres"
        coordinator = servers[0]
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{coordinator.port}/{database}"
        # A deployment must set its own key; a throwaway cluster's tests need only some key.
        env.setdefault("SECRET_KEY", "throwaway-cluster-" + os.urandom(16).hex())
        env["DATASTORAGE_TEST_PG_CTL"] = " ".join(coordinator.pg_ctl)
        env["DATASTORAGE_TEST_PG_OPTIONS"] = coordinator.options
        env["DATASTORAGE_TEST_PG_LOG"] = coordinator.log
        return subprocess.call(command, env=env)
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
