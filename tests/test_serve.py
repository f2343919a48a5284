"""The production server's launcher (datastorage/serve.py): what it asks granian for."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from datastorage import serve


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_service_names_map_to_granian_options():
    argv, _ = serve.command(
        {"HOST": "0.0.0.0", "PORT": "9000", "WEB_CONCURRENCY": "3", "LOG_LEVEL": "WARNING"}
    )
    assert argv[1:3] == ["-m", "granian"]
    assert (option(argv, "--host"), option(argv, "--port")) == ("0.0.0.0", "9000")
    assert (option(argv, "--workers"), option(argv, "--log-level")) == ("3", "warning")
    assert option(argv, "--interface") == "wsgi"
    assert {"--no-ws", "--no-access-log", "--respawn-failed-workers"} <= set(argv)
    assert argv[-1] == "datastorage.wsgi:application"


def test_unset_names_fall_back_to_the_documented_defaults():
    argv, env = serve.command({})
    assert (option(argv, "--host"), option(argv, "--port")) == ("127.0.0.1", "8000")
    assert (option(argv, "--workers"), option(argv, "--log-level")) == ("2", "info")
    assert env["GRANIAN_BLOCKING_THREADS"] == "4"
    assert env["GRANIAN_WORKERS_KILL_TIMEOUT"] == "30"


def test_granian_variables_in_the_environment_win_over_our_defaults():
    _, env = serve.command({"GRANIAN_BLOCKING_THREADS": "2", "GRANIAN_BACKLOG": "256"})
    assert (env["GRANIAN_BLOCKING_THREADS"], env["GRANIAN_BACKLOG"]) == ("2", "256")


def test_another_app_is_served_with_the_same_settings():
    argv, _ = serve.command({}, "bench/ceiling.py:application")
    assert argv[-1] == "bench/ceiling.py:application"


def test_default_threads_fit_the_default_pool():
    # A thread beyond the pool would wait for a connection, and answer 503 past the timeout.
    assert int(serve.DEFAULTS["GRANIAN_BLOCKING_THREADS"]) <= 10  # DB_POOL_MAX's default


@pytest.mark.postgresql
def test_more_threads_than_pooled_connections_and_long_polls_are_warned_about():
    # A long-poll of the change feed holds a thread but gives its connection back.
    pool = settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
    enough = pool + settings.FEED_MAX_WAITERS
    assert serve.pool_warning({"GRANIAN_BLOCKING_THREADS": str(enough)}) is None
    warning = serve.pool_warning({"GRANIAN_BLOCKING_THREADS": str(enough + 1)})
    assert warning is not None
    assert f"more than DB_POOL_MAX={pool} plus FEED_MAX_WAITERS=" in warning


def test_the_metrics_directory_is_made_and_cleared_of_dead_processes(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    dead = directory / "counter_999999999.db"  # no such pid
    alive = directory / f"counter_{os.getpid()}.db"
    dead.write_bytes(b"")
    alive.write_bytes(b"")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    serve.metrics_directory(env)
    assert not dead.exists()
    assert alive.exists()
    env = {"VAR_DIR": str(tmp_path / "var")}
    serve.metrics_directory(env)
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "var" / "metrics")
    assert (tmp_path / "var" / "metrics").is_dir()


def test_no_metrics_directory_when_metrics_are_off(tmp_path):
    env = {"METRICS_ENABLED": "0", "VAR_DIR": str(tmp_path)}
    serve.metrics_directory(env)
    assert "PROMETHEUS_MULTIPROC_DIR" not in env
