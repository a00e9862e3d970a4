"""OpenAPI description of the partner token scheme (imported by the API views so drf-spectacular sees it)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.PartnerTokenAuthentication"
    name = "partnerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A partner token (`atk_…`) with the scope the endpoint needs: score, label or read.",
        }
