"""The audit trail's one way in: `audit_record`, called by services that change what must be on record.

Callers deep in a service rarely hold the request, so `AuditContextMiddleware` keeps the current request in a
context variable and `audit_record` takes the actor and the address from it when it is not given them.
"""

from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal

from django.forms.models import model_to_dict

from core.logging import request_id_var
from core.models import AuditEvent

audit_request_var: ContextVar = ContextVar("audit_request", default=None)


class AuditContextMiddleware:
    """Makes the current request (user, address) known to `audit_record` for the length of the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = audit_request_var.set(request)
        try:
            return self.get_response(request)
        finally:
            audit_request_var.reset(token)


def _client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _request_user(request):
    user = getattr(request, "user", None) if request is not None else None
    return user if getattr(user, "pk", None) else None


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "pk"):
        return value.pk
    return value


def audit_snapshot(obj, *, exclude: tuple[str, ...] = ()) -> dict:
    """A JSON-safe dict of a model instance's editable fields, for `before`/`after`."""
    return _jsonable(model_to_dict(obj, exclude=list(exclude)))


def audit_record(
    *,
    action: str,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    before: dict | None = None,
    after: dict | None = None,
    actor=None,
    request=None,
    organisation_id: int | None = None,
) -> AuditEvent:
    """Append one audit row. `actor` is a user (or None for the system); `request` gives the address.

    Without `request`, the request being served (if any) supplies the address, and the actor when none is given.
    The row belongs to `organisation_id`, else to the changed object's organisation, else to the request's.
    """
    request = request if request is not None else audit_request_var.get()
    if organisation_id is None:
        organisation_id = getattr(obj, "organisation_id", None) or getattr(
            getattr(request, "organisation", None), "pk", None
        )
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    if actor is None:
        actor = _request_user(request)
    return AuditEvent.objects.create(
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=str(obj)[:200] if obj is not None else "",
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "username", "") or ("system" if actor is None else str(actor)),
        organisation_id=organisation_id,
        ip_address=_client_ip(request),
        request_id=request_id_var.get(),
    )


def audit_record_many(
    *,
    action: str,
    object_type: str,
    changes: list[tuple[str, str, dict, dict]],
    actor,
    organisation_id: int,
    request=None,
) -> None:
    """One audit row per changed object, in one INSERT: `changes` holds (object id, repr, before, after) each. A
    bulk action records these besides its own summary row (`audit_record`)."""
    request = request if request is not None else audit_request_var.get()
    ip, request_id = _client_ip(request), request_id_var.get()
    actor_id = actor if getattr(actor, "pk", None) else None
    AuditEvent.objects.bulk_create(
        AuditEvent(
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            object_repr=str(label)[:200],
            before=_jsonable(before),
            after=_jsonable(after),
            actor=actor_id,
            actor_label=getattr(actor, "username", "") or "system",
            organisation_id=organisation_id,
            ip_address=ip,
            request_id=request_id,
        )
        for object_id, label, before, after in changes
    )
