"""The bell, the thresholds page and the audit export: each for the request's organisation only."""

import json

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.forms.models import model_to_dict
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.forms import AuditExportForm, RiskPolicyForm
from alerts.live import bell_context, user_may_see_alerts
from alerts.selectors import audit_events
from alerts.services import alerts_mark_seen
from core.csv_stream import csv_response
from detection.policy.selectors import risk_policy_current, risk_policy_history
from detection.policy.services import risk_policy_create

AUDIT_COLUMNS = [
    "created_at",
    "actor_label",
    "ip_address",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "before",
    "after",
    "request_id",
]


def _organisation_id(request) -> int | None:
    return getattr(request.organisation, "pk", None)


@require_GET
def bell(request):
    organisation_id = _organisation_id(request)
    if organisation_id is None or not user_may_see_alerts(request.user):
        return HttpResponse(status=204)
    return render(request, "alerts/_bell.html", bell_context(request.user, organisation_id=organisation_id))


@require_POST
def bell_seen(request):
    organisation_id = _organisation_id(request)
    if organisation_id is None or not user_may_see_alerts(request.user):
        raise PermissionDenied
    alerts_mark_seen(user=request.user, organisation_id=organisation_id)
    if request.htmx:
        return render(request, "alerts/_bell.html", bell_context(request.user, organisation_id=organisation_id))
    back = request.headers.get("Referer", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return redirect(back if back and safe else "home")


@require_http_methods(["GET", "POST"])
@permission_required("detection.view_riskpolicy", raise_exception=True)
def thresholds(request):
    """The request's organisation's thresholds in force, their history, and (for those who may) new ones."""
    organisation_id = _organisation_id(request)
    if organisation_id is None:
        raise Http404("No organisation to set thresholds for.")
    may_change = request.user.has_perm("detection.add_riskpolicy")
    current = risk_policy_current(organisation_id=organisation_id)
    form = RiskPolicyForm(initial=model_to_dict(current, fields=RiskPolicyForm.Meta.fields[:5]))
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied
        form = RiskPolicyForm(request.POST)
        if form.is_valid():
            risk_policy_create(**form.cleaned_data, organisation_id=organisation_id, user=request.user)
            return redirect("alerts:thresholds")
    history = risk_policy_history(organisation_id=organisation_id)[:50]
    context = {"current": current, "history": history, "form": form, "may_change": may_change}
    return render(request, "alerts/thresholds.html", context, status=400 if form.errors else 200)


@require_GET
@permission_required("alerts.view_auditevent", raise_exception=True)
def audit_csv(request):
    """The request's organisation's audit trail; superusers' also has the platform's own events."""
    form = AuditExportForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    events = audit_events(
        organisation_id=_organisation_id(request), platform=request.user.is_superuser, **form.cleaned_data
    )
    rows = events.iterator(chunk_size=2000)
    return audit_csv_response(rows)


def audit_csv_response(events) -> StreamingHttpResponse:
    """The audit trail as CSV; every cell is text, so none may start a spreadsheet formula."""
    rows = ([_cell(getattr(event, column)) for column in AUDIT_COLUMNS] for event in events)
    return csv_response(header=AUDIT_COLUMNS, rows=rows, filename="audit.csv", content_type="text/csv; charset=utf-8")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)
