"""Delete idempotency keys past their lifetime (24 hours); safe to run at any time."""

from django.core.management.base import BaseCommand

from core.idempotency import keys_prune

# Deleting in batches keeps each transaction short on a large table.
BATCH = 10_000


class Command(BaseCommand):
    help = "Delete idempotency keys older than 24 hours (they no longer guard anything)."

    def handle(self, *args, **options) -> None:
        total = 0
        while deleted := keys_prune(limit=BATCH):
            total += deleted
        self.stdout.write(f"{total} idempotency key(s) pruned")
