"""Top-level routes. Every API path lives under /api/v1/."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from access.metrics import MetricsView
from access.permissions import StorageAccess
from core.views import HealthView, LivenessView
from factory.urls import factory_urls
from storage.docs_views import RedocView, SwaggerView
from storage.urls import contract_urls, job_urls

api_v1 = [
    path("health/", HealthView.as_view(), name="health"),
    path("health/live/", LivenessView.as_view(), name="health-live"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("auth/", include("access.urls")),
    path("audit/", include("audit.urls")),
    # The factory's views, below the access app, get its grant check from here.
    path("factory/", include(factory_urls(permission=StorageAccess))),
    path("factory/", include(contract_urls)),
    path("storage/", include("storage.urls")),
    path("jobs/", include(job_urls)),
    path("ingest/", include("ingest.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    # Swagger UI and ReDoc, with the global document and each storage's contract.
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
]

handler400 = "core.views.bad_request"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
