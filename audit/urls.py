from rest_framework.routers import SimpleRouter

from audit.views import AuditViewSet

router = SimpleRouter()
router.register("", AuditViewSet, basename="audit")
router.include_format_suffixes = False

urlpatterns = router.urls
