"""audit.services: entries only inside a change's transaction; pruning by retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.actors import SYSTEM
from audit.models import AuditEntry
from audit.services import AuditOutsideTransaction, audit_prune, audit_record
from audit.tests.factories import entry


@pytest.mark.django_db(transaction=True)
def test_an_entry_outside_a_transaction_is_refused():
    with pytest.raises(AuditOutsideTransaction):
        audit_record(actor=SYSTEM, action="storage.create", storage="dogs")

    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_values_are_stored_as_json_the_api_shows():
    at = timezone.now().replace(microsecond=0)

    made = audit_record(actor=SYSTEM, action="token.revoke", after={"revoked_at": at})

    made.refresh_from_db()
    assert made.changes == {"before": None, "after": {"revoked_at": at.isoformat()[:-6] + "Z"}}


@pytest.mark.django_db
def test_prune_deletes_entries_past_the_retention_oldest_first(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    now = timezone.now()
    old = [entry(at=now - timedelta(days=31 + n)).id for n in range(3)]
    kept = entry(at=now - timedelta(days=29)).id

    assert audit_prune(limit=2) == 2
    assert audit_prune(limit=2) == 1
    assert audit_prune(limit=2) == 0

    assert list(AuditEntry.objects.values_list("id", flat=True)) == [kept]
    assert len(old) == 3
