"""Suite-wide test set-up: database vendor selection and the API client."""

from __future__ import annotations

import os

import pytest


def _on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Vendor-specific behaviour is deselected on the other database (not skipped: nothing
    # hides there). `postgresql`: PostgreSQL only; `sqlite`: what SQLite alone answers.
    # `fastpath`: tests of the front door itself (statement counts, its gate), deselected in the run
    # with both off (RECORDS_FAST_PATH=0, make test-sqlite-slowpath).
    other = {"sqlite" if _on_postgresql() else "postgresql"}
    # `citus`: tests/cluster, on the Citus cluster of `make test-citus` only;
    # `without_citus`: what a database without the extension answers.
    other.add("without_citus" if os.environ.get("DATASTORAGE_TEST_CITUS") else "citus")
    if not _fast_path_on():
        # `browser`: Chromium against a live server, which never had the front door: the
        # run with it closed would repeat them unchanged.
        other |= {"fastpath", "browser"}
    kept = [item for item in items if not other & _markers(item)]
    deselected = [item for item in items if other & _markers(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def _fast_path_on() -> bool:
    from django.conf import settings

    return bool(settings.RECORDS_FAST_PATH)


def _markers(item: pytest.Item) -> set[str]:
    return {marker.name for marker in item.iter_markers()}


def pytest_report_header(config: pytest.Config) -> str:
    fast = "open" if _fast_path_on() else "closed (RECORDS_FAST_PATH=0)"
    return f"database: {'postgresql' if _on_postgresql() else 'sqlite'}; front door: {fast}"


@pytest.fixture
def admin_token() -> str:
    """The secret of a fresh admin token (needs the test's database access)."""
    from access.services import token_issue

    return token_issue(name="test-admin", admin=True).secret


@pytest.fixture
def auth_headers(admin_token: str) -> dict[str, str]:
    """Django test-client keyword arguments that authenticate as the admin token."""
    return {"HTTP_AUTHORIZATION": f"Bearer {admin_token}"}


@pytest.fixture
def anonymous_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def api_client(admin_token: str):
    """An API client authenticated with an admin token (most tests are not about access)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    return client


@pytest.fixture
def create_storage():
    """Create a storage (and its real table) through the service, as the API would."""
    from factory.services.storages import storage_create

    def create(definition: dict):
        return storage_create(data=definition)

    return create


@pytest.fixture(autouse=True, scope="session")
def _feed_listener_closed(django_db_setup):
    """The change feed's long-poll listener holds a connection of its own until a second
    after its last waiter: let it close before the test database is dropped (set up after
    the database, so torn down before)."""
    yield
    from storage.waiting import listener_stopped

    listener_stopped()


@pytest.fixture(autouse=True, scope="session")
def _tasks_run_inline():
    """Background tasks run inline in tests (on commit), instead of in a worker process."""
    from django.conf import settings
    from django.core.signals import setting_changed

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    # The backends may be built already (a task is checked against its backend when its
    # module is imported, as collecting the tests does): django_tasks rebuilds them on this.
    setting_changed.send(sender=None, setting="TASKS", value=settings.TASKS, enter=True)


@pytest.fixture(autouse=True)
def _drop_storage_tables_after_transactional_test(request, django_db_blocker):
    """Django's flush after a `transaction=True` test empties only its own tables: drop the
    storage tables the test made, so that the next test starts without them. That is every
    storage test on SQLite (see core.testing.storage_db) and, on PostgreSQL, the tests that
    need real commits (threads, CONCURRENTLY, other processes); the others roll back."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    from factory.tests.tables import drop_storage_tables

    with django_db_blocker.unblock():
        drop_storage_tables()


@pytest.fixture(autouse=True, scope="session")
def _test_client_through_the_front_door():
    """Django's test client (APIClient included) sends its requests through the records
    front door first, as the WSGI server does (datastorage.wsgi): every records test runs
    the gate and, with RECORDS_FAST_PATH=0 (make test-sqlite-slowpath), the DRF viewset
    alone. A client with force_authenticate() skips it: the front door reads tokens only."""
    from django.core.handlers.wsgi import WSGIRequest
    from django.http import HttpResponse
    from django.test.client import ClientHandler

    from storage.frontdoor import FrontDoor

    door = FrontDoor(lambda environ, start_response: [])
    through_django = ClientHandler.__call__

    def call(self: ClientHandler, environ: dict) -> HttpResponse:
        forced = getattr(self, "_force_user", None) or getattr(self, "_force_token", None)
        reply = None if forced else door.respond(environ)
        if reply is None:
            return through_django(self, environ)
        response = HttpResponse(reply.body, status=reply.status)
        del response["Content-Type"]
        for name, value in reply.headers:
            response[name] = value
        response.wsgi_request = WSGIRequest(environ)
        return response

    ClientHandler.__call__ = call
    yield
    ClientHandler.__call__ = through_django


@pytest.fixture(autouse=True, scope="session")
def _every_storage_distributed():
    """DATASTORAGE_TEST_DISTRIBUTE_ALL=1 (make test-citus): every storage a test creates is
    distributed (2 shards), as if its definition said so, unless Citus could not hold it
    (a unique index). The definitions stay as the tests wrote them."""
    if not os.environ.get("DATASTORAGE_TEST_DISTRIBUTE_ALL"):
        yield
        return
    from factory.schema import distribution

    explicit_shards, explicit = distribution.shards, distribution.is_distributed
    decided: dict[str, bool] = {}

    def shards(definition: dict) -> int | None:
        if explicit(definition):
            return explicit_shards(definition)
        unique = any(index["unique"] for index in definition["indexes"])
        decided[definition["name"]] = not unique
        return None if unique else 2

    def is_distributed(definition: dict) -> bool:
        return explicit(definition) or decided.get(definition["name"], False)

    from storage.sql import changes

    # The feed tests read right after they write: every read proves its bound (a proof's
    # reuse for PROOF_SECONDS has a test of its own in tests/cluster).
    proof_seconds, changes.PROOF_SECONDS = changes.PROOF_SECONDS, 0
    distribution.shards, distribution.is_distributed = shards, is_distributed
    yield
    distribution.shards, distribution.is_distributed = explicit_shards, explicit
    changes.PROOF_SECONDS = proof_seconds
