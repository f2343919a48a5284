"""HTTP for the factory: each view parses, calls one service or selector, and answers."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.conditional import etag, parse_tags
from factory import selectors
from factory.serializers import (
    DefinitionInputSerializer,
    ReadyStatusSerializer,
    StorageDetailSerializer,
    StorageSummarySerializer,
)
from factory.services.storages import storage_create, storage_delete


class StorageViewSet(viewsets.GenericViewSet):
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    serializer_class = StorageDetailSerializer

    @extend_schema(responses=StorageSummarySerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.storage_list())
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

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, name: str) -> Response:
        storage_delete(name=name, if_match=parse_tags(request.headers.get("If-Match")))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReadyStatusView(APIView):
    @extend_schema(responses=ReadyStatusSerializer)
    def get(self, request: Request, name: str) -> Response:
        return Response(ReadyStatusSerializer(selectors.ready_status(name=name)).data)
