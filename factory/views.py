"""HTTP for the factory: each view parses, calls one service or selector, and answers."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import StorageAccess
from core.conditional import etag
from factory import selectors
from factory.serializers import (
    ChangeVerdictSerializer,
    DefinitionInputSerializer,
    ReadyStatusSerializer,
    StorageDetailSerializer,
    StorageSummarySerializer,
    VersionDetailSerializer,
    VersionSummarySerializer,
)
from factory.services.storages import storage_create, storage_delete
from factory.services.versions import VersionOutcome, version_declare, version_retry
from storage.contract import storage_contract


class StorageViewSet(viewsets.GenericViewSet):
    permission_classes = [StorageAccess]
    # Reads need any grant on the storage (the list shows only those); changing a definition
    # needs `manage`; creating and dropping storages need an admin token.
    storage_access = {"GET": "any", "HEAD": "any", "OPTIONS": "any", "PUT": "manage"}
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    serializer_class = StorageDetailSerializer

    @extend_schema(responses=StorageSummarySerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.storage_list(principal=request.user))
        return self.get_paginated_response(StorageSummarySerializer(page, many=True).data)

    @extend_schema(request=DefinitionInputSerializer, responses={201: StorageDetailSerializer})
    def create(self, request: Request) -> Response:
        storage = storage_create(data=request.data)
        body = selectors.storage_definition(storage=storage)
        location = request.build_absolute_uri(
            reverse("storage-detail", kwargs={"name": storage.name})
        )
        return Response(
            StorageDetailSerializer(body).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location, "ETag": etag(storage.version)},
        )

    def retrieve(self, request: Request, name: str) -> Response:
        storage = selectors.storage_get(name=name)
        body = selectors.storage_definition(storage=storage)
        return Response(StorageDetailSerializer(body).data, headers={"ETag": etag(storage.version)})

    @extend_schema(
        request=DefinitionInputSerializer,
        parameters=[OpenApiParameter("dry_run", bool, description="Only report the verdict.")],
        responses={200: StorageDetailSerializer, 202: StorageDetailSerializer},
    )
    def update(self, request: Request, name: str) -> Response:
        dry_run = request.query_params.get("dry_run", "false").lower() in ("true", "1")
        outcome = version_declare(
            name=name,
            data=request.data,
            if_match=request.headers.get("If-Match"),
            dry_run=dry_run,
        )
        if dry_run:
            return Response(ChangeVerdictSerializer(_verdict(outcome)).data)
        body = {**selectors.storage_definition(storage=outcome.storage), "changes": outcome.changes}
        code = status.HTTP_202_ACCEPTED if outcome.needs_worker else status.HTTP_200_OK
        return Response(body, status=code, headers={"ETag": etag(outcome.storage.version)})

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], url_path="schema")
    def contract(self, request: Request, name: str) -> Response:
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

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, name: str) -> Response:
        storage_delete(name=name, if_match=request.headers.get("If-Match"))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _verdict(outcome: VersionOutcome) -> dict:
    return {
        "dry_run": True,
        "compatible": not outcome.incompatible,
        "version": outcome.storage.version,
        "changes": outcome.changes,
        "errors": outcome.incompatible,
    }


class VersionViewSet(viewsets.GenericViewSet):
    permission_classes = [StorageAccess]
    storage_access = {"GET": "manage", "HEAD": "manage", "OPTIONS": "manage", "POST": "manage"}
    serializer_class = VersionDetailSerializer
    lookup_field = "number"
    lookup_value_regex = "[0-9]{1,9}"

    @extend_schema(responses=VersionSummarySerializer(many=True))
    def list(self, request: Request, name: str) -> Response:
        storage = selectors.storage_get(name=name)
        page = self.paginate_queryset(selectors.version_list(storage=storage))
        return self.get_paginated_response(VersionSummarySerializer(page, many=True).data)

    def retrieve(self, request: Request, name: str, number: str) -> Response:
        storage = selectors.storage_get(name=name)
        version = selectors.version_get(storage=storage, number=int(number))
        return Response(VersionDetailSerializer(version).data)

    @extend_schema(request=None, responses={202: VersionSummarySerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, name: str, number: str) -> Response:
        version = version_retry(name=name, number=int(number))
        return Response(VersionSummarySerializer(version).data, status=status.HTTP_202_ACCEPTED)


class ReadyStatusView(APIView):
    permission_classes = [StorageAccess]
    storage_access = {"GET": "any", "HEAD": "any", "OPTIONS": "any"}

    @extend_schema(responses=ReadyStatusSerializer)
    def get(self, request: Request, name: str) -> Response:
        return Response(ReadyStatusSerializer(selectors.ready_status(name=name)).data)
