from django.urls import re_path
from rest_framework.routers import SimpleRouter

from storage.contract_views import ContractView
from storage.views import RecordViewSet

# record-list: /<name>/ ; record-detail: /<name>/<key>/ (storage.views.RecordViewSet).
router = SimpleRouter()
router.register(r"(?P<name>[^/]+)", RecordViewSet, basename="record")
urlpatterns = router.urls

# A storage's contract, at the URL it has always had among the factory's routes
# (datastorage/urls.py mounts these under factory/; storage.contract_views says why here),
# spelt as the factory's router spells its storage URLs (the API description shows it).
contract_urls = [
    re_path(r"^storage/(?P<name>[^/]+)/schema/$", ContractView.as_view(), name="storage-contract"),
]
