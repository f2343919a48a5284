from django.urls import path

from ingest.views import IngestView

urlpatterns = [path("", IngestView.as_view(), name="ingest")]
