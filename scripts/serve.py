"""`make serve`: the production server and the migration worker in the foreground; the
worker is started again whenever it exits, and one stop request stops both.

    .venv/bin/python scripts/serve.py       (make serve; make run runs it after its set-up)

The server is `python -m datastorage.serve` (granian), in a session of its own; the worker
is `python manage.py run_worker`, in a process group of its own. Ctrl-C (SIGINT to the
terminal's foreground process group) and a SIGTERM to make's process group therefore
reach them only through this program, which gives each exactly one SIGTERM:

- granian's main process must never get a second SIGTERM. granian 2.8.7 sets a
  threading.Event in its Python signal handler; a second SIGTERM that arrives while the
  first handler holds the Event's lock runs the handler again in the same thread, which
  then waits forever for that lock: the main process never stops its workers, they keep
  serving, and GRANIAN_WORKERS_KILL_TIMEOUT never fires (the main process enforces it).
  The bash recipe this replaces sent two or three (its TERM trap, the same trap again on
  the SIGTERM make forwards to its recipe, its EXIT trap), and make, waiting for the shell
  that waited for granian, never exited.
- granian's workers must not get the terminal's SIGINT beside their main process's
  SIGTERM: they would not stop (docs/operations.md, "Known differences from gunicorn").
- the worker lets the task it runs finish after a first signal, and exits at once after a
  second one.

This program blocks SIGTERM, SIGINT, SIGHUP and SIGCHLD and takes them with
sigtimedwait(), so no signal handler ever interrupts it. The first stop signal, whichever
it is and however many copies arrive (the group's, the one make forwards, make run's
sub-make's), sends one SIGTERM to each child; later ones change nothing. A child still
running STOP_MARGIN s after granian's own kill timeout is killed with its process group,
and stderr says so. Once both are gone this program dies by the signal it got, as any
recipe would. If the server exits by itself, the worker is stopped and this program exits
with the server's status.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
TAKEN = STOP_SIGNALS | {signal.SIGCHLD}
RESTART_DELAY = 2  # seconds between the worker's exit and its next start
STOP_MARGIN = 10  # seconds, past granian's kill timeout, before a child is killed


def say(message: str) -> None:
    print(f"make serve: {message}", file=sys.stderr, flush=True)


def exit_status(wait_status: int) -> int:
    """A child's status as a shell reports it: 128 + N when signal N killed it."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def stop_grace() -> float:
    """Seconds the children get after their SIGTERM: granian's kill timeout, plus a margin."""
    sys.path.insert(0, str(ROOT))
    from datastorage.serve import DEFAULTS

    name = "GRANIAN_WORKERS_KILL_TIMEOUT"
    try:
        timeout = float(os.environ.get(name) or DEFAULTS[name])
    except ValueError:
        timeout = float(DEFAULTS[name])
    return timeout + STOP_MARGIN


def spawn(argv: list[str], **new_group: bool) -> int:
    """Start `argv` (stdin on /dev/null, as a shell's `&` does) with no signal blocked and
    SIGPIPE and SIGXFSZ back to their defaults, as subprocess does."""
    return os.posix_spawn(
        argv[0],
        argv,
        os.environ,
        file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)],
        setsigmask=(),
        setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        **new_group,
    )


class Supervisor:
    def __init__(self) -> None:
        self.grace = stop_grace()
        self.server: int | None = None
        self.worker: int | None = None
        self.restart_at: float | None = None  # when to start the worker again
        self.kill_at: float | None = None  # when to kill what did not stop
        self.stopping = False
        self.stop_signal: int | None = None
        self.status = 0

    def run(self) -> None:
        self.server = spawn([sys.executable, "-m", "datastorage.serve"], setsid=True)
        self.start_worker()
        while self.server is not None or self.worker is not None:
            timeout = self.timeout()
            if timeout is None:
                info = signal.sigwaitinfo(TAKEN)
            else:
                info = signal.sigtimedwait(TAKEN, timeout)
            if info is not None and info.si_signo in STOP_SIGNALS:
                self.stop(info.si_signo)
            self.reap()
            self.on_time()

    def start_worker(self) -> None:
        self.worker = spawn([sys.executable, "manage.py", "run_worker"], setpgroup=0)

    def timeout(self) -> float | None:
        """Seconds until the next thing to do on time (a restart, a kill), or None."""
        due = [at for at in (self.restart_at, self.kill_at) if at is not None]
        return max(min(due) - time.monotonic(), 0) if due else None

    def stop(self, signum: int | None) -> None:
        """One SIGTERM to each child, once: repeated stop signals change nothing."""
        if self.stopping:
            return
        self.stopping = True
        self.stop_signal = signum
        self.restart_at = None
        self.kill_at = time.monotonic() + self.grace
        for pid in (self.server, self.worker):
            if pid is not None:  # not reaped yet: the pid is still this child's
                os.kill(pid, signal.SIGTERM)

    def reap(self) -> None:
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            status = exit_status(wait_status)
            if pid == self.server:
                self.server = None
                if not self.stopping:
                    say(f"the server exited ({status}); stopping the worker")
                    self.status = status or 1
                    self.stop(None)
            elif pid == self.worker:
                self.worker = None
                if not self.stopping:
                    say(f"the worker exited ({status}); starting it again in {RESTART_DELAY} s")
                    self.restart_at = time.monotonic() + RESTART_DELAY

    def on_time(self) -> None:
        now = time.monotonic()
        if self.restart_at is not None and now >= self.restart_at:
            self.restart_at = None
            self.start_worker()
        if self.kill_at is not None and now >= self.kill_at:
            self.kill_at = None
            for name, pid in (("server", self.server), ("worker", self.worker)):
                if pid is not None:
                    say(f"the {name} did not stop {self.grace:g} s after SIGTERM; killing it")
                    os.killpg(pid, signal.SIGKILL)  # each child leads its process group

    def abandon(self) -> None:
        """On an error of this program: one SIGTERM to each child not signalled yet."""
        if not self.stopping:
            for pid in (self.server, self.worker):
                if pid is not None:
                    os.kill(pid, signal.SIGTERM)


def main() -> None:
    os.chdir(ROOT)
    signal.pthread_sigmask(signal.SIG_BLOCK, TAKEN)
    supervisor = Supervisor()
    try:
        supervisor.run()
    except BaseException:
        supervisor.abandon()
        raise
    if supervisor.stop_signal is not None:  # die by it, so that make reports it
        signal.signal(supervisor.stop_signal, signal.SIG_DFL)
        os.kill(os.getpid(), supervisor.stop_signal)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {supervisor.stop_signal})
        sys.exit(128 + supervisor.stop_signal)
    sys.exit(supervisor.status)


if __name__ == "__main__":
    main()
