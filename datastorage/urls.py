"""Top-level routes. Every API path lives under /api/v1/."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from core.views import HealthView, LivenessView
from storage.urls import contract_urls

api_v1 = [
    path("health/", HealthView.as_view(), name="health"),
    path("health/live/", LivenessView.as_view(), name="health-live"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("auth/", include("access.urls")),
    path("factory/", include("factory.urls")),
    path("factory/", include(contract_urls)),
    path("storage/", include("storage.urls")),
    path("ingest/", include("ingest.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
]

handler400 = "core.views.bad_request"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
