"""HTTP for the factory: each view parses, calls one service or selector, and answers.

Each view declares what each method needs of a token (`storage_access`); the access app,
above this one, checks it: datastorage/urls.py routes these views with its StorageAccess
(factory.urls.factory_urls). Left out, DRF's default admits admin tokens only.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse as api_reverse
from rest_framework.views import APIView

from audit.actors import actor_from_request
from core.conditional import etag
from core.openapi import also_answers, if_match
from factory import selectors
from factory.models import StorageDefinition, StorageVersion
from factory.serializers import (
    EXAMPLE_DEFINITION,
    ChangeVerdictSerializer,
    DefinitionInputSerializer,
    ReadyStatusSerializer,
    StorageChangedSerializer,
    StorageDetailSerializer,
    StorageSummarySerializer,
    VersionDetailSerializer,
    VersionSummarySerializer,
)
from factory.services.storages import storage_create, storage_delete
from factory.services.versions import VersionOutcome, version_declare, version_retry

# A PUT answers 200 with the new definition or, with ?dry_run=true, with the verdict.
_UPDATE_RESULT = PolymorphicProxySerializer(
    component_name="StorageUpdateResult",
    serializers=[StorageChangedSerializer, ChangeVerdictSerializer],
    resource_type_field_name=None,
)


class StorageViewSet(viewsets.GenericViewSet):
    # Reads need any grant on the storage (the list shows only those); changing a definition
    # needs `manage`; creating and dropping storages need an admin token.
    storage_access = {"GET": "any", "HEAD": "any", "OPTIONS": "any", "PUT": "manage"}
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    serializer_class = StorageDetailSerializer

    def get_extra_action_url_map(self) -> dict[str, Any]:
        """The browsable API's links: the storage's contract too, which the records app
        serves (storage.contract_views) at a URL of this viewset's."""
        links = super().get_extra_action_url_map()
        if self.detail:
            links["Contract"] = api_reverse(
                "storage-contract", kwargs=self.kwargs, request=self.request
            )
        return links

    def get_object(self) -> StorageDefinition:
        # DRF's OPTIONS answer asks for the object before describing PUT (a 500 without it).
        return selectors.storage_get(name=self.kwargs["name"])

    def get_queryset(self) -> QuerySet[StorageDefinition]:
        # The browsable API asks a list view for it (its filter form): a 500 without it.
        return selectors.storage_list(principal=self.request.user)

    @extend_schema(summary="List storages", responses=StorageSummarySerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(StorageSummarySerializer(page, many=True).data)

    @extend_schema(
        summary="Create a storage (and its table) from a definition",
        request=DefinitionInputSerializer,
        examples=[OpenApiExample("dogs", value=EXAMPLE_DEFINITION, request_only=True)],
        responses={201: StorageDetailSerializer},
    )
    def create(self, request: Request) -> Response:
        storage = storage_create(data=request.data, actor=actor_from_request(request))
        body = selectors.storage_definition(storage=storage)
        location = request.build_absolute_uri(
            reverse("storage-detail", kwargs={"name": storage.name})
        )
        return Response(
            StorageDetailSerializer(body).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location, "ETag": etag(storage.version)},
        )

    @extend_schema(summary="Read a storage's current definition")
    def retrieve(self, request: Request, name: str) -> Response:
        storage = selectors.storage_get(name=name)
        body = selectors.storage_definition(storage=storage)
        return Response(StorageDetailSerializer(body).data, headers={"ETag": etag(storage.version)})

    @extend_schema(
        summary="Change a definition: a new version (or, with dry_run, its verdict)",
        request=DefinitionInputSerializer,
        parameters=[
            OpenApiParameter("dry_run", bool, description="Only report the verdict."),
            if_match("The definition's version as last read (its ETag); not for a dry run."),
        ],
        responses={200: _UPDATE_RESULT, 202: StorageChangedSerializer},
        extensions=also_answers(428),
    )
    def update(self, request: Request, name: str) -> Response:
        dry_run = request.query_params.get("dry_run", "false").lower() in ("true", "1")
        outcome = version_declare(
            name=name,
            data=request.data,
            if_match=request.headers.get("If-Match"),
            dry_run=dry_run,
            # A source routes other producers' events: only admin tokens may widen one.
            may_route=request.user.may(name, "admin"),
            actor=actor_from_request(request),
        )
        if dry_run:
            return Response(ChangeVerdictSerializer(_verdict(outcome)).data)
        body = {**selectors.storage_definition(storage=outcome.storage), "changes": outcome.changes}
        code = status.HTTP_202_ACCEPTED if outcome.needs_worker else status.HTTP_200_OK
        return Response(body, status=code, headers={"ETag": etag(outcome.storage.version)})

    @extend_schema(
        summary="Delete a storage, its table and its versions",
        parameters=[if_match("The definition's current version (its ETag).")],
        responses={204: None},
        extensions=also_answers(428),
    )
    def destroy(self, request: Request, name: str) -> Response:
        storage_delete(
            name=name, if_match=request.headers.get("If-Match"), actor=actor_from_request(request)
        )
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
    storage_access = {"GET": "manage", "HEAD": "manage", "OPTIONS": "manage", "POST": "manage"}
    serializer_class = VersionDetailSerializer
    lookup_field = "number"
    lookup_value_regex = "[0-9]{1,9}"

    def get_queryset(self) -> QuerySet[StorageVersion]:
        # The browsable API asks a list view for it (its filter form): a 500 without it.
        return selectors.version_list(storage=selectors.storage_get(name=self.kwargs["name"]))

    @extend_schema(
        summary="List a storage's versions", responses=VersionSummarySerializer(many=True)
    )
    def list(self, request: Request, name: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(VersionSummarySerializer(page, many=True).data)

    @extend_schema(summary="Read one version, with its full definition")
    def retrieve(self, request: Request, name: str, number: str) -> Response:
        storage = selectors.storage_get(name=name)
        version = selectors.version_get(storage=storage, number=int(number))
        return Response(VersionDetailSerializer(version).data)

    @extend_schema(
        summary="Retry a failed version", request=None, responses={202: VersionSummarySerializer}
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, name: str, number: str) -> Response:
        version = version_retry(name=name, number=int(number), actor=actor_from_request(request))
        return Response(VersionSummarySerializer(version).data, status=status.HTTP_202_ACCEPTED)


class ReadyStatusView(APIView):
    storage_access = {"GET": "any", "HEAD": "any", "OPTIONS": "any"}

    @extend_schema(summary="Is the latest version served yet?", responses=ReadyStatusSerializer)
    def get(self, request: Request, name: str) -> Response:
        return Response(ReadyStatusSerializer(selectors.ready_status(name=name)).data)
