"""How the API description (drf-spectacular) shows bearer-token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "access.authentication.BearerTokenAuthentication"
    # The name the per-storage contracts use too (storage.contract).
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}


class MetricsTokenScheme(OpenApiAuthenticationExtension):
    """METRICS_TOKEN (access.metrics) is sent the same way as an API token."""

    target_class = "access.metrics.MetricsTokenAuthentication"
    name = "metricsToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
