"""The tokens API (admin tokens only): issue, list, revoke."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from access.models import ApiToken
from access.serializers import IssuedTokenSerializer, TokenInputSerializer, TokenSerializer
from access.services import token_issue, token_revoke
from audit.actors import actor_from_request


class TokenViewSet(viewsets.GenericViewSet):
    serializer_class = TokenSerializer
    queryset = ApiToken.objects.prefetch_related("grants__storage").order_by("id")
    # Ids are ASCII digits; anything else is no token (404), never a failed int() (500).
    lookup_value_regex = "[0-9]{1,19}"

    @extend_schema(summary="List tokens")
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(TokenSerializer(page, many=True).data)

    @extend_schema(summary="Read a token (never its secret)")
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(TokenSerializer(self.get_object()).data)

    @extend_schema(
        summary="Issue a token (its secret is shown once, here)",
        request=TokenInputSerializer,
        responses={201: IssuedTokenSerializer},
    )
    def create(self, request: Request) -> Response:
        given = TokenInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        issued = token_issue(**given.validated_data, actor=actor_from_request(request))
        issued.token.token = issued.secret
        return Response(IssuedTokenSerializer(issued.token).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke a token", responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        token_revoke(token_id=int(pk), actor=actor_from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
