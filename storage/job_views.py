"""GET /api/v1/jobs/{id}/: a delete or update by filter left to the worker (storage.by_filter).
A token may read a job of a storage it may read."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.grants import NO_GRANT, may_access
from access.permissions import IsAuthenticatedToken
from core.errors import Forbidden, NotFound
from storage.by_filter import job_body
from storage.models import RecordJob
from storage.openapi import JOB


class JobView(APIView):
    permission_classes = [IsAuthenticatedToken]

    @extend_schema(
        operation_id="jobs_retrieve",
        summary="A delete or update by filter run by the worker: its progress",
        responses={200: OpenApiResponse(JOB, description="The job.")},
    )
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        job = RecordJob.objects.filter(pk=pk).first()
        if job is None:
            raise NotFound(f"No job {pk}.")
        if not may_access(request.user, job.storage, "read"):
            raise Forbidden(NO_GRANT)
        return Response(job_body(job))
