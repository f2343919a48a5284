"""manage.py follow_storage: a snapshot, then the feed, resumed from its saved cursor, over
real HTTP (a live server)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from access.services import token_issue

pytestmark = pytest.mark.django_db(transaction=True)

DOGS = "/api/v1/storage/dogs/"


def follow(live_server, out, token: str) -> str:
    printed = io.StringIO()
    call_command(
        "follow_storage", "dogs", out=out, url=live_server.url, token=token, once=True,
        stdout=printed,
    )  # fmt: skip
    return printed.getvalue()


def copy_of(out) -> dict[int, dict]:
    return {record["id"]: record for record in map(json.loads, out.read_text().splitlines())}


def test_the_copy_follows_the_storage_and_resumes_from_its_cursor(
    live_server, api_client, add_dog, tmp_path
):
    token = token_issue(name="follower", grants=[{"storage": "dogs", "access": ["read"]}])
    out = tmp_path / "dogs.ndjson"
    rex, ida = add_dog(name="Rex"), add_dog(name="Ida")

    first = follow(live_server, out, token.secret)
    saved = (tmp_path / "dogs.ndjson.cursor").read_text()
    patched = api_client.patch(
        f"{DOGS}{rex['id']}/", {"age": 9}, format="json", HTTP_IF_MATCH=f'"{rex["_version"]}"'
    ).json()
    assert api_client.delete(f"{DOGS}{ida['id']}/").status_code == 204
    max_ = add_dog(name="Max")
    second = follow(live_server, out, token.secret)

    assert first.startswith("2 records")
    assert saved != (tmp_path / "dogs.ndjson.cursor").read_text()
    assert copy_of(out) == {rex["id"]: patched, max_["id"]: max_}
    assert second.startswith("2 records")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dogs.ndjson", "dogs.ndjson.cursor"]
