"""Production settings: `check --deploy` passes with the documented environment; DEBUG and
TLS settings are off unless the environment switches them on; CORS is closed by default."""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

BASE_DIR = Path(django_settings.BASE_DIR)
# Everything settings.py reads that a test run might have set.
READ_BY_SETTINGS = (
    "DATABASE_URL",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_COOKIES",
    "SECURE_PROXY_SSL_HEADER",
    "CSRF_TRUSTED_ORIGINS",
    "CORS_ALLOWED_ORIGINS",
)
PRODUCTION = {
    "DEBUG": "0",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_COOKIES": "1",
    "ALLOWED_HOSTS": "example.com",
}
TLS_WARNINGS = ("security.W004", "security.W008", "security.W012", "security.W016")


def check_deploy(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in READ_BY_SETTINGS}
    env.update(VAR_DIR=str(tmp_path), **environment)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_the_documented_production_environment(tmp_path):
    secret_key = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(50))

    result = check_deploy(tmp_path, SECRET_KEY=secret_key, **PRODUCTION)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "security." not in output
    # The bearer scheme is known to the API description (no "could not resolve authenticator").
    assert "BearerTokenAuthentication" not in output


def test_debug_and_tls_settings_are_off_unless_the_environment_says_so(tmp_path):
    result = check_deploy(tmp_path)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for warning in TLS_WARNINGS:
        assert warning in output
    assert "security.W018" not in output  # DEBUG is off


# --- CORS -----------------------------------------------------------------------------------

ORIGIN = "https://app.example.com"


def preflight(client):
    return client.options(
        "/api/v1/storage/dogs/",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


@pytest.mark.django_db
def test_cors_is_closed_by_default(client):
    simple = client.get("/api/v1/health/", HTTP_ORIGIN=ORIGIN)

    assert simple.status_code == 200
    assert "Access-Control-Allow-Origin" not in simple
    assert "Access-Control-Allow-Origin" not in preflight(client)


@pytest.mark.django_db
def test_cors_opens_to_the_configured_origins_only(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]

    allowed = client.get("/api/v1/health/", HTTP_ORIGIN=ORIGIN)
    other = client.get("/api/v1/health/", HTTP_ORIGIN="https://evil.example.net")
    asked = preflight(client)

    assert allowed["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Origin" not in other
    assert asked.status_code == 200
    assert asked["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in asked["Access-Control-Allow-Headers"]
