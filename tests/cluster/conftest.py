"""The cluster's tests read the change feed right after they write: every read proves its
own bound (storage.sql.changes.PROOF_SECONDS); reusing a proof has a test of its own."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _every_feed_read_proves_its_bound(monkeypatch):
    from storage.sql import changes

    monkeypatch.setattr(changes, "PROOF_SECONDS", 0)
