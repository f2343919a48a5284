from django.urls import path

from storage.views import RecordDetailView, RecordListView

urlpatterns = [
    path("<str:name>/", RecordListView.as_view(), name="record-list"),
    path("<str:name>/<str:key>/", RecordDetailView.as_view(), name="record-detail"),
]
