"""What the API's schema says of its answers: the one error shape (core.api_errors), and the statuses each operation
may answer, so the schema lists every answer a client can get (schemathesis holds the two equal)."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ApiErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="The field, attribute or header; null: the whole request.")
    reason = serializers.CharField()
    code = serializers.CharField()


class ApiErrorSerializer(serializers.Serializer):
    errors = ApiErrorItemSerializer(many=True)
    status = serializers.IntegerField()
    request_id = serializers.CharField(allow_null=True)


MEANINGS = {
    400: "Invalid input: each error names the field (null for the whole request) and the reason.",
    401: "No token, or an unknown or revoked one.",
    403: "The token lacks the scope (a person: the permission).",
    404: "Not yours, or not there.",
    409: "The job has not finished; its result is ready when its status is 'done'.",
    413: "The body or the upload is larger than its limit.",
    429: "The token's rate limit is reached; Retry-After says in how many seconds to try again.",
    503: (
        "No active model (no_active_model), one this release cannot read (model_unloadable), or a store the "
        "request needs does not answer (unavailable, with Retry-After)."
    ),
}
# What any partner call may answer: no token, no scope, the rate limit, an outage.
EVERY_CALL = (401, 403, 429, 503)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error answers of an operation: those of every call, and `statuses`, each in the one JSON shape."""
    return {
        status: OpenApiResponse(ApiErrorSerializer, description=MEANINGS[status])
        for status in sorted({*EVERY_CALL, *statuses})
    }
