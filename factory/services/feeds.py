"""The change feed's upkeep, in the worker: feeds installed on tables made before it, and
tombstones pruned after FEED_TOMBSTONE_DAYS (factory.schema.feed says what a feed is)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Now

from factory.models import FeedStatus, FeedTombstone, FeedWaiter, StorageDefinition
from factory.schema import ddl, feed
from factory.schema.builder import build_model
from factory.services.migrations import no_statement_timeout, storage_lock, with_lock_retries

logger = logging.getLogger("datastorage.feeds")

# Tombstones deleted per transaction: short ones, however many expired at once.
PRUNE_BATCH = 1000


def feeds_install_pending() -> list[str]:
    """Install the feed of every storage whose table predates it; returns their names."""
    pending = StorageDefinition.objects.filter(feed_status=FeedStatus.PENDING).exclude(
        serving_version=None
    )
    installed = []
    for storage in pending.order_by("id"):
        if feed_install(storage):
            installed.append(storage.name)
    return installed


def feed_install(storage: StorageDefinition) -> bool:
    """Give an existing table its feed, online: the column and triggers by statements that
    change metadata only (each waiting at most ddl.LOCK_TIMEOUT for its lock, retried),
    then the position index built CONCURRENTLY, writers going on. Records already there
    take positions by their `_version` in transaction 0, before anything written since.
    Idempotent; False when a migration of the storage holds it (the next resume retries)."""
    with storage_lock(storage.id) as acquired:
        if not acquired:
            return False
        version = storage.versions.get(number=storage.serving_version)
        model = build_model(
            storage_id=storage.id, version=version.number, definition=version.definition
        )
        table, key_column = model._meta.db_table, model._meta.pk.column

        def columns_and_triggers() -> None:
            with ddl.short_lock_transaction() as editor:
                feed.install(editor, table, key_column, storage.id)

        with no_statement_timeout():
            with_lock_retries(columns_and_triggers)
            ddl.build_feed_index(model)
        StorageDefinition.objects.filter(pk=storage.pk).update(feed_status=FeedStatus.READY)
    logger.info("change feed installed for storage %s", storage.name)
    return True


def tombstones_prune(*, limit: int = PRUNE_BATCH) -> int:
    """Delete up to `limit` tombstones older than FEED_TOMBSTONE_DAYS, and move each
    storage's pruning horizon past them (a cursor below it answers 410). Returns how many
    went."""
    cutoff = Now() - timedelta(days=settings.FEED_TOMBSTONE_DAYS)
    with transaction.atomic():
        expired = list(
            FeedTombstone.objects.filter(deleted_at__lt=cutoff)
            .order_by("deleted_at")
            .values_list("pk", "storage_id", "txid", "seq")[:limit]
        )
        horizons: dict[int, tuple[int, int]] = {}
        for _, storage_id, txid, seq in expired:
            horizons[storage_id] = max(horizons.get(storage_id, (0, 0)), (txid, seq))
        for storage_id, (txid, seq) in horizons.items():
            _raise_horizon(storage_id, txid, seq)
        FeedTombstone.objects.filter(pk__in=[pk for pk, *_ in expired]).delete()
    return len(expired)


def _raise_horizon(storage_id: int, txid: int, seq: int) -> None:
    storages = StorageDefinition.objects.filter(pk=storage_id)
    storages.filter(feed_pruned_txid__lt=txid).update(feed_pruned_txid=txid, feed_pruned_seq=seq)
    storages.filter(feed_pruned_txid=txid, feed_pruned_seq__lt=seq).update(feed_pruned_seq=seq)


def waiters_prune() -> int:
    """Forget storages nobody waits on any more (their writes stopped notifying already)."""
    deleted, _ = FeedWaiter.objects.filter(until__lt=Now()).delete()
    return deleted
