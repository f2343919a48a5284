"""The front door never turns off in silence: a system check and a start-up log line,
both from storage.frontdoor.off_reason, the function the door itself decides with."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from django.core.checks import run_checks

from storage.checks import front_door
from storage.frontdoor import FrontDoor, announce, off_reason

ROOT = Path(__file__).resolve().parents[2]
METRICS = "metrics.middleware.MetricsMiddleware"  # no such module: the check imports nothing


def _unused(environ, start_response):
    raise AssertionError


@pytest.fixture(autouse=True)
def _fast_path_chosen(settings):
    """Every test here but one is about settings that turn the door off by accident (the
    suite also runs with RECORDS_FAST_PATH=0: make test-sqlite-slowpath)."""
    settings.RECORDS_FAST_PATH = True


def test_nothing_is_said_when_the_front_door_is_on():
    assert off_reason() is None
    assert front_door() == []
    assert FrontDoor(_unused).enabled()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s: s.MIDDLEWARE.append(METRICS), f"{METRICS} added"),
        (
            lambda s: s.MIDDLEWARE.remove("django.middleware.csrf.CsrfViewMiddleware"),
            "django.middleware.csrf.CsrfViewMiddleware missing",
        ),
        (lambda s: s.MIDDLEWARE.reverse(), "the same middleware in another order"),
        (lambda s: setattr(s, "FORCE_SCRIPT_NAME", "/api"), "settings.FORCE_SCRIPT_NAME is set"),
        (lambda s: setattr(s, "PREPEND_WWW", True), "settings.PREPEND_WWW is set"),
        (
            lambda s: setattr(s, "DISALLOWED_USER_AGENTS", [re.compile("bot")]),
            "settings.DISALLOWED_USER_AGENTS is set",
        ),
        (lambda s: setattr(s, "SECURE_SSL_REDIRECT", True), "settings.SECURE_SSL_REDIRECT is set"),
        (
            lambda s: setattr(s, "CORS_URLS_REGEX", r"^/api/.*$"),
            "settings.CORS_URLS_REGEX is not r'^.*$'",
        ),
    ],
)
def test_the_check_names_why_the_front_door_is_off(settings, change, reason):
    settings.MIDDLEWARE = list(settings.MIDDLEWARE)
    change(settings)

    (warning,) = front_door()

    assert warning.id == "storage.W001"
    assert warning.level == logging.WARNING
    assert reason in warning.msg
    assert warning.msg.startswith("The records API's front door is off: ")
    assert not FrontDoor(_unused).enabled()  # the same rule decides


def test_the_check_is_registered(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, METRICS]

    found = [message for message in run_checks() if message.id == "storage.W001"]

    assert len(found) == 1
    assert f"{METRICS} added" in found[0].msg


def test_records_fast_path_0_is_a_choice_not_a_warning(settings, caplog):
    settings.RECORDS_FAST_PATH = False

    with caplog.at_level(logging.DEBUG, logger="datastorage.frontdoor"):
        announce()

    assert front_door() == []
    assert not FrontDoor(_unused).enabled()
    (line,) = caplog.records
    assert (line.levelno, line.entry) == (logging.INFO, "wsgi")
    assert (
        line.getMessage()
        == "front door off: RECORDS_FAST_PATH=0 sends every request through Django"
    )


def test_a_start_up_with_the_front_door_lost_is_a_warning(settings, caplog):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, METRICS]

    with caplog.at_level(logging.DEBUG, logger="datastorage.frontdoor"):
        announce()

    (line,) = caplog.records
    assert line.levelno == logging.WARNING
    assert line.getMessage().startswith("front door off: settings.MIDDLEWARE is not the list")
    assert f"{METRICS} added" in line.getMessage()


def test_a_start_up_with_the_front_door_on_says_nothing(caplog):
    with caplog.at_level(logging.DEBUG, logger="datastorage.frontdoor"):
        announce()

    assert caplog.records == []


ASGI = "front door off: the ASGI entry point serves every request through Django (WSGI only)"
CHOSEN = "front door off: RECORDS_FAST_PATH=0 sends every request through Django"


@pytest.mark.parametrize(
    ("module", "fast_path", "logged"),
    [
        ("datastorage.wsgi", "1", []),
        ("datastorage.wsgi", "0", [("INFO", "wsgi", CHOSEN)]),
        ("datastorage.asgi", "1", [("WARNING", "asgi", ASGI)]),
        ("datastorage.asgi", "0", [("INFO", "asgi", CHOSEN)]),
    ],
)
def test_an_entry_point_says_at_start_up_when_it_serves_without_the_front_door(
    module, fast_path, logged
):
    env = {**os.environ, "RECORDS_FAST_PATH": fast_path, "DATABASE_URL": "", "LOG_LEVEL": "INFO"}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    run = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    lines = [orjson.loads(line) for line in run.stdout.splitlines()]  # the JSON log lines
    mine = [line for line in lines if line["logger"] == "datastorage.frontdoor"]
    assert [(line["level"], line["entry"], line["message"]) for line in mine] == logged
