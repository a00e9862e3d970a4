"""Compare a version with the active one, then activate it (`/detection/versions/<pk>/compare/`, `…/activate/`);
make a ready version the challenger scoring in shadow, end its challenge, or promote it (`…/challenge/`,
`…/challenge/end/`, `…/promote/`: each one audited service call).

Activation from the pages and from admin goes through the comparison: the admin's action sends its person here.
Those who read model versions may compare; those who may change them (admins, as for the admin's action) activate.
A version of another organisation than the one the request works in is not found.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from detection.models import ModelVersion
from detection.policy.selectors import risk_policy_or_default
from detection.scoring.registry import NoActiveModel
from detection.training.services import (
    model_version_activate,
    model_version_challenge,
    model_version_challenge_end,
    model_version_promote,
)
from detection.versions.comparison import TRAINED, versions_compare

VIEW_PERM = "detection.view_modelversion"
ACTIVATE_PERM = "detection.change_modelversion"


def _organisation_id(request, perm: str) -> int:
    if request.organisation is None or not request.user.has_perm(perm):
        raise PermissionDenied
    return request.organisation.pk


def _get_version_for_user(request, pk: int, perm: str) -> ModelVersion:
    """The version, if it is of the organisation the request works in and the person holds `perm`; else 403/404."""
    organisation_id = _organisation_id(request, perm)
    return get_object_or_404(ModelVersion, pk=pk, organisation_id=organisation_id)


def _active(organisation_id: int) -> ModelVersion | None:
    return ModelVersion.objects.filter(organisation_id=organisation_id, status=ModelVersion.Status.ACTIVE).first()


@require_GET
@login_required
def version_compare(request, pk: int):
    candidate = _get_version_for_user(request, pk, VIEW_PERM)
    active = _active(candidate.organisation_id)
    context = {
        "candidate": candidate,
        "active": active,
        "can_activate": request.user.has_perm(ACTIVATE_PERM),
        "activatable": candidate.status in TRAINED and candidate.status != ModelVersion.Status.ACTIVE,
        "min_labels": settings.COMPARE_MIN_LABELS,
    }
    if context["activatable"]:
        policy = risk_policy_or_default(organisation_id=candidate.organisation_id)
        try:
            context["comparison"] = versions_compare(candidate=candidate, active=active, policy=policy)
        except (NoActiveModel, ValueError) as exc:
            context["error"] = str(exc)
    return render(request, "detection/version_compare.html", context)


@require_POST
@login_required
def version_activate(request, pk: int):
    """Activate after the comparison: `compared_with` is the active version the person saw it beside; if another
    has been activated since, they are sent back to compare again."""
    version = _get_version_for_user(request, pk, ACTIVATE_PERM)
    active = _active(version.organisation_id)
    seen = request.POST.get("compared_with", "")
    if seen != (str(active.pk) if active else "none"):
        messages.warning(request, "The active version changed since this comparison: compare again before activating.")
        return redirect("detection:version_compare", pk=version.pk)
    try:
        version = model_version_activate(version=version, user=request.user, request=request)
    except ValueError as exc:
        messages.error(request, f"Not activated: {exc}")
        return redirect("detection:version_compare", pk=version.pk)
    messages.success(request, f"v{version.version} is now the active version; the next transaction is scored by it.")
    return redirect("detection:performance")


def _version_action(request, pk: int, service, done: str):
    """One service call on the version by those who may change versions; its refusal said in words."""
    version = _get_version_for_user(request, pk, ACTIVATE_PERM)
    try:
        version = service(version=version, user=request.user, request=request)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done.format(v=version.version))
    return redirect(f"{reverse('detection:performance')}#challenger-card")


@require_POST
@login_required
def version_challenge(request, pk: int):
    done = "v{v} is the challenger: it scores live traffic in shadow from the next transaction on, deciding nothing."
    return _version_action(request, pk, model_version_challenge, done)


@require_POST
@login_required
def version_challenge_end(request, pk: int):
    done = "v{v} is no longer the challenger; its shadow scores are kept."
    return _version_action(request, pk, model_version_challenge_end, done)


@require_POST
@login_required
def version_promote(request, pk: int):
    done = "v{v} is promoted: it is the active version in every process within a second."
    return _version_action(request, pk, model_version_promote, done)
