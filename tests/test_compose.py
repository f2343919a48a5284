"""docker-compose.yml, as far as it can be checked without Docker: a newcomer gets a first
admin token, and `migrate` waits for the real PostgreSQL server, not the image's first-boot
one (which answers on the Unix socket only)."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

BASE = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((BASE / "docker-compose.yml").read_text())


def test_the_database_is_healthy_only_once_it_answers_over_tcp():
    check = COMPOSE["services"]["db"]["healthcheck"]["test"]

    words = shlex.split(check[1])
    assert check[0] == "CMD-SHELL"
    assert words[0] == "pg_isready"
    assert words[words.index("-h") + 1] == "127.0.0.1"


def test_the_first_start_issues_an_admin_token_into_a_volume():
    migrate = COMPOSE["services"]["migrate"]

    script = migrate["command"][-1]
    assert script == "python manage.py migrate --no-input && python manage.py bootstrap_token"
    assert "state:/app/var" in migrate["volumes"]
    assert "state" in COMPOSE["volumes"]
    for service in ("api", "worker"):
        assert COMPOSE["services"][service]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_the_readme_shows_how_to_get_that_token():
    readme = (BASE / "README.md").read_text()
    docker = readme[readme.index("## Docker Compose") :]

    assert "docker compose logs migrate" in docker
    assert "docker compose run --rm --no-deps migrate cat /app/var/admin.token" in docker
