from django.urls import path, re_path, register_converter

from storage import fastpath
from storage.contract_views import ContractView
from storage.views import RecordDetailView, RecordListView


class RecordKeyConverter:
    """Any non-empty text (`str` stops at '/', `path` at a newline). Create refuses keys
    that are no single segment (storage.keys); those stored before stay reachable here."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(RecordKeyConverter, "record_key")

urlpatterns = [
    path("<str:name>/", fastpath.record_list(RecordListView.as_view()), name="record-list"),
    path(
        "<str:name>/<record_key:key>/",
        fastpath.record_detail(RecordDetailView.as_view()),
        name="record-detail",
    ),
]

# A storage's contract, at the URL it has always had among the factory's routes
# (datastorage/urls.py mounts these under factory/; storage.contract_views says why here),
# spelt as the factory's router spells its storage URLs (the API description shows it).
contract_urls = [
    re_path(r"^storage/(?P<name>[^/]+)/schema/$", ContractView.as_view(), name="storage-contract"),
]
