"""HTTP for a storage's own OpenAPI contract (storage.contract builds the document).

Its URL, /api/v1/factory/storage/{name}/schema/, sits among the factory's routes (clients
know it there); the records app serves it because the contract describes the records API,
which the factory app, below this one, does not know (storage/urls.py: contract_urls).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import StorageAccess
from core.conditional import etag
from factory import selectors
from storage.contract import storage_contract

_CONTRACT = (
    "An OpenAPI 3.0 document of this storage's records API, generated from the definition "
    "it serves: every field with its type, constraints and nullability, and every filter "
    "it accepts. Feed it to a client generator; it changes with each version (`ETag`)."
)


class ContractView(APIView):
    """The OpenAPI contract of this storage's records API (its serving version)."""

    permission_classes = [StorageAccess]
    # Any grant on the storage may read its contract, as its definition.
    storage_access = {"GET": "any", "HEAD": "any", "OPTIONS": "any"}

    def get_extra_action_url_map(self) -> dict[str, Any]:
        """The browsable API's link to this page, as when it was an action of the factory's
        storage viewset (factory.views.StorageViewSet links here the same way)."""
        return {"Contract": self.request.build_absolute_uri()}

    @extend_schema(
        summary="The storage's own OpenAPI contract (exact fields and filters)",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description=_CONTRACT)},
    )
    def get(self, request: Request, name: str) -> Response:
        """The OpenAPI contract of this storage's records API (its serving version)."""
        storage = selectors.storage_get(name=name)
        version = selectors.version_get(
            storage=storage, number=storage.serving_version or storage.version
        )
        document = storage_contract(
            definition=version.definition,
            version=version.number,
            base_path=reverse("record-list", kwargs={"name": "x"})[: -len("x/")],
        )
        return Response(document, headers={"ETag": etag(version.number)})
