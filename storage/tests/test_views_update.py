"""PUT and PATCH with optimistic locking: If-Match or a body `_version`, checked in order
404, 400, 428, 412, 409, and written with one conditional UPDATE."""

from __future__ import annotations

import datetime

import pytest

from core.testing import storage_db

pytestmark = storage_db

DOGS = "/api/v1/storage/dogs/"
PROBLEM = "application/problem+json"
REGISTERED = "2024-05-01T12:00:00Z"

PRECONDITION_REQUIRED = {
    "type": "precondition-required",
    "title": "Precondition required",
    "status": 428,
    "detail": "Send If-Match with the version you last read (its ETag).",
}


def _stale(current: int) -> dict:
    return {
        "type": "precondition-failed",
        "title": "Precondition failed",
        "status": 412,
        "detail": f"The resource is at version {current}; re-read it and retry.",
        "current_version": current,
    }


def _invalid(errors: dict) -> dict:
    return {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": "The request has invalid input; see errors.",
        "errors": errors,
    }


def _moment(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp)


@pytest.fixture
def dog(add_dog) -> dict:
    return add_dog(
        name="Rex", breed="collie", age=3, weight_kg="10.00", vaccinated=True, born="2020-01-01"
    )


@pytest.fixture
def url(dog) -> str:
    return f"{DOGS}{dog['id']}/"


def test_patch_changes_only_the_given_fields_and_bumps_the_version(api_client, dog, url):
    response = api_client.patch(url, {"age": 4, "breed": None}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    body = response.json()
    assert body == {
        **dog,
        "age": 4,
        "breed": None,
        "_version": 2,
        "_updated_at": body["_updated_at"],
    }
    assert body["_created_at"] == dog["_created_at"]
    assert _moment(body["_updated_at"]) > _moment(dog["_updated_at"])
    assert api_client.get(url).json() == body


def test_put_replaces_the_record_omitted_fields_fall_back_to_default_or_null(api_client, dog, url):
    response = api_client.put(
        url, {"name": "Rexy", "registered_at": REGISTERED}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    body = response.json()
    assert body == {
        "id": dog["id"],
        "name": "Rexy",
        "breed": None,
        "age": 0,
        "weight_kg": None,
        "vaccinated": False,
        "born": None,
        "registered_at": REGISTERED,
        "chip": None,
        "size": None,
        "extra": None,
        "_version": 2,
        "_created_at": dog["_created_at"],
        "_updated_at": body["_updated_at"],
    }
    assert _moment(body["_updated_at"]) > _moment(dog["_updated_at"])


def test_put_without_a_required_field_answers_400_and_changes_nothing(api_client, dog, url):
    response = api_client.put(url, {"age": 5}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json() == _invalid(
        {"name": ["This field is required."], "registered_at": ["This field is required."]}
    )
    assert api_client.get(url).json() == dog


def test_put_of_a_field_that_is_neither_nullable_nor_defaulted_must_name_it(
    api_client, create_storage
):
    create_storage(
        {
            "name": "counters",
            "fields": [
                {"name": "label", "type": "text"},
                {"name": "value", "type": "integer", "nullable": False},
            ],
        }
    )
    created = api_client.post("/api/v1/storage/counters/", {"value": 1}, format="json").json()

    response = api_client.put(
        f"/api/v1/storage/counters/{created['id']}/",
        {"label": "x"},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 400
    assert response.json() == _invalid(
        {"value": ["This field is required: it is not nullable and has no default."]}
    )


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_without_if_match_answers_428(api_client, dog, url, method):
    body = {"name": "Rexy", "registered_at": REGISTERED}

    response = getattr(api_client, method)(url, body, format="json")

    assert response.status_code == 428
    assert response["Content-Type"] == PROBLEM
    assert response.json() == PRECONDITION_REQUIRED
    assert api_client.get(url).json() == dog


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_with_a_stale_version_answers_412_with_the_current_version(api_client, url, method):
    api_client.patch(url, {"age": 4}, format="json", HTTP_IF_MATCH='"1"')
    body = {"name": "Rexy", "registered_at": REGISTERED}

    response = getattr(api_client, method)(url, body, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    assert response["Content-Type"] == PROBLEM
    assert response.json() == _stale(2)
    assert api_client.get(url).json()["name"] == "Rex"


@pytest.mark.parametrize("method", ["put", "patch"])
def test_version_in_the_body_stands_for_if_match(api_client, url, method):
    body = {"name": "Rexy", "registered_at": REGISTERED, "_version": 1}

    response = getattr(api_client, method)(url, body, format="json")

    assert response.status_code == 200
    assert response.json()["_version"] == 2
    assert response.json()["name"] == "Rexy"


def test_stale_version_in_the_body_answers_412(api_client, url):
    api_client.patch(url, {"age": 4}, format="json", HTTP_IF_MATCH='"1"')

    response = api_client.patch(url, {"age": 5, "_version": 1}, format="json")

    assert response.status_code == 412
    assert response.json() == _stale(2)


def test_header_and_body_version_that_agree_are_accepted(api_client, url):
    response = api_client.patch(url, {"age": 5, "_version": 1}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 200
    assert response.json()["_version"] == 2


def test_header_and_body_version_that_disagree_answer_400(api_client, dog, url):
    response = api_client.patch(url, {"age": 5, "_version": 2}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 400
    assert response.json() == _invalid(
        {"_version": ["Disagrees with the If-Match header; send one version."]}
    )
    assert api_client.get(url).json() == dog


@pytest.mark.parametrize("version", ["1", True, 1.0, None])
def test_body_version_that_is_not_an_integer_answers_400(api_client, url, version):
    response = api_client.patch(url, {"age": 5, "_version": version}, format="json")

    assert response.status_code == 400
    assert response.json() == _invalid(
        {"_version": ["Must be an integer: the version you last read."]}
    )


@pytest.mark.parametrize("header", ['"1"', "1", 'W/"1"', '"5", "1"', "*"])
def test_if_match_forms_are_accepted(api_client, url, header):
    response = api_client.patch(url, {"age": 5}, format="json", HTTP_IF_MATCH=header)

    assert response.status_code == 200
    assert response["ETag"] == '"2"'


@pytest.mark.parametrize("header", ["abc", "W/", '"-1"', '"1.0"', ""])
def test_malformed_if_match_answers_400(api_client, url, header):
    response = api_client.patch(url, {"age": 5}, format="json", HTTP_IF_MATCH=header)

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation-error"
    assert body["detail"] == "The If-Match header is malformed."
    assert list(body["errors"]) == ["If-Match"]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_unknown_key_answers_404_before_validation_and_preconditions(api_client, dogs, method):
    response = getattr(api_client, method)(f"{DOGS}999999/", {"age": "old"}, format="json")

    assert response.status_code == 404
    assert response.json() == {
        "type": "record-not-found",
        "title": "Record not found",
        "status": 404,
        "detail": "No record with id=999999 in 'dogs'.",
    }


def test_unknown_key_with_if_match_answers_404(api_client, dogs):
    response = api_client.patch(f"{DOGS}999999/", {"age": 1}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 404


def test_key_that_cannot_be_an_integer_answers_404(api_client, dogs):
    response = api_client.patch(f"{DOGS}abc/", {"age": 1}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 404
    assert response.json()["type"] == "record-not-found"


def test_validation_answers_400_before_the_missing_precondition(api_client, url):
    response = api_client.patch(url, {"age": "old"}, format="json")

    assert response.status_code == 400
    assert response.json() == _invalid(
        {"age": ["Must be an integer (a JSON number without a fraction)."]}
    )


def test_validation_answers_400_before_the_stale_precondition(api_client, url):
    response = api_client.patch(url, {"age": "old"}, format="json", HTTP_IF_MATCH='"9"')

    assert response.status_code == 400


def test_stale_precondition_answers_412_before_a_unique_conflict(api_client, add_dog, url):
    add_dog(name="Bella", born="2020-01-01")

    response = api_client.patch(url, {"name": "Bella"}, format="json", HTTP_IF_MATCH='"9"')

    assert response.status_code == 412
    assert response.json() == _stale(1)


def test_update_breaking_a_unique_index_answers_409_naming_its_fields(
    api_client, add_dog, dog, url
):
    add_dog(name="Bella", born="2020-01-01")

    response = api_client.patch(url, {"name": "Bella"}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "unique-violation",
        "title": "Unique constraint violated",
        "status": 409,
        "detail": "Another record already has the same name, born.",
        "fields": ["name", "born"],
    }
    assert api_client.get(url).json() == dog


@pytest.mark.parametrize("method", ["put", "patch"])
def test_primary_key_in_the_body_equal_to_the_current_one_is_ignored(api_client, dog, url, method):
    body = {"id": dog["id"], "name": "Rexy", "registered_at": REGISTERED}

    response = getattr(api_client, method)(url, body, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 200
    assert response.json()["id"] == dog["id"]
    assert response.json()["name"] == "Rexy"


@pytest.mark.parametrize("method", ["put", "patch"])
def test_primary_key_in_the_body_that_differs_answers_400(api_client, dog, url, method):
    body = {"id": dog["id"] + 1, "name": "Rexy", "registered_at": REGISTERED}

    response = getattr(api_client, method)(url, body, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 400
    assert response.json() == _invalid({"id": ["The primary key cannot change."]})
    assert api_client.get(url).json() == dog


def test_text_key_cannot_change_and_may_be_repeated(api_client, create_storage):
    create_storage(
        {
            "name": "breeds",
            "primary_key": {"name": "code", "type": "text"},
            "fields": [{"name": "label", "type": "text"}],
        }
    )
    location = api_client.post(
        "/api/v1/storage/breeds/", {"code": "border collie?#%", "label": "x"}, format="json"
    )["Location"]

    changed = api_client.patch(location, {"code": "pug"}, format="json", HTTP_IF_MATCH='"1"')
    same = api_client.patch(
        location, {"code": "border collie?#%", "label": "y"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert changed.status_code == 400
    assert changed.json()["errors"] == {"code": ["The primary key cannot change."]}
    assert same.status_code == 200
    assert same.json()["code"] == "border collie?#%"
    assert same.json()["label"] == "y"


@pytest.mark.parametrize("field", ["_created_at", "_updated_at"])
@pytest.mark.parametrize("method", ["put", "patch"])
def test_writing_a_timestamp_answers_400(api_client, dog, url, method, field):
    body = {"name": "Rex", "registered_at": REGISTERED, field: "2000-01-01T00:00:00Z"}

    response = getattr(api_client, method)(url, body, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 400
    assert response.json() == _invalid(
        {field: ["This system field is set by the server and cannot be written."]}
    )
    assert api_client.get(url).json() == dog


def test_unknown_fields_answer_400_naming_them(api_client, dog, url):
    response = api_client.patch(
        url, {"colour": "red", "owner": "Ann"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 400
    assert response.json() == _invalid({"colour": ["Unknown field."], "owner": ["Unknown field."]})
    assert api_client.get(url).json() == dog


def test_patch_with_an_empty_object_still_bumps_the_version(api_client, dog, url):
    response = api_client.patch(url, {}, format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 200
    assert response.json() == {
        **dog,
        "_version": 2,
        "_updated_at": response.json()["_updated_at"],
    }


def test_update_with_a_body_that_is_not_an_object_answers_400(api_client, url):
    response = api_client.patch(url, [{"age": 1}], format="json", HTTP_IF_MATCH='"1"')

    assert response.status_code == 400
    assert response.json() == _invalid({"non_field_errors": ["A record must be a JSON object."]})


def test_update_of_an_unknown_storage_answers_404(api_client):
    response = api_client.patch(
        "/api/v1/storage/cats/1/", {"age": 1}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 404
    assert response.json()["type"] == "storage-not-found"
