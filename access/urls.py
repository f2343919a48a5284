from rest_framework.routers import SimpleRouter

from access.views import TokenViewSet

router = SimpleRouter()
router.register("tokens", TokenViewSet, basename="token")
router.include_format_suffixes = False

urlpatterns = router.urls
