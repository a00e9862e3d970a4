"""Reads of organisations: which a user may work in, and the one a request works in."""

from types import SimpleNamespace

from django.db.models import QuerySet

from accounts.models import Organisation

SESSION_KEY = "organisation_id"


class NoOrganisation(Exception):
    """A command or call that needs an organisation could not tell which one."""


def organisations_for_user(user) -> QuerySet[Organisation]:
    """The organisations a user may work in: every one for superusers (the platform's operators), else their
    memberships, as in the admin; the page header offers a chooser when there are several."""
    if not (user and user.is_authenticated):
        return Organisation.objects.none()
    if user.is_superuser:
        return Organisation.objects.all()
    return Organisation.objects.filter(memberships__user=user)


def organisation_for_request(request) -> Organisation | None:
    """The organisation the session chose, if the user may work in it, else the user's first one; None if none."""
    allowed = organisations_for_user(getattr(request, "user", None)).order_by("name")
    chosen = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if chosen is not None:
        organisation = allowed.filter(pk=chosen).first()
        if organisation is not None:
            return organisation
    return allowed.first()


def organisation_for_scope(scope) -> Organisation | None:
    """A websocket's organisation, as `organisation_for_request` decides for a page: from the scope's user and session
    (a scope without a session gets the user's first organisation). Call from a thread, not the event loop."""
    return organisation_for_request(SimpleNamespace(user=scope.get("user"), session=scope.get("session", {})))


def organisation_by_name(name: str | None) -> Organisation:
    """For commands: the named organisation, or the only one when there is exactly one and none is named."""
    if name:
        organisation = Organisation.objects.filter(name=name).first()
        if organisation is None:
            raise NoOrganisation(f"no organisation named {name!r}; there are: {_names()}")
        return organisation
    only = list(Organisation.objects.all()[:2])
    if len(only) == 1:
        return only[0]
    raise NoOrganisation(
        "name the organisation with --organisation" + (f" (one of: {_names()})" if only else ": there is none yet")
    )


def _names() -> str:
    return ", ".join(Organisation.objects.values_list("name", flat=True)) or "none"
