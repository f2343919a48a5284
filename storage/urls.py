from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from storage.contract_views import ContractView
from storage.job_views import JobView
from storage.views import RecordViewSet


class RecordRouter(SimpleRouter):
    """SimpleRouter, with DELETE and PATCH on the list: by filter (storage.by_filter)."""

    routes = [
        SimpleRouter.routes[0]._replace(
            mapping={
                **SimpleRouter.routes[0].mapping,
                "delete": "destroy_matching",
                "patch": "update_matching",
            }
        ),
        *SimpleRouter.routes[1:],
    ]


# record-list: /<name>/ ; record-detail: /<name>/<key>/ (storage.views.RecordViewSet).
router = RecordRouter()
router.register(r"(?P<name>[^/]+)", RecordViewSet, basename="record")
urlpatterns = router.urls

# GET /api/v1/jobs/{id}/ (datastorage/urls.py mounts these under jobs/).
job_urls = [path("<uuid:pk>/", JobView.as_view(), name="record-job")]

# A storage's contract, at the URL it has always had among the factory's routes
# (datastorage/urls.py mounts these under factory/; storage.contract_views says why here),
# spelt as the factory's router spells its storage URLs (the API description shows it).
contract_urls = [
    re_path(r"^storage/(?P<name>[^/]+)/schema/$", ContractView.as_view(), name="storage-contract"),
]
