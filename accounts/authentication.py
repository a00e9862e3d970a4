from rest_framework import authentication, exceptions, permissions

from accounts.models import PartnerToken
from accounts.services import partner_token_authenticate


class PartnerPrincipal:
    """The request.user of a partner call: authenticated, not a person, carrying its token."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    is_active = True

    def __init__(self, token: PartnerToken):
        self.token = token
        self.pk = None
        self.username = f"partner:{token.name}"

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm, obj=None) -> bool:
        return False


class PartnerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` with a partner token; revoked or unknown tokens are refused."""

    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            secret = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Token contains invalid characters.") from exc
        token = partner_token_authenticate(secret)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return PartnerPrincipal(token), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class HasScope(permissions.BasePermission):
    """Partner tokens need the view's `required_scope`; people need the matching Django permission."""

    message = "This token does not have the scope this endpoint needs."

    def has_permission(self, request, view) -> bool:
        scope = getattr(view, "required_scope", None)
        token = request.auth if isinstance(request.auth, PartnerToken) else None
        if token is not None:
            return scope is None or token.has_scope(scope)
        user = request.user
        if not (user and user.is_authenticated):
            return False
        perm = getattr(view, "required_user_permission", None)
        return perm is None or user.has_perm(perm)
