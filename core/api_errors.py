"""Every API error is JSON naming the field and the reason; no stack trace ever reaches a client.

- `api_exception_handler`: DRF's EXCEPTION_HANDLER, for errors raised inside API views.
- `ApiJsonErrorsMiddleware`: for /api/ paths, turns any non-JSON error page (an unknown URL, a request too large
  before a view runs, Django's debug pages) into the same JSON shape.
- `handler404` / `handler500`: JSON under /api/, Django's own pages elsewhere (used when DEBUG is off).

Shape: {"errors": [{"field": "amount", "reason": "A valid number is required.", "code": "invalid"}],
        "status": 400, "request_id": "…"}; `field` is null when the error is about the whole request.
"""

import logging
import math

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger("anomaly_site.api")

API_PREFIX = "/api/"
AUTH_FIELD = "Authorization"
SERVER_ERROR_REASON = "Internal error; quote the request id when reporting it."


def error_item(field: str | None, reason: str, code: str = "invalid") -> dict:
    return {"field": field, "reason": reason, "code": code}


def flatten_errors(detail, prefix: str | None = None) -> list[dict]:
    """DRF's nested error detail → a flat list of {field, reason, code}; nested fields joined with dots."""
    if isinstance(detail, dict):
        items: list[dict] = []
        for key, value in detail.items():
            field = prefix if key in ("non_field_errors", "detail") else (f"{prefix}.{key}" if prefix else str(key))
            items += flatten_errors(value, field)
        return items
    if isinstance(detail, list):
        items = []
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                items += flatten_errors(value, f"{prefix}.{index}" if prefix else str(index))
            else:
                items += flatten_errors(value, prefix)
        return items
    return [error_item(prefix, str(detail), getattr(detail, "code", None) or "invalid")]


def error_body(status_code: int, errors: list[dict], request=None) -> dict:
    return {"errors": errors, "status": status_code, "request_id": getattr(request, "request_id", None)}


def _as_api_exception(exc: Exception) -> exceptions.APIException | None:
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, (TooManyFieldsSent, SuspiciousOperation)):
        return exceptions.ParseError("The request could not be read.")
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied()
    return None


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this endpoint accepts."
    default_code = "too_large"


class FieldErrors(exceptions.APIException):
    """A 400 carrying errors already in the {field, reason, code} shape (from the ingest rules)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, errors: list[dict]):
        super().__init__("invalid input")
        self.errors = errors


def _errors_for(exc: exceptions.APIException) -> list[dict]:
    if isinstance(exc, FieldErrors):
        return exc.errors
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return [error_item(AUTH_FIELD, str(exc.detail), exc.get_codes())]
    if isinstance(exc, exceptions.PermissionDenied):
        return [error_item(AUTH_FIELD, str(exc.detail), exc.get_codes())]
    return flatten_errors(exc.detail)


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: always answers, so DRF never re-raises into a debug page."""
    request = context.get("request")
    api_exc = _as_api_exception(exc)
    if api_exc is None:
        logger.exception("unhandled error in API view", extra={"path": getattr(request, "path", "")})
        set_rollback()
        body = error_body(500, [error_item(None, SERVER_ERROR_REASON, "server_error")], request)
        return Response(body, status=500)
    headers = {}
    if getattr(api_exc, "auth_header", None):
        headers["WWW-Authenticate"] = api_exc.auth_header
    if getattr(api_exc, "wait", None):
        headers["Retry-After"] = str(max(1, math.ceil(api_exc.wait)))
    set_rollback()
    body = error_body(api_exc.status_code, _errors_for(api_exc), request)
    return Response(body, status=api_exc.status_code, headers=headers)


_GENERIC_REASONS = {
    400: ("The request could not be read.", "bad_request"),
    403: ("Forbidden.", "permission_denied"),
    404: ("Not found.", "not_found"),
    405: ("Method not allowed.", "method_not_allowed"),
    413: ("The request body is larger than this endpoint accepts.", "too_large"),
}


def json_error_response(request, status_code: int) -> JsonResponse:
    reason, code = _GENERIC_REASONS.get(status_code, (SERVER_ERROR_REASON, "server_error"))
    return JsonResponse(error_body(status_code, [error_item(None, reason, code)], request), status=status_code)


def _is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


class ApiJsonErrorsMiddleware:
    """Under /api/, any error response that is not JSON (HTML pages, debug pages) is replaced by the JSON shape."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or not _is_api(request):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        replacement = json_error_response(request, response.status_code)
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            if header in response:
                replacement[header] = response[header]
        return replacement


def handler404(request, exception=None):
    if _is_api(request):
        return json_error_response(request, 404)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return json_error_response(request, 500)
    return defaults.server_error(request)
