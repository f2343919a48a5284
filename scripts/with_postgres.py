#!/usr/bin/env python3
"""Run a command against a throwaway PostgreSQL cluster, then stop and delete the cluster.

    python scripts/with_postgres.py -- pytest ...

When DATABASE_URL is already set, the command runs against that database instead. The
cluster lives in a temporary directory, listens on 127.0.0.1 on a free port, trusts local
connections and trades durability for speed (fsync off): it is for tests and benchmarks
only. PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.

The child sees DATABASE_URL plus DATASTORAGE_TEST_PG_* variables that let reliability
tests stop and start the server (see tests/reliability/support.py).
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


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print("usage: with_postgres.py -- COMMAND [ARG ...]", file=sys.stderr)
        return 2
    if os.environ.get("DATABASE_URL"):
        return subprocess.call(command)
    bindir = find_bindir()
    if bindir is None:
        print(PACKAGE_HINT, file=sys.stderr)
        return 3
    prefix = run_as_prefix()
    workdir = tempfile.mkdtemp(prefix="datastorage-pg-")
    datadir = os.path.join(workdir, "data")
    if prefix:
        shutil.chown(workdir, user="postgres")
    port = free_port()
    pg_ctl = [*prefix, os.path.join(bindir, "pg_ctl"), "-D", datadir]
    try:
        subprocess.run(
            [
                *prefix,
                os.path.join(bindir, "initdb"),
                "-D",
                datadir,
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
        options = (
            f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        subprocess.run(
            [*pg_ctl, "start", "-w", "-o", options, "-l", os.path.join(workdir, "server.log")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        env = dict(os.environ)
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{port}/postgres"
        # A deployment must set its own key; a throwaway cluster's tests need only some key.
        env.setdefault("SECRET_KEY", "throwaway-cluster-" + os.urandom(16).hex())
        env["DATASTORAGE_TEST_PG_CTL"] = " ".join(pg_ctl)
        env["DATASTORAGE_TEST_PG_OPTIONS"] = options
        env["DATASTORAGE_TEST_PG_LOG"] = os.path.join(workdir, "server.log")
        return subprocess.call(command, env=env)
    finally:
        subprocess.run(
            [*pg_ctl, "stop", "-m", "fast"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
