"""The try page (`/detection/try/`): type a transaction, see what the active model (and one other version) and the
rules in force would say of it. Nothing is stored: no transaction, no score, no review item, no alert.

Those who read scores and transactions may try (viewers, analysts, admins), in the organisation they work in.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from detection.charts import gauge
from detection.models import ModelVersion
from detection.scoring.registry import NoActiveModel
from detection.trying import selectors
from detection.trying.forms import TryForm
from detection.trying.trial import trial_score

TRY_PERMS = ("detection.view_score", "transactions.view_transaction")
BAND_COLOURS = {"low": "#2e7d32", "medium": "#b7791f", "high": "#d35400", "critical": "#c0392b"}


def _organisation_id(request) -> int:
    if request.organisation is None or not request.user.has_perms(TRY_PERMS):
        raise PermissionDenied
    return request.organisation.pk


@require_http_methods(["GET", "POST"])
@login_required
def try_page(request):
    """GET: the form (its account taken from `?account=` when given); POST: the form and what the models say."""
    organisation_id = _organisation_id(request)
    active = selectors.versions_trained(organisation_id=organisation_id).filter(status="active").first()
    context = {"active": active, "results": [], "error": ""}
    if request.method == "GET":
        context["form"] = TryForm(initial=_initial(request, organisation_id), organisation_id=organisation_id)
    else:
        form = context["form"] = TryForm(request.POST, organisation_id=organisation_id)
        if form.is_valid() and active is not None:
            context |= _results(organisation_id, form, active)
    context["accounts"] = selectors.accounts_matching(organisation_id=organisation_id)
    template = "detection/try.html#try-result" if request.htmx and request.method == "POST" else "detection/try.html"
    # A refused form is a 400 for a browser without JavaScript; htmx swaps only 2xx answers, so it gets a 200.
    refused = request.method == "POST" and not context["form"].is_valid()
    status = 400 if refused and not request.htmx else 200
    return render(request, template, context, status=status)


def _initial(request, organisation_id: int) -> dict:
    """The account asked for in the query string, with its newest transaction's merchant, category, channel and
    place as starting values."""
    account = request.GET.get("account", "").strip()
    last = account and selectors.account_last_transaction(organisation_id=organisation_id, account_id=account)
    if not last:
        return {"account_id": account} if account else {}
    fields = ("account_id", "amount", "merchant_id", "merchant_category", "channel", "country", "latitude", "longitude")
    return {name: getattr(last, name) for name in fields}


def _results(organisation_id: int, form: TryForm, active: ModelVersion) -> dict:
    versions = [active, *([form.cleaned_data["compare"]] if form.cleaned_data.get("compare") else [])]
    try:
        results = trial_score(organisation_id=organisation_id, trial=form.trial(), versions=versions)
    except (NoActiveModel, ValueError) as exc:
        return {"error": str(exc)}
    for result in results:
        policy = result.policy
        bands = [
            (0.0, "low", BAND_COLOURS["low"]),
            (policy.medium, "medium", BAND_COLOURS["medium"]),
            (policy.high, "high", BAND_COLOURS["high"]),
            (policy.critical, "critical", BAND_COLOURS["critical"]),
        ]
        result.gauge = gauge(result.score.score, bands=bands, marker=policy.review_threshold)
    return {"results": results, "trial": form.trial()}


@require_GET
@login_required
def try_accounts(request):
    """The account list's options for what has been typed (`?account_id=`): the datalist, narrowed."""
    organisation_id = _organisation_id(request)
    prefix = request.GET.get("account_id", "").strip()
    accounts = selectors.accounts_matching(organisation_id=organisation_id, prefix=prefix)
    return render(request, "detection/try.html#account-options", {"accounts": accounts})
