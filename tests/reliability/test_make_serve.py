"""`make serve` keeps the migration worker running: killed, it is started again; stopped,
make takes the server and the worker down with it.

The worker outliving database outages is the main fix (test_worker_outage.py); this is
the supervisor behind it, for a worker killed by anything else (out of memory, a bug).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from factory.selectors import worker_status
from tests.reliability.support import call, free_port, listening_inodes, wait_for

pytestmark = [pytest.mark.postgresql, pytest.mark.reliability]


def worker_pids(session: int) -> set[int]:
    """The `manage.py run_worker` processes of session `session` (from /proc)."""
    pids = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[3]) == session and b"run_worker" in command:
            pids.add(int(proc.name))
    return pids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def serving(port: int) -> bool:
    try:
        return call(port, "GET", "/api/v1/health/").status == 200
    except OSError:
        return False


def test_make_serve_starts_a_killed_worker_again(processes):
    port = free_port()
    make = processes.spawn(
        "make",
        ["make", "--no-print-directory", "serve"],
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        LOG_LEVEL="WARNING",
    )
    wait_for(lambda: serving(port), "the server to answer")
    (first,) = wait_for(lambda: worker_pids(make.pid), "the worker to start")
    wait_for(lambda: worker_status().state == "ok", "the worker's heartbeat")

    os.kill(first, signal.SIGKILL)

    second = wait_for(lambda: worker_pids(make.pid) - {first}, "a new worker")
    assert len(second) == 1
    assert "the worker exited (137); starting it again" in processes.log("make")
    assert make.poll() is None

    # To the whole process group, as systemd does (Ctrl-C does the same with SIGINT): make,
    # and its supervisor, which gives the server and the worker one SIGTERM each however
    # many signals it gets itself (two here: the group's and make's own).
    os.killpg(make.pid, signal.SIGTERM)
    try:
        make.wait(timeout=60)
    except subprocess.TimeoutExpired:  # say what is still running, and what make logged
        table = subprocess.run(  # -ww: whole command lines, whatever COLUMNS says
            ["ps", "-ww", "-eo", "pid,ppid,pgid,sid,stat,etime,wchan:16,args"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()
        words = ("make", "serve", "run_worker", "granian")
        still = "\n".join(line for line in table if any(w in line for w in words))
        pytest.fail(f"make still running 60 s after SIGTERM:\n{still}\n{processes.log('make')}")
    # Stopped by their SIGTERM, not killed at the supervisor's deadline.
    assert "did not stop" not in processes.log("make"), processes.log("make")
    wait_for(lambda: not any(alive(pid) for pid in second), "the worker to stop")
    wait_for(lambda: not serving(port), "the server to stop")
    wait_for(lambda: not listening_inodes(port), "nothing to listen on the server's port")
