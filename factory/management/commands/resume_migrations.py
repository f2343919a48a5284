"""Run every storage migration left pending or half-done (e.g. by a crashed worker)."""

from django.core.management.base import BaseCommand

from factory.services.migrations import migrations_resume


class Command(BaseCommand):
    help = "Resume storage migrations that were interrupted (pending or migrating)."

    def handle(self, *args, **options) -> None:
        resumed = migrations_resume()
        for storage_id, number in resumed:
            self.stdout.write(f"resumed storage {storage_id} version {number}")
        self.stdout.write(f"{len(resumed)} migration(s) resumed")
