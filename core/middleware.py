import uuid

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware

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
