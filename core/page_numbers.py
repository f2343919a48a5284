"""Page-number pagination for metadata lists (storages, versions): small, ordered sets."""

from django.conf import settings
from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "limit"

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return settings.PAGE_SIZE_MAX
