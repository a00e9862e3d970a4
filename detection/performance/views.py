"""Detection pages: model performance with the threshold explorer (uploads and backtests live in their modules).

Analysts, viewers and admins read (`detection.view_modelversion`); only those who may add a risk policy (admins)
save a threshold. Anyone else gets 403; anonymous visitors are sent to the login page by the middleware. Every
figure is of the request's organisation: its versions, scores, alerts and risk policy (a saved threshold is its new
policy row).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from detection.models import ModelVersion
from detection.performance import report as performance_report
from detection.performance import selectors
from detection.performance.forms import ThresholdForm
from detection.performance.shadow import shadow_section
from detection.policy.selectors import risk_policy_current
from detection.policy.services import risk_policy_create

VIEW_PERM = "detection.view_modelversion"
SAVE_PERM = "detection.add_riskpolicy"


def _require(request, perm: str) -> int:
    """The request's organisation id, for those with `perm` working in an organisation."""
    if not request.user.has_perm(perm) or request.organisation is None:
        raise PermissionDenied
    return request.organisation.pk


def _active(versions: list[ModelVersion]) -> ModelVersion | None:
    return next((v for v in versions if v.status == ModelVersion.Status.ACTIVE), None)


@require_GET
@login_required
def performance(request):
    organisation_id = _require(request, VIEW_PERM)
    versions = selectors.model_versions_recent(organisation_id=organisation_id)
    version = selectors.model_version_pick(versions, request.GET.get("version"))
    policy = risk_policy_current(organisation_id=organisation_id)
    form = ThresholdForm.from_policy(policy)
    explore_on = _active(versions) or version
    challenger = selectors.challenger_current(organisation_id=organisation_id)
    context = {
        "versions": versions,
        "version": version,
        "policy": policy,
        "form": form,
        "can_save": request.user.has_perm(SAVE_PERM),
        "quality": performance_report.quality_section(version, policy) if version else None,
        "daily": performance_report.daily_section(version, organisation_id=organisation_id),
        "explorer": performance_report.explorer_section(version=explore_on, values=form.cleaned_data, policy=policy),
        "shadow": shadow_section(challenger=challenger, policy=policy) if challenger else None,
        "can_change_versions": request.user.has_perm("detection.change_modelversion"),
    }
    return render(request, "detection/performance.html", context)


@require_GET
@login_required
def threshold_explore(request):
    """The explorer's figures for the thresholds in the query string (the page's HTMX region, or a full page)."""
    organisation_id = _require(request, VIEW_PERM)
    policy = risk_policy_current(organisation_id=organisation_id)
    form = ThresholdForm(request.GET)
    context = {"form": form, "policy": policy, "can_save": request.user.has_perm(SAVE_PERM)}
    if form.is_valid():
        version = selectors.model_version_active(organisation_id=organisation_id) or selectors.model_version_pick(
            selectors.model_versions_recent(organisation_id=organisation_id, limit=1), None
        )
        context["explorer"] = performance_report.explorer_section(
            version=version, values=form.cleaned_data, policy=policy
        )
    status = 200 if form.is_valid() else 400
    return render(request, "detection/performance.html#explorer-results", context, status=status)


@require_POST
@login_required
def threshold_save(request):
    organisation_id = _require(request, SAVE_PERM)
    form = ThresholdForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not saved: " + " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("detection:performance")
    policy = risk_policy_create(
        organisation_id=organisation_id,
        **form.policy_values(),
        comment=form.cleaned_data["comment"],
        user=request.user,
    )
    messages.success(
        request,
        f"Saved: review threshold {policy.review_threshold:.3f}, bands {policy.medium:.3f} / {policy.high:.3f} / "
        f"{policy.critical:.3f}. In force for the next score.",
    )
    return redirect("detection:performance")
