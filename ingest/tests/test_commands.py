"""The command line: import_records, ingest and export_records, with their rejects files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import CommandError, call_command

from core.testing import storage_db
from ingest.tests.animals import cat, cow, dog
from storage.runtime import runtime_for
from storage.services import record_bulk_create

pytestmark = storage_db

REGISTERED = "2024-05-01T12:00:00Z"
TOO_OLD = {"age": ["Ensure this value is less than or equal to 40."]}
DUPLICATE = "Another record already has the same name."


def run(command: str, *args: Any) -> str:
    """Run a command; its stdout (the progress bar goes to stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *map(str, args), stdout=out, stderr=err)
    return out.getvalue()


def rejects(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def rows(name: str) -> list[dict[str, Any]]:
    runtime = runtime_for(name)
    names = [spec["name"] for spec in runtime.definition["fields"]]
    return list(runtime.model.objects.order_by("pk").values(*names))


def names(storage: str) -> list[str]:
    return [row["name"] for row in rows(storage)]


def write_lines(path: Path, *lines: Any) -> Path:
    """Each item as one line: bytes as they are, anything else as JSON."""
    path.write_bytes(
        b"".join(
            (line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines
        )
    )
    return path


# --- import_records: NDJSON ------------------------------------------------------------------


def test_import_ndjson_writes_good_lines_and_reports_bad_ones_by_line(animals, tmp_path):
    source = write_lines(
        tmp_path / "dogs.ndjson",
        {"name": "Rex", "age": 3, "registered_at": REGISTERED},
        b"",
        {"name": "Old", "age": 41, "registered_at": REGISTERED},
        b'{"name": "Broken",',
        {"name": "Fido", "registered_at": REGISTERED, "colour": "brown"},
        [1, 2],
        {"name": "Spot", "breed": "pug", "registered_at": REGISTERED},
    )

    output = run("import_records", "dogs", source)

    report = tmp_path / "dogs.ndjson.rejects.ndjson"
    assert output == f"2 written, 4 rejected (see {report})\n"
    assert rows("dogs") == [
        {"name": "Rex", "age": 3, "breed": None, "registered_at": _dt(REGISTERED)},
        {"name": "Spot", "age": 0, "breed": "pug", "registered_at": _dt(REGISTERED)},
    ]
    bad = rejects(report)
    assert [item["line"] for item in bad] == [3, 4, 5, 6]
    assert bad[0] == {"line": 3, "errors": TOO_OLD}
    assert bad[1]["errors"]["line"][0].startswith("not valid: ")
    assert bad[2] == {"line": 5, "errors": {"colour": ["Unknown field."]}}
    assert bad[3] == {
        "line": 6,
        "errors": {"non_field_errors": ["A record must be a JSON object."]},
    }


def test_import_of_a_clean_file_leaves_an_empty_rejects_file(animals, tmp_path):
    source = write_lines(
        tmp_path / "dogs.jsonl",
        *({"name": f"dog-{i}", "registered_at": REGISTERED} for i in range(10)),
    )
    chosen = tmp_path / "nothing-bad.ndjson"

    output = run("import_records", "dogs", source, "--rejects", chosen)

    assert output == f"10 written, 0 rejected (see {chosen})\n"
    assert chosen.read_bytes() == b""
    assert len(rows("dogs")) == 10


def test_import_refuses_a_batch_that_breaks_a_unique_index(animals, tmp_path):
    source = write_lines(
        tmp_path / "dogs.ndjson",
        {"name": "Rex", "registered_at": REGISTERED},
        {"name": "Fido", "registered_at": REGISTERED},
        {"name": "Rex", "registered_at": REGISTERED},
    )

    output = run("import_records", "dogs", source)

    assert output.startswith("0 written, 3 rejected")
    assert rejects(tmp_path / "dogs.ndjson.rejects.ndjson") == [
        {"line": n, "errors": {"batch": [DUPLICATE]}} for n in (1, 2, 3)
    ]
    assert rows("dogs") == []


# --- import_records: CSV ---------------------------------------------------------------------


def test_import_csv_converts_cells_by_field_type(animals, tmp_path):
    source = tmp_path / "cats.csv"
    source.write_text(
        "name,age,indoor\n"
        "Tom,2,true\n"
        "Kitty,,false\n"  # an empty cell: null, as export_records writes it (age is nullable)
        "Felix,7,TRUE\n",
        encoding="utf-8",
    )

    output = run("import_records", "cats", source)

    assert output == f"3 written, 0 rejected (see {source}.rejects.ndjson)\n"
    assert rows("cats") == [
        {"name": "Tom", "age": 2, "indoor": True},
        {"name": "Kitty", "age": None, "indoor": False},
        {"name": "Felix", "age": 7, "indoor": True},
    ]


def test_import_csv_reports_bad_rows_by_their_line_in_the_file(animals, tmp_path):
    source = tmp_path / "dogs.csv"
    source.write_text(
        "name,age,breed,registered_at\n"  # line 1
        f"Rex,3,beagle,{REGISTERED}\n"  # 2
        f"Old,abc,,{REGISTERED}\n"  # 3: not an integer
        "\n"  # 4: blank
        f'"Two\nlines",2,,{REGISTERED}\n'  # 5-6: a quoted newline
        f"Big,41,,{REGISTERED}\n"  # 7: over max
        "Short,1\n"  # 8: too few cells
        f"Long,1,pug,{REGISTERED},extra\n"  # 9: too many cells
        "Nodate,1,pug,\n",  # 10: a required field left empty
        encoding="utf-8",
    )

    output = run("import_records", "dogs", source)

    assert output == f"2 written, 5 rejected (see {source}.rejects.ndjson)\n"
    assert names("dogs") == ["Rex", "Two\nlines"]
    bad = rejects(tmp_path / "dogs.csv.rejects.ndjson")
    assert bad == [
        {"line": 3, "errors": {"line": ["not valid: 'abc' is not an integer"]}},
        {"line": 7, "errors": TOO_OLD},
        {"line": 8, "errors": {"line": ["not valid: 2 cells, the header has 4"]}},
        {"line": 9, "errors": {"line": ["not valid: 5 cells, the header has 4"]}},
        {"line": 10, "errors": {"registered_at": ["This field is required."]}},
    ]


def test_import_csv_reads_json_cells_and_refuses_bad_booleans(create_storage, tmp_path):
    create_storage(
        {
            "name": "things",
            "fields": [
                {"name": "label", "type": "text"},
                {"name": "data", "type": "json"},
                {"name": "ok", "type": "boolean"},
                {"name": "ratio", "type": "float"},
            ],
        }
    )
    source = tmp_path / "things.csv"
    source.write_text(
        'label,data,ok,ratio\none,"{""a"": [1, null]}",false,0.5\ntwo,"[1,true]",maybe,1\n'
        "three,{broken,true,2\n",
        encoding="utf-8",
    )

    output = run("import_records", "things", source)

    assert output.startswith("1 written, 2 rejected")
    assert rows("things") == [{"label": "one", "data": {"a": [1, None]}, "ok": False, "ratio": 0.5}]
    bad = rejects(tmp_path / "things.csv.rejects.ndjson")
    assert bad[0] == {"line": 3, "errors": {"line": ["not valid: 'maybe' is not true or false"]}}
    assert bad[1]["line"] == 4
    assert bad[1]["errors"]["line"][0].startswith("not valid: '{broken' is not JSON (")


def test_import_csv_leaves_an_empty_cell_of_a_non_nullable_field_to_its_default(
    create_storage, tmp_path
):
    create_storage(
        {
            "name": "tasks",
            "fields": [
                {"name": "title", "type": "text", "nullable": False, "default": "untitled"},
                {"name": "rank", "type": "integer", "nullable": False, "default": 1},
                {"name": "due", "type": "date"},
            ],
        }
    )
    source = tmp_path / "tasks.csv"
    source.write_text('title,rank,due\n,,\n"",5,""\n', encoding="utf-8")

    output = run("import_records", "tasks", source)

    assert output.startswith("2 written, 0 rejected")
    assert rows("tasks") == [
        {"title": "untitled", "rank": 1, "due": None},
        {"title": "", "rank": 5, "due": None},  # "" is empty text, and no date
    ]


# --- import_records: refusals ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["import_records", "export_records"])
def test_an_unknown_storage_is_a_command_error(command, tmp_path):
    with pytest.raises(CommandError, match=r"No storage named 'nowhere'\."):
        run(command, "nowhere", write_lines(tmp_path / "x.ndjson"))


@pytest.mark.parametrize("command", ["import_records", "export_records"])
@pytest.mark.parametrize("suffix", [".txt", ".json", ""])
def test_a_file_that_is_not_ndjson_or_csv_is_a_command_error(animals, tmp_path, command, suffix):
    path = tmp_path / f"dogs{suffix}"
    path.write_text("", encoding="utf-8")

    with pytest.raises(CommandError, match=r"use a \.ndjson, \.jsonl or \.csv file"):
        run(command, "dogs", path)


@pytest.mark.parametrize("command", ["import_records", "ingest"])
def test_a_missing_file_is_a_command_error(animals, tmp_path, command):
    args = ("dogs",) if command == "import_records" else ()

    with pytest.raises(CommandError, match="No such file"):
        run(command, *args, tmp_path / "missing.ndjson")


# --- ingest ----------------------------------------------------------------------------------


def test_ingest_routes_a_file_of_events_and_summarises(animals, tmp_path):
    source = write_lines(
        tmp_path / "events.ndjson",
        dog("Rex"),  # line 1
        cat("Tom"),  # 2
        cow("Daisy"),  # 3
        b"{oops",  # 4
        b"",  # 5
        dog("Old", 41),  # 6
        cat("Kitty", indoor="yes"),  # 7
        dog("Ghost", deleted=True),  # 8
    )

    output = run("ingest", source)

    report = tmp_path / "events.ndjson.rejects.ndjson"
    assert output.splitlines() == [
        "cats: 1 written, 1 rejected",
        "dogs: 1 written, 1 rejected",
        f"6 events, 2 matched no storage, 1 unreadable line (rejections in {report})",
    ]
    assert names("dogs") == ["Rex"]
    assert names("cats") == ["Tom"]
    bad = rejects(report)
    assert [(item.get("storage"), item["line"]) for item in bad] == [
        (None, 4),
        ("cats", 7),
        ("dogs", 6),
    ]
    assert bad[0]["errors"]["line"][0].startswith("not valid: ")
    assert bad[1]["errors"] == {"indoor": ["Must be true or false."]}
    assert bad[2]["errors"] == TOO_OLD


def test_ingest_writes_rejections_where_asked(animals, tmp_path):
    source = write_lines(tmp_path / "events.ndjson", dog("Rex"), dog("Rex"))
    chosen = tmp_path / "out" / "why.ndjson"
    chosen.parent.mkdir()

    output = run("ingest", source, "--rejects", chosen)

    assert output.splitlines() == [
        "dogs: 1 written, 1 rejected",
        f"2 events, 0 matched no storage, 0 unreadable lines (rejections in {chosen})",
    ]
    assert rejects(chosen) == [
        {"storage": "dogs", "line": 2, "errors": {"non_field_errors": [DUPLICATE]}}
    ]


def test_ingest_takes_files_longer_than_one_requests_limit(animals, tmp_path, settings):
    settings.MAX_INGEST_EVENTS = 3
    events = [dog(f"dog-{i}") if i % 2 else cat(f"cat-{i}") for i in range(8)]
    source = write_lines(tmp_path / "events.ndjson", *events[:4], b"", b"[", *events[4:])

    output = run("ingest", source)

    assert output.splitlines()[:2] == ["cats: 4 written, 0 rejected", "dogs: 4 written, 0 rejected"]
    assert output.splitlines()[2].startswith("8 events, 0 matched no storage, 1 unreadable line")
    assert names("dogs") == [f"dog-{i}" for i in (1, 3, 5, 7)]
    assert names("cats") == [f"cat-{i}" for i in (0, 2, 4, 6)]


def test_ingest_of_a_file_matching_nothing(animals, tmp_path):
    source = write_lines(tmp_path / "events.ndjson", cow("Daisy"))

    output = run("ingest", source)

    assert output.splitlines() == [
        "1 events, 1 matched no storage, 0 unreadable lines "
        f"(rejections in {source}.rejects.ndjson)"
    ]


# --- export_records --------------------------------------------------------------------------


@pytest.fixture
def three_dogs(api_client, animals) -> list[dict[str, Any]]:
    response = api_client.post(
        "/api/v1/storage/dogs/",
        [
            {"name": "Rex", "age": 3, "breed": "beagle", "registered_at": REGISTERED},
            {"name": "Fido", "registered_at": REGISTERED},
            {"name": 'Q "quoted", one', "breed": "pug", "registered_at": REGISTERED},
        ],
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_export_to_ndjson_writes_every_record_as_the_api_shows_it(api_client, three_dogs, tmp_path):
    target = tmp_path / "dogs.ndjson"

    output = run("export_records", "dogs", target)

    assert output == f"3 records written to {target}\n"
    assert [orjson.loads(line) for line in target.read_bytes().splitlines()] == three_dogs
    api = b"".join(api_client.get("/api/v1/storage/dogs/?format=ndjson").streaming_content)
    assert target.read_bytes() == api


def test_export_to_csv_writes_a_header_and_one_row_per_record(api_client, three_dogs, tmp_path):
    target = tmp_path / "dogs.csv"

    output = run("export_records", "dogs", target)

    assert output == f"3 records written to {target}\n"
    raw = target.read_bytes()
    lines = raw.decode().splitlines()
    assert lines[0] == "id,name,age,breed,registered_at,_version,_created_at,_updated_at"
    first, second, third = three_dogs
    assert lines[1] == (
        f"{first['id']},Rex,3,beagle,{REGISTERED},{first['_version']},"
        f"{first['_created_at']},{first['_updated_at']}"
    )
    assert lines[2].startswith(f"{second['id']},Fido,0,,{REGISTERED},{second['_version']},")
    assert lines[3].startswith(f'{third["id"]},"Q ""quoted"", one",0,pug,')
    api = b"".join(api_client.get("/api/v1/storage/dogs/?format=csv").streaming_content)
    assert raw == api


def test_export_of_an_empty_storage(animals, tmp_path):
    ndjson_target, csv_target = tmp_path / "cats.ndjson", tmp_path / "cats.csv"

    assert run("export_records", "cats", ndjson_target) == f"0 records written to {ndjson_target}\n"
    assert run("export_records", "cats", csv_target) == f"0 records written to {csv_target}\n"
    assert ndjson_target.read_bytes() == b""
    assert csv_target.read_text() == "id,name,age,indoor,_version,_created_at,_updated_at\n"


def _dt(stamp: str):
    import datetime

    return datetime.datetime.fromisoformat(stamp)


@storage_db
def test_an_export_imports_back_as_it_is(tmp_path, create_storage):
    """export_records writes system fields and the serial key; import_records drops them."""
    create_storage(
        {
            "name": "pets",
            "fields": [{"name": "name", "type": "text"}, {"name": "age", "type": "integer"}],
        }
    )
    source = tmp_path / "in.ndjson"
    source.write_text('{"name": "Rex", "age": 3}\n{"name": "Bo", "age": 1}\n')
    call_command("import_records", "pets", str(source), stdout=io.StringIO(), stderr=io.StringIO())
    exported = tmp_path / "pets.ndjson"
    call_command(
        "export_records", "pets", str(exported), stdout=io.StringIO(), stderr=io.StringIO()
    )

    out = io.StringIO()
    call_command("import_records", "pets", str(exported), stdout=out, stderr=io.StringIO())

    assert out.getvalue().startswith("2 written, 0 rejected")
    names = sorted(runtime_for("pets").model.objects.values_list("name", flat=True))
    assert names == ["Bo", "Bo", "Rex", "Rex"]


CELLS = {
    "primary_key": {"name": "code", "type": "text"},
    "fields": [
        {"name": "note", "type": "text"},
        {"name": "rank", "type": "integer", "default": 7},
        {"name": "price", "type": "decimal", "max_digits": 8, "decimal_places": 2},
        {"name": "ratio", "type": "float"},
        {"name": "ok", "type": "boolean"},
        {"name": "day", "type": "date"},
        {"name": "at", "type": "datetime"},
        {"name": "chip", "type": "uuid"},
        {"name": "data", "type": "json"},
    ],
}
AWKWARD = [
    {"code": "=k", "note": "=1+1", "rank": -5, "price": "-1.50", "ratio": -0.5, "data": -5},
    {"code": "'+k", "note": "'=x", "rank": None, "ok": False, "data": "=cmd"},
    {"code": "k3", "note": "", "rank": 0, "day": "2024-02-29", "data": ""},
    {"code": "k4", "note": None, "at": "2024-05-01T12:00:00Z", "data": "5"},
    {"code": "k5", "note": "@x", "chip": "6f1d3a8e-0d5e-4d1c-9a51-3b1f8f1b2c10", "data": 5},
    {"code": "k6", "note": "\tx", "ok": True, "data": {"a": ["=b", None, 1.5]}},
    {"code": "k7", "note": 'two\r\nlines, "quoted"', "data": [""]},
    {"code": "k8", "note": "-", "data": None},
    {"code": "k9", "note": "''-", "data": "'=x"},
]


def test_a_csv_export_imports_back_exactly(create_storage, tmp_path):
    """Nulls stay null (a default does not replace them) and empty text stays empty text;
    formulas neutralised on export come back as they were written."""
    create_storage({"name": "cells", **CELLS})
    create_storage({"name": "copies", **CELLS})
    record_bulk_create(runtime=runtime_for("cells"), items=AWKWARD)
    exported = tmp_path / "cells.csv"
    run("export_records", "cells", exported)

    output = run("import_records", "copies", exported)

    assert output.startswith("9 written, 0 rejected")
    fields = ["code", *(spec["name"] for spec in CELLS["fields"])]

    def stored(name: str) -> list[dict[str, Any]]:
        return list(runtime_for(name).model.objects.order_by("rank", "note").values(*fields))

    assert stored("copies") == stored("cells")
    assert {row["code"]: (row["note"], row["rank"]) for row in stored("copies")}["'+k"] == (
        "'=x",
        None,
    )
