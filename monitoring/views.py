"""The drift page: each feature's (and the score's) population stability index against the active version's
training sample, newest day and trend, and one feature's bins. Those who hold `monitoring.view_driftmeasurement`
(analysts, leads, admins) read their own organisation's; anyone else gets 403."""

from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from monitoring import selectors

VIEW_PERM = "monitoring.view_driftmeasurement"


def _organisation_id(request) -> int:
    if not request.user.has_perm(VIEW_PERM) or request.organisation is None:
        raise PermissionDenied
    return request.organisation.pk


@require_GET
@login_required
def drift(request):
    organisation_id = _organisation_id(request)
    version = selectors.active_version(organisation_id=organisation_id)
    rows = selectors.drift_overview(organisation_id=organisation_id, version=version) if version else []
    newest = max((row.latest.day for row in rows if row.latest), default=None)
    context = {"version": version, "rows": rows, "newest": newest, "trend_days": selectors.TREND_DAYS}
    return render(request, "monitoring/drift.html", context)


@require_GET
@login_required
def drift_feature(request, feature: str):
    organisation_id = _organisation_id(request)
    version = selectors.active_version(organisation_id=organisation_id)
    if version is None:
        raise Http404("No active model version.")
    day, error = None, ""
    if request.GET.get("day"):
        try:
            day = date.fromisoformat(request.GET["day"])
        except ValueError:
            error = f"day: not a date (YYYY-MM-DD): {request.GET['day']}"
    found = selectors.drift_bins(organisation_id=organisation_id, version=version, feature=feature, day=day)
    if found is None:
        raise Http404("No drift reference for this feature.")
    measurement, bins = found
    context = {
        "version": version,
        "feature": feature,
        "measurement": measurement,
        "bins": bins,
        "bar_top": max((max(b.reference, b.day) for b in bins), default=1.0) or 1.0,
        "days": selectors.drift_measurements(organisation_id=organisation_id)
        .filter(version=version, feature=feature)
        .order_by("-day")[: selectors.TREND_DAYS],
        "error": error,
    }
    return render(request, "monitoring/drift_feature.html", context, status=400 if error else 200)
