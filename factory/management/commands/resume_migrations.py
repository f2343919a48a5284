"""Run every storage migration left pending or half-done (e.g. by a crashed worker), and
install the change feed of storages whose tables predate it."""

from django.core.management.base import BaseCommand

from factory.services.feeds import feeds_install_pending
from factory.services.migrations import migrations_resume


class Command(BaseCommand):
    help = "Resume storage migrations that were interrupted (pending or migrating)."

    def handle(self, *args, **options) -> None:
        resumed = migrations_resume()
        for storage_id, number in resumed:
            self.stdout.write(f"resumed storage {storage_id} version {number}")
        self.stdout.write(f"{len(resumed)} migration(s) resumed")
        # Tables made before the change feed get theirs (once; later starts find none).
        for name in feeds_install_pending():
            self.stdout.write(f"change feed installed for storage {name}")
