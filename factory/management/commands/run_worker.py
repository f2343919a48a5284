"""The background worker: resumes interrupted migrations, then serves the task queue."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start the task worker (storage migrations), after resuming interrupted ones."

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

    def handle(self, *args, interval: float, batch: bool, **options) -> None:
        call_command("resume_migrations", stdout=self.stdout)
        worker_args = ["--interval", str(interval)]
        if batch:
            worker_args.append("--batch")
        call_command("db_worker", *worker_args)
