from django.urls import path
from rest_framework.routers import SimpleRouter

from factory.views import ReadyStatusView, StorageViewSet, VersionViewSet

router = SimpleRouter()
router.register("storage", StorageViewSet, basename="storage")
router.register(r"storage/(?P<name>[^/]+)/versions", VersionViewSet, basename="storage-version")

urlpatterns = [
    path("ready_status/<str:name>/", ReadyStatusView.as_view(), name="ready-status"),
    *router.urls,
]
