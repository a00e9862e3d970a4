"""Every API error is JSON naming the field and the reason; no stack trace ever reaches a client.

- `api_exception_handler`: DRF's EXCEPTION_HANDLER, for errors raised inside API views.
- `ApiJsonErrorsMiddleware`: for /api/ paths, turns any non-JSON error page (an unknown URL, a request too large
  before a view runs, Django's debug pages) into the same JSON shape.
- `handler404` / `handler500`: JSON under /api/, the site's styled pages elsewhere (used when DEBUG is off).
- `unavailable_response`: the 503 (JSON under /api/, templates/503.html elsewhere, both with Retry-After) for
  PostgreSQL down (`is_unavailable`) or a `ServiceUnavailable` raised by a service (the broker down).

Shape: {"errors": [{"field": "amount", "reason": "A valid number is required.", "code": "invalid"}],
        "status": 400, "request_id": "…"}; `field` is null when the error is about the whole request.
"""

import logging
import math
import sys

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger("anomaly_site.api")

API_PREFIX = "/api/"
AUTH_FIELD = "Authorization"
SERVER_ERROR_REASON = "Internal error; quote the request id when reporting it."
UNAVAILABLE_REASON = "The service is briefly unavailable; try again after the Retry-After seconds."
# Every error answer, as the API schema's views list it.
ERRORS = OpenApiResponse(description='JSON: {"errors": [{"field", "reason", "code"}], "status", "request_id"}')


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


class ServiceUnavailable(exceptions.APIException):
    """A store or queue the request needs does not answer (PostgreSQL, the broker): 503 with Retry-After."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = UNAVAILABLE_REASON
    default_code = "unavailable"


def is_unavailable(exc: BaseException | None) -> bool:
    """PostgreSQL unreachable, its connection lost (or a transient refusal such as a deadlock), or a ServiceUnavailable:
    worth answering 503 and "try again" rather than 500."""
    return isinstance(exc, (OperationalError, InterfaceError, ServiceUnavailable))


def retry_after() -> str:
    return str(settings.UNAVAILABLE_RETRY_AFTER_SECONDS)


def _as_api_exception(exc: Exception) -> exceptions.APIException | None:
    if is_unavailable(exc):
        return exc if isinstance(exc, ServiceUnavailable) else ServiceUnavailable()
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
    if isinstance(api_exc, ServiceUnavailable):
        logger.warning("service unavailable: %s", exc, extra={"path": getattr(request, "path", "")})
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
    if api_exc.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        headers.setdefault("Retry-After", retry_after())
    set_rollback()
    body = error_body(api_exc.status_code, _errors_for(api_exc), request)
    return Response(body, status=api_exc.status_code, headers=headers)


_GENERIC_REASONS = {
    400: ("The request could not be read.", "bad_request"),
    403: ("Forbidden.", "permission_denied"),
    404: ("Not found.", "not_found"),
    405: ("Method not allowed.", "method_not_allowed"),
    413: ("The request body is larger than this endpoint accepts.", "too_large"),
    503: (UNAVAILABLE_REASON, "unavailable"),
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


def _page_without_database(template: str, request, status_code: int) -> HttpResponse:
    """Render an error page from a plain context: no context processor runs, so no session, user or query does."""
    context = {"request_id": getattr(request, "request_id", None), "retry_after": retry_after()}
    return HttpResponse(loader.render_to_string(template, context), status=status_code)


def unavailable_response(request) -> HttpResponse:
    """503 with Retry-After: the JSON shape under /api/, templates/503.html elsewhere."""
    if _is_api(request):
        response = json_error_response(request, 503)
    else:
        response = _page_without_database("503.html", request, 503)
    response["Retry-After"] = retry_after()
    return response


def handler500(request):
    """Called while the failing exception is being handled: PostgreSQL down is a 503, anything else a 500."""
    if is_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    if _is_api(request):
        return json_error_response(request, 500)
    return _page_without_database("500.html", request, 500)


def csrf_failure(request, reason: str = ""):
    """A refused form (stale page, cookies off) gets the site's 403 page, saying what to do."""
    if _is_api(request):
        return json_error_response(request, 403)
    return defaults.permission_denied(request, PermissionDenied("The form was stale or sent without its cookie."))
