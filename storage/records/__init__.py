"""The records API, decided once: every records answer, success or refusal, comes from here.

A request arrives by one of two thin adapters, which describe it (storage.records.request)
and render what comes back:

- the DRF viewset (storage.views.RecordViewSet), for every request;
- the WSGI front door (storage.frontdoor), for the plain ones it may take (its gate), in
  front of Django's request cycle.

The operations (storage.records.operations) check the grant, resolve the storage version,
read the body only then, call one service or selector, and return an Answer; a refusal is
a domain error, which `refusal` renders with the API's one exception handler. Neither
adapter decides a status, a header or a body of its own.
"""

from storage.records.operations import (
    create,
    delete,
    delete_matching,
    read_changes,
    read_one,
    read_page,
    refusal,
    update,
    update_matching,
    updated,
)
from storage.records.request import Answer, KnownRecord, RecordRequest

__all__ = [
    "Answer",
    "KnownRecord",
    "RecordRequest",
    "create",
    "delete",
    "delete_matching",
    "read_changes",
    "read_one",
    "read_page",
    "refusal",
    "update",
    "update_matching",
    "updated",
]
