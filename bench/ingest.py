"""`make bench-ingest`: a stream of big animal events routed into a `dogs` and a `cats` storage.

Runs against the PostgreSQL in DATABASE_URL (`make bench-ingest` starts a throwaway
cluster): migrates, issues an admin token, serves the API as production does (granian
through `python -m datastorage.serve`) and declares the issue's two storages, each with a
`source` block. It then generates BENCH_EVENTS synthetic animal events (a fixed seed: dogs,
cats and other species, some deleted) of about BENCH_FIELDS fields each, written to NDJSON
files of BENCH_REQUEST_EVENTS events beforehand (generation is not timed), and streams those
files to POST /api/v1/ingest/ as application/x-ndjson, BENCH_PARALLEL requests at a time.

Prints events/s, rows/s (records written into dogs and cats), MB/s of NDJSON, and the peak
memory (VmHWM) of every granian process, checks that each storage holds exactly the events
it should, and writes every figure to bench/results/<UTC timestamp>-ingest.json.

    BENCH_EVENTS (20000)  BENCH_FIELDS (1000)  BENCH_REQUEST_EVENTS (2000)
    BENCH_PARALLEL (2)  BENCH_SEED (8)  WEB_CONCURRENCY (the server's default, 2)
    BENCH_EVENT_BYTES (0): when set, each event also carries `animal.notes`, text that
    brings its line to about this size, and both storages keep it in a `notes` field: the
    matched data is then as big as the body (issue 15's 120 MiB of 1 MiB events:
    BENCH_EVENTS=120 BENCH_REQUEST_EVENTS=120 BENCH_FIELDS=20 BENCH_EVENT_BYTES=1000000).
"""

from __future__ import annotations

import concurrent.futures
import datetime
import http.client
import os
import random
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import harness
import orjson
from harness import Client, Processes, step

INGEST = "/api/v1/ingest/"
SPECIES = ("dog", "cat", "cow", "horse", "parrot", "rabbit")
WEIGHTS = (40, 35, 10, 5, 5, 5)
BREEDS = {
    "dog": ("beagle", "labrador", "poodle", "collie", "husky", "pug", "terrier", None),
    "cat": ("siamese", "persian", "maine coon", "sphynx", "bengal", None),
}
DELETED_SHARE = 0.05
SEND_BLOCK = 1 << 20


def storage(species: str, notes: bool = False) -> dict[str, Any]:
    """The issue's example: a narrow storage fed by the events of one species (with
    `notes`: a wide one, that keeps each event's big text)."""
    definition = {
        "name": f"{species}s",
        "description": f"{species.capitalize()}s out of the animal registry feed",
        "fields": [
            {"name": "name", "type": "text", "max_length": 120, "required": True},
            {"name": "age", "type": "integer", "min": 0, "max": 40, "default": 0},
            {"name": "breed", "type": "text"},
            {"name": "registered_at", "type": "datetime", "required": True},
        ],
        "indexes": [{"fields": ["breed"]}],
        "source": {
            "match": {
                "all": [
                    {"path": "/animal/species", "equals": species},
                    {"path": "/animal/deleted", "exists": False},
                ]
            },
            "map": {
                "name": "/animal/name",
                "age": "/animal/age_years",
                "breed": "/animal/details/breed",
                "registered_at": "/meta/created",
            },
        },
    }
    if notes:
        definition["fields"].append({"name": "notes", "type": "text"})
        definition["source"]["map"]["notes"] = "/animal/notes"
    return definition


DECLARED = {"id", "name", "age", "breed", "registered_at", "_version", "_created_at", "_updated_at"}


@dataclass(frozen=True)
class Config:
    events: int
    fields: int
    per_request: int
    parallel: int
    seed: int
    workers: int
    event_bytes: int

    @classmethod
    def from_env(cls) -> Config:
        config = cls(
            events=harness.env_int("BENCH_EVENTS", 20_000),
            fields=harness.env_int("BENCH_FIELDS", 1000),
            per_request=harness.env_int("BENCH_REQUEST_EVENTS", 2000),
            parallel=harness.env_int("BENCH_PARALLEL", 2),
            seed=harness.env_int("BENCH_SEED", 8),
            workers=harness.web_concurrency(),
            event_bytes=harness.env_int("BENCH_EVENT_BYTES", 0),
        )
        if min(config.events, config.fields, config.per_request, config.parallel) < 1:
            sys.exit("BENCH_EVENTS, BENCH_FIELDS, BENCH_REQUEST_EVENTS and BENCH_PARALLEL: >= 1")
        return config


# --- the events -------------------------------------------------------------------------------


@dataclass
class Generated:
    files: list[Path] = field(default_factory=list)
    bytes: int = 0
    expected: dict[str, int] = field(default_factory=lambda: {"dogs": 0, "cats": 0})
    unmatched: int = 0
    species: dict[str, int] = field(default_factory=dict)


def animal_event(
    rng: random.Random, number: int, filler: list[str], size: int = 0
) -> dict[str, Any]:
    """One producer event: a nested `animal`, a `meta` block and a lot of unrelated fields."""
    species = rng.choices(SPECIES, WEIGHTS)[0]
    animal: dict[str, Any] = {
        "species": species,
        "name": f"{species}-{number:06d}",
        "age_years": rng.randrange(0, 20),
        "details": {
            "breed": rng.choice(BREEDS.get(species, (None,))),
            "colour": rng.choice(("black", "brown", "white", "grey", "tan")),
            "weight_kg": round(rng.uniform(0.5, 600), 2),
        },
    }
    if rng.random() < DELETED_SHARE:
        animal["deleted"] = True
    created = harness.EPOCH + datetime.timedelta(seconds=rng.randrange(50_000_000))
    event: dict[str, Any] = {
        "kind": "animal.registered",
        "meta": {"created": created.isoformat(), "seq": number, "producer": "registry"},
        "animal": animal,
    }
    for position, key in enumerate(filler):
        kind = (number + position) % 5
        if kind == 0:
            event[key] = number * 31 + position
        elif kind == 1:
            event[key] = (number % 997) / 7 + position
        elif kind == 2:
            event[key] = f"v{(number * position) % 100_000:05d}"
        elif kind == 3:
            event[key] = (number + position) % 2 == 0
        else:
            event[key] = None
    if size:
        # Text up to `size` bytes of JSON line in all (ASCII: a character is a byte).
        padding = size - len(orjson.dumps(event)) - len(', "notes": ""')
        animal["notes"] = f"{number:08d}" * (max(padding, 8) // 8)
    return event


def generate(config: Config, directory: Path) -> Generated:
    """Write the events as NDJSON files of `per_request` events (one file per request)."""
    rng = random.Random(config.seed)
    filler = [f"attr_{i:04d}" for i in range(config.fields - 3)]  # + kind, meta, animal
    out = Generated()
    for start in range(0, config.events, config.per_request):
        path = directory / f"events-{start:07d}.ndjson"
        with path.open("wb") as handle:
            for number in range(start, min(start + config.per_request, config.events)):
                event = animal_event(rng, number, filler, config.event_bytes)
                _count(out, event["animal"])
                handle.write(orjson.dumps(event) + b"\n")
        out.files.append(path)
        out.bytes += path.stat().st_size
    return out


def _count(out: Generated, animal: dict[str, Any]) -> None:
    species = animal["species"]
    out.species[species] = out.species.get(species, 0) + 1
    target = f"{species}s"
    if target in out.expected and "deleted" not in animal:
        out.expected[target] += 1
    else:
        out.unmatched += 1


# --- sending ----------------------------------------------------------------------------------


def post_file(port: int, token: str, path: Path) -> dict[str, Any]:
    """Stream one NDJSON file to the ingest endpoint (a Content-Length, read in 1 MiB blocks)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900, blocksize=SEND_BLOCK)
    try:
        with path.open("rb") as body:
            conn.request(
                "POST",
                INGEST,
                body=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/x-ndjson",
                    "Content-Length": str(path.stat().st_size),
                },
            )
            response = conn.getresponse()
            payload = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"ingest {path.name}: {response.status}: {payload[:600]!r}")
    return orjson.loads(payload)


def ingest_all(port: int, token: str, config: Config, files: list[Path]) -> dict[str, Any]:
    totals: dict[str, Any] = {"events": 0, "unmatched": 0, "written": {}, "rejected": {}}
    with harness.timed() as took:
        pool = concurrent.futures.ThreadPoolExecutor(config.parallel)
        with pool:
            futures = [pool.submit(post_file, port, token, path) for path in files]
            for future in concurrent.futures.as_completed(futures):
                _add(totals, future.result())
    totals["seconds"] = round(took[0], 3)
    return totals


def _add(totals: dict[str, Any], report: dict[str, Any]) -> None:
    totals["events"] += report["events"]
    totals["unmatched"] += report["unmatched"]
    for name, result in report["storages"].items():
        totals["written"][name] = totals["written"].get(name, 0) + result["written"]
        totals["rejected"][name] = totals["rejected"].get(name, 0) + len(result["rejected"])


# --- the server's memory ----------------------------------------------------------------------


def server_processes(master: int) -> dict[int, str]:
    """granian's main process and its workers: pid -> role."""
    found = {master: "master"}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (after the parenthesised command, which may hold spaces) is the parent.
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            found[int(entry.name)] = "worker"
    return found


def memory(master: int) -> dict[str, Any]:
    """VmHWM (peak resident set) and VmRSS of each granian process, in MiB."""
    processes = []
    for pid, role in sorted(server_processes(master).items()):
        status = _status(pid)
        if status:
            processes.append({"pid": pid, "role": role, **status})
    workers = [p for p in processes if p["role"] == "worker"]
    return {
        "processes": processes,
        "peak_worker_mib": max((p["vm_hwm_mib"] for p in workers), default=0.0),
        "peak_sum_mib": round(sum(p["vm_hwm_mib"] for p in processes), 1),
    }


def _status(pid: int) -> dict[str, float]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    values = {}
    for line in lines:
        key, _, rest = line.partition(":")
        if key in _STATUS_KEYS:
            values[_STATUS_KEYS[key]] = round(int(rest.split()[0]) / 1024, 1)  # kB -> MiB
    return values


_STATUS_KEYS = {"VmHWM": "vm_hwm_mib", "VmRSS": "vm_rss_mib"}


# --- checks -----------------------------------------------------------------------------------


def verify(
    client: Client, generated: Generated, sent: dict[str, Any], notes: bool
) -> dict[str, bool]:
    declared = DECLARED | {"notes"} if notes else DECLARED
    checks = {
        "every event counted": sent["events"] == sum(generated.species.values()),
        "unmatched as generated": sent["unmatched"] == generated.unmatched,
        "nothing rejected": not any(sent["rejected"].values()),
    }
    for name, expected in generated.expected.items():
        page = harness.expect(
            client.request("GET", f"/api/v1/storage/{name}/?count=exact&limit=5"), 200, name
        )
        checks[f"{name}: written as generated"] = sent["written"].get(name) == expected
        checks[f"{name}: the table holds them"] = page["count"] == expected
        checks[f"{name}: only declared attributes"] = all(
            set(record) == declared and record["name"].startswith(name[:-1] + "-")
            for record in page["results"]
        )
    return checks


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    harness.stop_on_sigterm()
    harness.database_url()
    config = Config.from_env()
    stamp = harness.utc_stamp()
    env = {**os.environ, "WEB_CONCURRENCY": str(config.workers)}
    report: dict[str, Any] = {
        "started_at": stamp,
        "machine": harness.machine(),
        "settings": {
            **asdict(config),
            **harness.server_settings(env),
        },
    }
    scratch = Path(tempfile.mkdtemp(prefix="datastorage-ingest-"))
    try:
        with Processes(harness.RESULTS / f"{stamp}-ingest") as processes:
            report.update(_measure(processes, env, config, scratch))
    except KeyboardInterrupt:
        print("\ninterrupted; every process the benchmark started was stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    path = harness.RESULTS / f"{stamp}-ingest.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print_report(report, path)
    return 0 if all(report["checks"].values()) else 1


def _measure(processes: Processes, env: dict, config: Config, scratch: Path) -> dict[str, Any]:
    step("migrate and issue an admin token")
    token = harness.prepare_database(env)
    step(f"start granian ({config.workers} workers)")
    port = processes.server("api", env)
    master = next(proc.pid for name, proc in processes.running if name == "api")
    client = Client(port, token)
    for species in ("dog", "cat"):
        definition = storage(species, notes=config.event_bytes > 0)
        harness.expect(
            client.request("POST", "/api/v1/factory/storage/", definition), 201, "create storage"
        )
    step(f"generate {config.events:,} events of {config.fields:,} fields (seed {config.seed})")
    generated = generate(config, scratch)
    megabytes = generated.bytes / 1024 / 1024
    step(f"{megabytes:,.0f} MiB of NDJSON in {len(generated.files)} files; {generated.species}")
    before = memory(master)
    log = harness.RequestLog(processes.log_path("api"))
    log.skip()
    step(f"ingest: {len(generated.files)} NDJSON requests, {config.parallel} at a time")
    sent = ingest_all(port, token, config, generated.files)
    after = memory(master)
    seconds = sent["seconds"]
    rows = sum(sent["written"].values())
    return {
        "generated": {
            "events": config.events,
            "bytes": generated.bytes,
            "mean_event_bytes": round(generated.bytes / config.events),
            "species": generated.species,
            "expected_rows": generated.expected,
            "unmatched": generated.unmatched,
        },
        "ingest": {
            **sent,
            "events_per_s": round(config.events / seconds, 1),
            "rows_per_s": round(rows / seconds, 1),
            "mib_per_s": round(megabytes / seconds, 2),
        },
        "memory_before": before,
        "memory": after,
        "server": log.read(),
        "checks": verify(client, generated, sent, notes=config.event_bytes > 0),
    }


def print_report(report: dict[str, Any], path: Path) -> None:
    s, g, i, m = report["settings"], report["generated"], report["ingest"], report["memory"]
    rows = sum(i["written"].values())
    print()
    print(
        f"datastorage ingest {report['started_at']}: granian {s['workers']} workers x "
        f"{s['blocking_threads']} threads; {report['machine']['nproc']} CPUs"
    )
    print(
        f"events: {g['events']:,} of ~{s['fields']:,} fields (mean {g['mean_event_bytes']:,} "
        f"bytes; {g['bytes'] / 1024 / 1024:,.0f} MiB of NDJSON), {len(i['written'])} storages, "
        f"{s['per_request']:,} events per request, {s['parallel']} requests in parallel"
    )
    print(
        f"ingest: {i['seconds']:.1f} s; {i['events_per_s']:,.0f} events/s; {rows:,} rows "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(i['written'].items()))}) = "
        f"{i['rows_per_s']:,.0f} rows/s; {i['mib_per_s']:.1f} MiB/s; unmatched {i['unmatched']:,}"
    )
    before = report["memory_before"]["peak_worker_mib"]
    print(
        f"server memory (VmHWM): peak worker {m['peak_worker_mib']:,.1f} MiB (before the "
        f"ingest: {before:,.1f} MiB); all {len(m['processes'])} granian processes together "
        f"{m['peak_sum_mib']:,.1f} MiB"
    )
    for name, ok in report["checks"].items():
        print(f"check: {name}: {'ok' if ok else 'FAILED'}")
    if report["server"]["errors"]:
        print(f"server errors logged: {report['server']['errors']}")
    print(f"figures: {path}; server logs: {harness.RESULTS / report['started_at']}-ingest/")


if __name__ == "__main__":
    sys.exit(main())
