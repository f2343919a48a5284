from django.urls import path, register_converter

from storage import fastpath
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
