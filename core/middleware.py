import sys
import uuid

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.core.signals import got_request_exception

from core.api_errors import is_unavailable, unavailable_response
from core.logging import request_id_var

# Paths that authenticate by other means (partner tokens, their own checks) or need none.
LOGIN_EXEMPT_PREFIXES = ("/api/", "/healthz", "/metrics", "/static/", "/accounts/login/")


class RequestIdMiddleware:
    """Gives every request an id (the caller's X-Request-ID if sane), logs it and echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class LoginRequiredEverywhereMiddleware(LoginRequiredMiddleware):
    """Every page needs a login, except the API (partner tokens) and a few operational paths."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(LOGIN_EXEMPT_PREFIXES) or request.path_info.startswith(
            "/" + settings.STATIC_URL.lstrip("/")
        ):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


def _note_unavailable(sender, request=None, **kwargs) -> None:
    """Sent by Django while it handles an exception raised anywhere below: remember whether it was an outage."""
    if request is not None and is_unavailable(sys.exc_info()[1]):
        request.service_unavailable = True


got_request_exception.connect(_note_unavailable, dispatch_uid="core.middleware.note_unavailable")


class ServiceUnavailableMiddleware:
    """PostgreSQL down (or the broker, for what needs it) answers 503 with Retry-After, whatever DEBUG says: JSON
    under /api/, the styled 503 page elsewhere, never a traceback. Django turns an exception raised in a view or in
    any middleware below this one into a 500 (or, with DEBUG on, its debug page); this replaces that answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "service_unavailable", False) and response.status_code == 500:
            return unavailable_response(request)
        return response
