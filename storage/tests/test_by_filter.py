"""DELETE and PATCH of a storage's list with filters: at once up to MAX_BULK_ITEMS matches,
else a job (GET /api/v1/jobs/{id}/) run in key-ordered batches."""

from __future__ import annotations

import pytest

from access.services import token_issue
from core.testing import storage_db
from storage.models import RecordJob
from storage.runtime import runtime_for

pytestmark = storage_db

CATS = "/api/v1/storage/cats/"
PROBLEM = "application/problem+json"


@pytest.fixture
def cats(create_storage, api_client):
    create_storage(
        {
            "name": "cats",
            "primary_key": {"name": "n", "type": "integer"},
            "fields": [
                {"name": "colour", "type": "text", "required": True},
                {"name": "age", "type": "integer", "default": 0},
                {"name": "tag", "type": "text", "nullable": True},
            ],
            "indexes": [{"fields": ["tag"], "unique": True}],
        }
    )
    items = [{"n": n, "colour": "grey" if n % 2 else "black", "age": n} for n in range(1, 21)]
    assert api_client.post(CATS, items, format="json").status_code == 201


def _stored() -> dict[int, tuple]:
    rows = runtime_for("cats").model.objects.values_list("n", "colour", "age", "_version")
    return {n: (colour, age, version) for n, colour, age, version in rows}


def _client(client, *access: str, storage: str = "cats"):
    secret = token_issue(name="t", grants=[{"storage": storage, "access": list(access)}]).secret
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


# --- delete ----------------------------------------------------------------------------------


def test_delete_by_filter_within_the_limit_answers_the_count(api_client, cats):
    response = api_client.delete(f"{CATS}?colour=grey&age__lt=10")

    assert (response.status_code, response.json()) == (200, {"deleted": 5})
    assert sorted(_stored()) == [n for n in range(1, 21) if n % 2 == 0 or n >= 10]


def test_delete_matching_nothing_answers_zero(api_client, cats):
    response = api_client.delete(f"{CATS}?colour=white")

    assert (response.status_code, response.json()) == (200, {"deleted": 0})


def test_delete_without_a_filter_answers_400_and_deletes_nothing(api_client, cats):
    response = api_client.delete(CATS)

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"] == {
        "filters": ["Name at least one filter, or all=true for every record."]
    }
    assert len(_stored()) == 20


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("colur=grey", "colur"),
        ("limit=5", "limit"),  # a list's parameter, no filter
        ("age__gte=old", "age__gte"),
        ("all=yes", "all"),
        ("colour=grey&colour=black", "colour"),
    ],
)
def test_hostile_filters_answer_400_and_delete_nothing(api_client, cats, query, field):
    response = api_client.delete(f"{CATS}?{query}")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert len(_stored()) == 20


def test_a_huge_filter_is_answered_not_a_500(api_client, cats):
    values = ",".join(str(n) for n in range(5000))

    response = api_client.delete(f"{CATS}?n__in={values}")

    assert response.status_code in (200, 400)
    assert response.status_code != 200 or response.json() == {"deleted": 20}


def test_a_read_only_token_is_refused_403_before_anything_is_deleted(client, cats):
    response = _client(client, "read").delete(f"{CATS}?colour=grey")

    assert response.status_code == 403
    assert len(_stored()) == 20


def test_a_grant_on_another_storage_deletes_nothing_here(client, cats, create_storage):
    create_storage({"name": "dogs2", "fields": [{"name": "x", "type": "text"}]})

    response = _client(client, "read", "write", "manage", storage="dogs2").delete(
        f"{CATS}?colour=grey"
    )

    assert response.status_code == 403
    assert len(_stored()) == 20


def test_all_true_needs_the_manage_grant(client, cats):
    writer = _client(client, "read", "write")

    assert writer.delete(f"{CATS}?all=true").status_code == 403
    assert len(_stored()) == 20
    manager = _client(client, "read", "write", "manage")
    response = manager.delete(f"{CATS}?all=true")
    assert (response.status_code, response.json()) == (200, {"deleted": 20})


def test_beyond_the_limit_a_job_deletes_in_batches(
    api_client, cats, settings, django_capture_on_commit_callbacks
):
    settings.MAX_BULK_ITEMS = 4
    settings.JOB_BATCH_ITEMS = 3

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(f"{CATS}?colour=grey")

    assert response.status_code == 202
    job = response.json()
    assert response["Location"] == f"http://testserver/api/v1/jobs/{job['id']}/"
    assert (job["kind"], job["status"], job["total"], job["storage"]) == (
        "delete",
        "queued",
        10,
        "cats",
    )
    done = api_client.get(response["Location"])
    assert done.status_code == 200
    body = done.json()
    assert (body["status"], body["processed"], body["total"], body["errors"]) == (
        "done",
        10,
        10,
        [],
    )
    assert sorted(_stored()) == list(range(2, 21, 2))


def test_a_job_is_read_with_the_storage_read_grant_only(client, cats, settings, create_storage):
    settings.MAX_BULK_ITEMS = 4
    create_storage({"name": "dogs", "fields": [{"name": "x", "type": "text"}]})
    admin = token_issue(name="admin", admin=True).secret
    created = client.delete(f"{CATS}?colour=grey", HTTP_AUTHORIZATION=f"Bearer {admin}")
    location = created["Location"]

    reader = token_issue(name="r", grants=[{"storage": "cats", "access": ["read"]}]).secret
    other = token_issue(name="o", grants=[{"storage": "dogs", "access": ["read"]}]).secret
    assert client.get(location, HTTP_AUTHORIZATION=f"Bearer {reader}").status_code == 200
    assert client.get(location, HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 403
    assert client.get(location).status_code == 401
    missing = "/api/v1/jobs/00000000-0000-0000-0000-000000000000/"
    assert client.get(missing, HTTP_AUTHORIZATION=f"Bearer {admin}").status_code == 404
    assert client.get("/api/v1/jobs/nope/", HTTP_AUTHORIZATION=f"Bearer {admin}").status_code == 404


def test_idempotency_key_makes_a_delete_safe_to_retry(api_client, cats):
    first = api_client.delete(f"{CATS}?colour=grey", HTTP_IDEMPOTENCY_KEY="d1")
    api_client.post(CATS, {"n": 99, "colour": "grey"}, format="json")
    again = api_client.delete(f"{CATS}?colour=grey", HTTP_IDEMPOTENCY_KEY="d1")

    assert first.json() == again.json() == {"deleted": 10}
    assert again["Idempotent-Replayed"] == "true"
    assert 99 in _stored()


# --- update ----------------------------------------------------------------------------------


def test_update_by_filter_bumps_the_versions_of_changed_records_only(api_client, cats):
    api_client.patch(f"{CATS}1/", {"age": 30}, format="json", HTTP_IF_MATCH="*")
    before = _stored()

    response = api_client.patch(f"{CATS}?colour=grey&age__lt=10", {"age": 30}, format="json")

    assert (response.status_code, response.json()) == (200, {"updated": 4})
    after = _stored()
    assert after[1] == before[1]  # held age 30 already: untouched
    for n in (3, 5, 7, 9):
        assert after[n][1] == 30
        assert after[n][2] > before[n][2]
    assert after[11] == before[11]
    assert after[2] == before[2]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"colur": "red"}, "colur"),
        ({"age": "old"}, "age"),
        ({"_version": 3, "age": 1}, "_version"),
        ({"n": 5}, "n"),
        ({}, "non_field_errors"),
        ([{"age": 1}], "non_field_errors"),
        ({"_created_at": "2020-01-01T00:00:00Z"}, "_created_at"),
    ],
)
def test_hostile_update_bodies_answer_400_and_change_nothing(api_client, cats, body, field):
    before = _stored()

    response = api_client.patch(f"{CATS}?colour=grey", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert _stored() == before


def test_update_without_a_filter_answers_400(api_client, cats):
    response = api_client.patch(CATS, {"age": 1}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["filters"]


def test_an_update_that_clashes_answers_409_and_changes_nothing(api_client, cats):
    before = _stored()

    response = api_client.patch(f"{CATS}?colour=grey", {"tag": "same"}, format="json")

    assert response.status_code == 409
    assert (response.json()["type"], response.json()["fields"]) == ("unique-violation", ["tag"])
    assert _stored() == before


def test_an_update_job_names_each_clashing_key(
    api_client, cats, settings, django_capture_on_commit_callbacks
):
    settings.MAX_BULK_ITEMS = 4
    settings.JOB_BATCH_ITEMS = 3
    api_client.patch(f"{CATS}8/", {"tag": "taken"}, format="json", HTTP_IF_MATCH="*")

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.patch(
            f"{CATS}?colour=black&n__lte=10", {"tag": "taken"}, format="json"
        )

    assert response.status_code == 202
    job = RecordJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.total) == ("done", 5)
    # 8 holds it already (unchanged, not written); 2, 4, 6 and 10 clash with it.
    assert [(error["type"], error["key"], error["fields"]) for error in job.errors] == [
        ("unique-violation", "2", ["tag"]),
        ("unique-violation", "4", ["tag"]),
        ("unique-violation", "6", ["tag"]),
        ("unique-violation", "10", ["tag"]),
    ]
    assert job.processed == 0
    assert runtime_for("cats").model.objects.filter(tag="taken").count() == 1


def test_a_read_only_token_cannot_update_by_filter(client, cats):
    before = _stored()

    response = _client(client, "read").patch(
        f"{CATS}?colour=grey", {"age": 1}, content_type="application/json"
    )

    assert response.status_code == 403
    assert _stored() == before
