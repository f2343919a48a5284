"""core.database: prepared statements survive a table dropped and created again; timestamps
read in C as Django reads them."""

from __future__ import annotations

import datetime

import pytest
from psycopg.pq import Format

from core.database import TIMESTAMPTZ_OID
from factory.services.storages import storage_delete
from factory.tests.factories import dogs_definition

URL = "/api/v1/storage/dogs/"


def _with_age(kind: str) -> dict:
    definition = dogs_definition()
    for spec in definition["fields"]:
        if spec["name"] == "age":
            spec.clear()
            spec.update({"name": "age", "type": kind, "nullable": True})
    return definition


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_storage_declared_again_with_other_types_is_served_at_once(api_client, create_storage):
    create_storage(_with_age("integer"))
    api_client.post(
        URL, {"name": "Rex", "age": 3, "registered_at": "2024-05-01T12:00:00Z"}, format="json"
    )
    # Enough reads for every pooled connection to prepare the list statement.
    for _ in range(30):
        assert api_client.get(f"{URL}?limit=5").status_code == 200
    storage_delete(name="dogs", if_match="*")
    create_storage(_with_age("text"))
    api_client.post(
        URL, {"name": "Rex", "age": "old", "registered_at": "2024-05-01T12:00:00Z"}, format="json"
    )

    answers = [api_client.get(f"{URL}?limit=5") for _ in range(10)]

    assert [answer.status_code for answer in answers] == [200] * 10
    assert answers[-1].json()["results"][0]["age"] == "old"


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01 12:00:00+00",
        "2024-05-01 12:00:00.5+00",
        "2024-05-01 12:00:00.123456+00",
        "0001-01-01 00:00:00+00",
        "9999-12-31 23:59:59.999999+00",
        "2024-05-01 12:00:00+02",  # not the session's zone: Django's loader decides
    ],
)
def test_timestamps_read_in_c_as_django_reads_them(text):
    import datetime

    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    from core.database import TIMESTAMPTZ_OID, utc_loader_for

    django_loader = type("Loader", (BaseTzLoader,), {"timezone": datetime.UTC})
    ours = utc_loader_for(django_loader)(TIMESTAMPTZ_OID)

    value = ours.load(text.encode())

    assert value == django_loader(TIMESTAMPTZ_OID).load(text.encode())
    assert value.tzinfo is datetime.UTC


@pytest.mark.parametrize("text", ["infinity", "0044-03-15 00:00:00+00 BC"])
def test_timestamps_beyond_python_go_to_djangos_loader(text):
    import datetime

    from django.db.backends.postgresql.psycopg_any import BaseTzLoader
    from psycopg import DataError

    from core.database import TIMESTAMPTZ_OID, utc_loader_for

    django_loader = type("Loader", (BaseTzLoader,), {"timezone": datetime.UTC})

    with pytest.raises(DataError):
        utc_loader_for(django_loader)(TIMESTAMPTZ_OID).load(text.encode())


def test_a_loader_for_another_zone_is_left_to_django():
    import zoneinfo

    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    from core.database import utc_loader_for

    paris = type("Loader", (BaseTzLoader,), {"timezone": zoneinfo.ZoneInfo("Europe/Paris")})

    assert utc_loader_for(paris) is None


@pytest.mark.postgresql
@pytest.mark.django_db
def test_connections_read_timestamps_in_c():
    from django.db import connection
    from psycopg.pq import Format

    from core.database import TIMESTAMPTZ_OID, UTCTimestampLoader

    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        now = cursor.fetchone()[0]
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)

    assert issubclass(loader, UTCTimestampLoader)
    assert now.utcoffset().total_seconds() == 0


TIMESTAMPS = [
    "2024-05-01 12:00:00+00",
    "2026-11-28 12:27:10.9056+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_cursor_reads_timestamps_natively_as_django_does():
    """The same values, and for what neither reads, the same error."""
    from django.db import DataError, connection

    from core.database import read_timestamps_natively

    values = ", ".join(f"'{text}'::timestamptz" for text in TIMESTAMPS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {values}")
        expected = cursor.fetchone()
    with connection.cursor() as cursor:
        read_timestamps_natively(cursor)
        loader = cursor.cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
        cursor.execute(f"SELECT {values}")
        native = cursor.fetchone()
        for text in ("infinity", "0044-03-15 00:00:00+00 BC"):
            cursor.execute(f"SELECT '{text}'::timestamptz")
            with pytest.raises(DataError):
                cursor.fetchone()

    assert loader.__module__.startswith("psycopg")
    assert native == expected
    assert all(value.tzinfo is datetime.UTC for value in native)


@pytest.mark.postgresql
@pytest.mark.django_db
def test_a_cursor_in_another_session_zone_keeps_djangos_loader():
    from django.db import connection

    from core.database import read_timestamps_natively

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'Europe/Paris'")
        before = cursor.cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
        read_timestamps_natively(cursor)
        after = cursor.cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)

    assert after is before
