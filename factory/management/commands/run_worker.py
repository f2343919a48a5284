"""The background worker: resumes interrupted migrations, then serves the task queue, and
outlives database outages (factory/worker.py)."""

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.crypto import get_random_string
from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME

from factory.worker import (
    Heartbeat,
    ResilientWorker,
    Retention,
    mute_pool_warnings,
    resume_registered,
)


class Command(BaseCommand):
    help = (
        "Start the task worker (storage migrations, record jobs), after resuming interrupted ones."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=0.5,
            help="Seconds between polls of the queue when it is empty.",
        )
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Exit once the queue is empty (tests, one-off runs).",
        )

    def resume(self) -> None:
        """Migrations left pending or migrating, then what the other apps left (jobs)."""
        call_command("resume_migrations", stdout=self.stdout)
        resume_registered()

    def handle(self, *args, interval: float, batch: bool, **options) -> None:
        mute_pool_warnings()
        worker_id = get_random_string(32)
        worker = ResilientWorker(
            resume=self.resume,
            queue_names=[DEFAULT_TASK_QUEUE_NAME],
            interval=interval,
            batch=batch,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=True,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        heartbeat = Heartbeat(worker_id)
        heartbeat.first_beat()
        heartbeat.start()
        # Retention is periodic upkeep: a one-off --batch run serves the queue only.
        retention = None if batch else Retention()
        if retention is not None:
            retention.start()
        worker.configure_signals()
        try:
            worker.run()
        finally:
            heartbeat.stopping.set()
            heartbeat.join(timeout=5)  # a beat in progress ends before the command does
            if retention is not None:
                retention.stopping.set()  # a batch cut off by the exit rolls back whole
