"""audit.admin: the trail can be read in the admin, never added to, changed or deleted."""

from __future__ import annotations

import pytest

from audit.tests.factories import entry

pytestmark = pytest.mark.django_db

ENTRIES = "/admin/audit/auditentry/"


def test_the_list_and_an_entry_can_be_read(admin_client):
    made = entry(request_id="r-42", changes={"before": None, "after": {"access": ["read"]}})

    listed = admin_client.get(ENTRIES)
    shown = admin_client.get(f"{ENTRIES}{made.pk}/change/")

    assert listed.status_code == 200
    assert "r-42" in listed.content.decode()
    assert shown.status_code == 200
    assert "&quot;access&quot;" in shown.content.decode()
    assert 'name="_save"' not in shown.content.decode()


def test_entries_cannot_be_added_changed_or_deleted(admin_client):
    made = entry()

    assert admin_client.get(f"{ENTRIES}add/").status_code == 403
    changed = admin_client.post(f"{ENTRIES}{made.pk}/change/", {"storage": "cats"})
    assert changed.status_code == 403
    assert admin_client.post(f"{ENTRIES}{made.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = admin_client.post(ENTRIES, {"action": "delete_selected", "_selected_action": [made.pk]})
    made.refresh_from_db()
    assert made.storage == "dogs"
    assert bulk.status_code in (200, 302)
