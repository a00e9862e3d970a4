"""The audit trail's one way in: `audit_record`, called by services that change what must be on record."""

from alerts.models import AuditEvent
from anomaly_site.logging import request_id_var


def _client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


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
) -> AuditEvent:
    """Append one audit row. `actor` is a user (or None for the system); `request` gives the address."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        actor = request.user if getattr(request.user, "pk", None) else None
    return AuditEvent.objects.create(
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before,
        after=after,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "username", "") or ("system" if actor is None else str(actor)),
        ip_address=_client_ip(request),
        request_id=request_id_var.get(),
    )
