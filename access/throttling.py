"""Per-token rate limits, off unless THROTTLE_RATE is set; admin tokens are never throttled.

The counters live in Django's cache (per process unless CACHES points at a shared cache),
so with N processes a client may reach N times the rate: see docs/operations.md.
"""

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def get_rate(self) -> str | None:
        return settings.THROTTLE_RATE or None

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        principal = request.user
        if not getattr(principal, "is_authenticated", False) or principal.admin:
            return None
        ident = principal.token_id
        if ident is None:  # a staff user's session (access.authentication)
            ident = f"user-{principal.user_id}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
