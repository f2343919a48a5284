"""docs/quickstart.md works as written: its shell blocks, run in order by bash against a live
server, all succeed, and leave the storages the walk-through says they do.

The blocks run as a reader runs them, in one shell (later steps use the variables of the
first), from a directory whose var/admin.token holds an admin token of the test database;
only the address changes, from `make run`'s to the live server's. Blocks fenced as
```sh run everywhere, blocks fenced as ```sh postgresql on PostgreSQL only. Schema changes
need the migration worker: in tests, tasks run inline when the change commits (the root
conftest's ImmediateBackend), inside the live server's request.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from access.services import token_issue
from core.testing import on_postgresql
from factory.models import StorageDefinition
from storage.runtime import clear_runtimes, runtime_for

QUICKSTART = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"
MAKE_RUN_ADDRESS = "http://127.0.0.1:8000"
_BLOCK = re.compile(r"^```sh( postgresql)?\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def shell_blocks(text: str, *, postgresql: bool) -> list[str]:
    return [code for only_pg, code in _BLOCK.findall(text) if postgresql or not only_pg.strip()]


def script(blocks: list[str], address: str) -> str:
    """One bash script: the blocks in order, each announced, stopping at the first failure."""
    parts = ["set -euo pipefail"]
    for number, block in enumerate(blocks, start=1):
        parts.append(f"echo '### block {number}' >&2")
        parts.append(block.replace(MAKE_RUN_ADDRESS, address))
    return "\n".join(parts) + "\n"


def test_the_quickstart_has_shell_blocks_for_both_databases() -> None:
    text = QUICKSTART.read_text()

    everywhere = shell_blocks(text, postgresql=False)
    on_postgres = shell_blocks(text, postgresql=True)

    assert len(everywhere) >= 10
    assert len(on_postgres) == len(everywhere) + 1
    assert everywhere[0].startswith("TOKEN=$(cat var/admin.token)\n")
    assert all(
        "curl " not in block or "curl -fsS" in block or "-w" in block for block in everywhere
    )


@pytest.mark.django_db(transaction=True)
def test_the_quickstart_runs_as_written(live_server, tmp_path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "admin.token").write_text(token_issue(name="reader", admin=True).secret)
    blocks = shell_blocks(QUICKSTART.read_text(), postgresql=on_postgresql())
    clear_runtimes()  # a storage of an earlier test may have had the same id

    run = subprocess.run(
        ["bash"],
        input=script(blocks, live_server.url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.returncode == 0, f"{run.stderr}\n--- stdout ---\n{run.stdout}"
    assert run.stderr.count("### block") == len(blocks)
    assert '{"events":5,"unmatched":1,' in run.stdout
    # The feed from its beginning: Oscar as re-delivered, Mia (adopted) as a tombstone.
    assert re.search(
        r'\{"chip":"985-1003","name":"Oscar","indoor":false,"_version":\d+,', run.stdout
    )
    assert re.search(r'\{"chip":"985-1002","_version":\d+,"_deleted":true,', run.stdout)
    # The feed after the snapshot: Kit once, as it is now, then Tom's tombstone.
    assert re.search(
        r'\{"results":\[\{"chip":"985-1009","name":"Kit","indoor":true,"_version":\d+,'
        r'"_position":"[^"]+"\},\{"chip":"985-1001","_version":1,"_deleted":true,',
        run.stdout,
    )
    # Rex (the first dog, version 1) updated after three ingested dogs took 2, 3 and 4.
    assert '"current_version":5}\n412\n' in run.stdout
    assert '{"name":"dogs","version":2,"serving_version":2,"status":"ready"' in run.stdout
    dogs = runtime_for("dogs")
    assert dogs.version == 2
    assert sorted(dogs.model.objects.values_list("name", flat=True)) == [
        "Bella",
        "Luna",
        "Max",
        "Nala",
        "Rex",
    ]
    assert dogs.model.objects.get(name="Nala").colour == "grey"
    assert dogs.model.objects.get(name="Rex").age == 4
    cats = set(runtime_for("cats").model.objects.values_list("name", flat=True))
    assert cats == {"Tom", "Oscar", *(["Zoe"] if on_postgresql() else [])}  # Mia adopted
    assert runtime_for("cats").model.objects.get(name="Oscar").indoor is False
    assert '"updated":1,"unchanged":0,"skipped":0,"stale":1,"deleted":1' in run.stdout
    logged = StorageDefinition.objects.filter(name="animal_log").exists()
    assert logged is on_postgresql()
    assert list(tmp_path.iterdir()) == [tmp_path / "var"]  # the walk-through cleans up
