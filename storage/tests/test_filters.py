"""Filtering the records list: every operator per type, and every way to get it wrong."""

from __future__ import annotations

import pytest

from core.testing import storage_db

pytestmark = storage_db

DOGS = "/api/v1/storage/dogs/"
CHIP_A = "6f1d3a8e-0d5e-4d1c-9a51-3b1f8f1b2c10"
CHIP_B = "0b5a4f7e-93c1-4a55-8f0e-2d9e6c3b1a77"

# Created in this order, so the unfiltered list (key order) is this order.
DOGS_DATA = [
    {
        "name": "Rex",
        "breed": "collie",
        "age": 3,
        "weight_kg": "10.50",
        "vaccinated": True,
        "born": "2020-01-01",
        "registered_at": "2024-01-01T10:00:00Z",
        "chip": CHIP_A,
        "size": "small",
        "extra": {"colour": "black", "tags": ["a", "b"]},
    },
    {
        "name": "Bella",
        "breed": "Beagle",
        "age": 5,
        "weight_kg": "8.25",
        "born": "2019-06-15",
        "registered_at": "2024-02-01T10:00:00Z",
        "chip": CHIP_B,
        "size": "medium",
        "extra": {"colour": "brown"},
    },
    {"name": "rexford", "age": 7, "registered_at": "2024-03-01T10:00:00Z", "size": "large"},
    {
        "name": "",
        "breed": "border collie",
        "age": 0,
        "weight_kg": "30.00",
        "vaccinated": True,
        "born": "2021-03-03",
        "registered_at": "2024-04-01T10:00:00Z",
        "extra": [1, 2],
    },
    {"name": "Max", "age": None, "registered_at": "2024-05-01T10:00:00Z"},
]
ALL = ["Rex", "Bella", "rexford", "", "Max"]


@pytest.fixture
def pack(api_client, dogs) -> list[dict]:
    created = []
    for data in DOGS_DATA:
        response = api_client.post(DOGS, data, format="json")
        assert response.status_code == 201, response.json()
        created.append(response.json())
    return created


def _names(api_client, params: dict) -> list[str]:
    response = api_client.get(DOGS, params)
    assert response.status_code == 200, response.json()
    return [record["name"] for record in response.json()["results"]]


def _invalid(errors: dict, detail: str = "The request has invalid input; see errors.") -> dict:
    return {
        "type": "validation-error",
        "title": "Invalid input",
        "status": 400,
        "detail": detail,
        "errors": errors,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # integer
        ({"age": "3"}, ["Rex"]),
        ({"age": "-1"}, []),
        ({"age__in": "3,7"}, ["Rex", "rexford"]),
        ({"age__gt": "3"}, ["Bella", "rexford"]),
        ({"age__gte": "3"}, ["Rex", "Bella", "rexford"]),
        ({"age__lt": "3"}, [""]),
        ({"age__lte": "3"}, ["Rex", ""]),
        ({"age__isnull": "true"}, ["Max"]),
        ({"age__isnull": "false"}, ["Rex", "Bella", "rexford", ""]),
        # decimal
        ({"weight_kg": "10.5"}, ["Rex"]),
        ({"weight_kg__in": "8.25,30"}, ["Bella", ""]),
        ({"weight_kg__gt": "10.5"}, [""]),
        ({"weight_kg__gte": "10.5"}, ["Rex", ""]),
        ({"weight_kg__lt": "10.5"}, ["Bella"]),
        ({"weight_kg__lte": "10.50"}, ["Rex", "Bella"]),
        ({"weight_kg__isnull": "true"}, ["rexford", "Max"]),
        # boolean
        ({"vaccinated": "true"}, ["Rex", ""]),
        ({"vaccinated": "false"}, ["Bella", "rexford", "Max"]),
        ({"vaccinated__in": "true,false"}, ALL),
        ({"vaccinated__in": "false"}, ["Bella", "rexford", "Max"]),
        # text
        ({"name": "Rex"}, ["Rex"]),
        ({"name": "rex"}, []),
        ({"name": ""}, [""]),
        ({"name__in": "Rex,Max"}, ["Rex", "Max"]),
        ({"name__contains": "ex"}, ["Rex", "rexford"]),
        ({"name__icontains": "REX"}, ["Rex", "rexford"]),
        ({"name__startswith": "Ma"}, ["Max"]),
        ({"breed": ""}, []),
        ({"breed__icontains": "COLLIE"}, ["Rex", ""]),
        ({"breed__startswith": "border"}, [""]),
        ({"breed__isnull": "true"}, ["rexford", "Max"]),
        ({"breed__isnull": "false"}, ["Rex", "Bella", ""]),
        ({"size": "small"}, ["Rex"]),
        ({"size__in": "medium,large"}, ["Bella", "rexford"]),
        ({"size__isnull": "true"}, ["", "Max"]),
        # date
        ({"born": "2020-01-01"}, ["Rex"]),
        ({"born__in": "2020-01-01,2021-03-03"}, ["Rex", ""]),
        ({"born__gt": "2020-01-01"}, [""]),
        ({"born__gte": "2020-01-01"}, ["Rex", ""]),
        ({"born__lt": "2020-01-01"}, ["Bella"]),
        ({"born__lte": "2020-01-01"}, ["Rex", "Bella"]),
        ({"born__isnull": "true"}, ["rexford", "Max"]),
        # datetime
        ({"registered_at": "2024-01-01T10:00:00Z"}, ["Rex"]),
        ({"registered_at": "2024-01-01T12:00:00+02:00"}, ["Rex"]),
        ({"registered_at__in": "2024-01-01T10:00:00Z,2024-02-01T10:00:00Z"}, ["Rex", "Bella"]),
        ({"registered_at__gt": "2024-03-01T10:00:00Z"}, ["", "Max"]),
        ({"registered_at__gte": "2024-03-01T10:00:00Z"}, ["rexford", "", "Max"]),
        ({"registered_at__lt": "2024-02-01T10:00:00Z"}, ["Rex"]),
        ({"registered_at__lte": "2024-02-01T10:00:00Z"}, ["Rex", "Bella"]),
        # uuid
        ({"chip": CHIP_A}, ["Rex"]),
        ({"chip": CHIP_A.upper()}, ["Rex"]),
        ({"chip__in": f"{CHIP_A},{CHIP_B}"}, ["Rex", "Bella"]),
        ({"chip__isnull": "true"}, ["rexford", "", "Max"]),
        # json
        ({"extra__has_key": "colour"}, ["Rex", "Bella"]),
        ({"extra__has_key": "tags"}, ["Rex"]),
        ({"extra__has_key": "owner"}, []),
        ({"extra__isnull": "true"}, ["rexford", "Max"]),
        # several filters: all must hold
        ({"breed__icontains": "collie", "vaccinated": "true", "age__gt": "0"}, ["Rex"]),
    ],
)
def test_filter_operator(api_client, pack, params, expected):
    assert _names(api_client, params) == expected


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"extra__contains": '{"colour": "black"}'}, ["Rex"]),
        ({"extra__contains": '{"tags": ["b"]}'}, ["Rex"]),
        ({"extra__contains": "[2]"}, [""]),
        ({"extra__contains": '{"colour": "white"}'}, []),
        # Every object contains {}; arrays and NULLs do not.
        ({"extra__contains": "{}"}, ["Rex", "Bella"]),
    ],
)
def test_json_containment_filter(api_client, pack, params, expected):
    assert _names(api_client, params) == expected


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name__contains": "R"}, ["Rex"]),
        ({"name__startswith": "re"}, ["rexford"]),
    ],
)
def test_contains_and_startswith_are_case_sensitive(api_client, pack, params, expected):
    # SQLite's LIKE ignores ASCII case, so this holds on PostgreSQL only.
    assert _names(api_client, params) == expected


def test_key_filters(api_client, pack):
    ids = [record["id"] for record in pack]

    assert _names(api_client, {"id": ids[1]}) == ["Bella"]
    assert _names(api_client, {"id__in": f"{ids[0]},{ids[4]}"}) == ["Rex", "Max"]
    assert _names(api_client, {"id__gt": ids[2]}) == ["", "Max"]
    assert _names(api_client, {"id__gte": ids[2]}) == ["rexford", "", "Max"]
    assert _names(api_client, {"id__lt": ids[1]}) == ["Rex"]
    assert _names(api_client, {"id__lte": ids[1]}) == ["Rex", "Bella"]


def test_created_at_filters_find_what_was_created_since(api_client, pack):
    middle = pack[2]["_created_at"]

    assert _names(api_client, {"_created_at__gt": middle}) == ["", "Max"]
    assert _names(api_client, {"_created_at__gte": middle}) == ["rexford", "", "Max"]
    assert _names(api_client, {"_created_at__lt": middle}) == ["Rex", "Bella"]
    assert _names(api_client, {"_created_at__lte": middle}) == ["Rex", "Bella", "rexford"]


def test_updated_at_filters_find_what_changed_since_the_last_run(api_client, pack):
    last_run = pack[-1]["_updated_at"]
    bella = pack[1]
    etag = f'"{bella["_version"]}"'
    api_client.patch(f"{DOGS}{bella['id']}/", {"age": 6}, format="json", HTTP_IF_MATCH=etag)

    assert _names(api_client, {"_updated_at__gt": last_run}) == ["Bella"]
    assert _names(api_client, {"_updated_at__gte": last_run}) == ["Bella", "Max"]
    assert _names(api_client, {"_updated_at__lt": last_run}) == ["Rex", "rexford", ""]
    assert _names(api_client, {"_updated_at__lte": last_run}) == ["Rex", "rexford", "", "Max"]


def test_text_key_filters(api_client, create_storage):
    create_storage(
        {
            "name": "breeds",
            "primary_key": {"name": "code", "type": "text"},
            "fields": [{"name": "label", "type": "text"}],
        }
    )
    url = "/api/v1/storage/breeds/"
    api_client.post(url, [{"code": c} for c in ("pug", "puli", "beagle")], format="json")

    def codes(params: dict) -> list[str]:
        return [r["code"] for r in api_client.get(url, params).json()["results"]]

    assert codes({"code": "pug"}) == ["pug"]
    assert codes({"code__startswith": "pu"}) == ["pug", "puli"]
    assert codes({"code__in": "beagle,puli"}) == ["beagle", "puli"]
    assert codes({"code__icontains": "EAG"}) == ["beagle"]


def test_float_filters(api_client, create_storage):
    create_storage({"name": "scores", "fields": [{"name": "score", "type": "float"}]})
    url = "/api/v1/storage/scores/"
    api_client.post(url, [{"score": s} for s in (1.5, -2.25, 10.0, None)], format="json")

    def scores(params: dict) -> list:
        response = api_client.get(url, params)
        assert response.status_code == 200, response.json()
        return [r["score"] for r in response.json()["results"]]

    assert scores({"score": "1.5"}) == [1.5]
    assert scores({"score__in": "10,-2.25"}) == [-2.25, 10.0]
    assert scores({"score__gt": "1.5"}) == [10.0]
    assert scores({"score__gte": "1.5"}) == [1.5, 10.0]
    assert scores({"score__lt": "1.5"}) == [-2.25]
    assert scores({"score__lte": "1.5"}) == [1.5, -2.25]
    assert scores({"score__isnull": "true"}) == [None]
    for bad in ("abc", "nan", "inf"):
        response = api_client.get(url, {"score": bad})
        assert response.status_code == 400
        assert response.json()["errors"] == {"score": ["Enter a number."]}


@pytest.mark.parametrize(
    "params",
    [
        {"colour": "red"},
        {"age__contains": "3"},
        {"name__gt": "a"},
        {"born__contains": "2020"},
        {"vaccinated__gt": "true"},
        {"chip__gt": CHIP_A},
        {"extra": "{}"},
        {"extra__gt": "1"},
        {"age__range": "1,3"},
        {"breed__exact": "collie"},
        {"name__isnull": "true"},  # name is not nullable
        {"registered_at__isnull": "true"},  # neither is registered_at
        {"_version": "1"},
        {"_created_at": "2024-01-01T00:00:00Z"},
        {"page": "2"},
    ],
)
def test_unknown_parameter_or_operator_answers_400_naming_it(api_client, pack, params):
    response = api_client.get(DOGS, params)

    (name,) = params
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == _invalid(
        {name: ["Unknown filter or parameter for this storage."]},
        f"Unknown query parameters: {name}",
    )


def test_every_unknown_parameter_is_named(api_client, pack):
    response = api_client.get(DOGS, {"age__contains": "3", "name__gt": "a", "age": "3"})

    assert response.status_code == 400
    assert response.json() == _invalid(
        {
            "age__contains": ["Unknown filter or parameter for this storage."],
            "name__gt": ["Unknown filter or parameter for this storage."],
        },
        "Unknown query parameters: age__contains, name__gt",
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"age": "abc"}, "Enter a whole number."),
        ({"age": "3.5"}, "Enter a whole number."),
        ({"age": str(2**63)}, "Ensure this value is less than or equal to 9223372036854775807."),
        ({"age__gt": "three"}, "Enter a whole number."),
        ({"age__in": "1,x"}, "Enter a whole number."),
        ({"id": "abc"}, "Enter a whole number."),
        ({"weight_kg": "abc"}, "Enter a number."),
        ({"weight_kg": "NaN"}, "Enter a number."),
        ({"weight_kg__lt": "Infinity"}, "Enter a number."),
        ({"vaccinated": "yes"}, "Select a valid choice. yes is not one of the available choices."),
        ({"vaccinated": "1"}, "Select a valid choice. 1 is not one of the available choices."),
        (
            {"vaccinated": "True"},
            "Select a valid choice. True is not one of the available choices.",
        ),
        (
            {"breed__isnull": "yes"},
            "Select a valid choice. yes is not one of the available choices.",
        ),
        ({"born": "2020-13-01"}, "Enter a valid date."),
        ({"born__gt": "01/02/2020"}, "Enter a valid date."),
        ({"born__in": "2020-01-01,01/02/2020"}, "Enter a valid date."),
        ({"registered_at": "nope"}, "Enter a valid date/time."),
        ({"_created_at__gt": "yesterday"}, "Enter a valid date/time."),
        ({"chip": "zz"}, "Enter a valid UUID."),
        ({"extra__contains": "{not json"}, "Enter a valid JSON."),
    ],
)
def test_value_of_the_wrong_type_answers_400(api_client, pack, params, message):
    response = api_client.get(DOGS, params)

    (name,) = params
    assert response.status_code == 400
    assert response.json() == _invalid({name: [message]})


@pytest.mark.parametrize(
    "name",
    ["age", "age__in", "weight_kg", "vaccinated", "born", "registered_at__gt", "chip", "id"],
)
def test_empty_value_for_a_non_text_filter_answers_400(api_client, pack, name):
    response = api_client.get(DOGS, {name: ""})

    assert response.status_code == 400
    assert response.json() == _invalid({name: ["A value is required."]})


def test_empty_isnull_value_answers_400(api_client, pack):
    response = api_client.get(DOGS, {"breed__isnull": ""})

    assert response.status_code == 400
    assert response.json() == _invalid({"breed__isnull": ["A value is required."]})


def test_repeated_parameter_answers_400(api_client, pack):
    response = api_client.get(f"{DOGS}?age=3&age=5")

    assert response.status_code == 400
    assert response.json() == _invalid(
        {"age": ["Give this parameter once (use __in for several values)."]}
    )


@pytest.mark.sqlite
def test_json_containment_needs_postgresql(api_client, pack):
    response = api_client.get(DOGS, {"extra__contains": '{"colour": "black"}'})

    assert response.status_code == 400
    assert response.json() == _invalid({"extra__contains": ["Needs PostgreSQL; not on sqlite."]})
