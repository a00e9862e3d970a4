"""Bulk actions on the queue's items (`/review/bulk/`) and on cases (`/review/cases/bulk/`): a first POST answers
with a confirmation that says how many rows the action will touch; the confirmed POST does it and goes back with a
message saying what was done. The rows are the selected ids, or every row matching the page's filters."""

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from review import selectors as review_selectors
from review.access import decide_required
from review.access import organisation_id as _organisation_id
from review.bulk import services
from review.bulk.forms import ACTION_LABELS, BulkForm, assignable_users
from review.cases.forms import CaseFilterForm
from review.cases.selectors import case_list, cases_of
from review.cases.services import cases_bulk as cases_bulk_run
from review.forms import QueueFilterForm


def bulk_context(request, *, kind: str, total: int) -> dict:
    """What a page's bulk bar shows: the actions this user may take, whom to assign to, the filters in force."""
    actions = [(a, ACTION_LABELS[a]) for a in services.ACTIONS if a != "assign" or services.may_assign(request.user)]
    return {
        "bulk_kind": kind,
        "bulk_actions": actions,
        "bulk_assignees": assignable_users(_organisation_id(request)) if services.may_assign(request.user) else [],
        "bulk_total": total,
        "bulk_query": request.GET.urlencode(),
    }


def _next(request, form_next: str, default: str) -> str:
    if url_has_allowed_host_and_scheme(
        form_next, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return form_next
    return default


def _items(request, data: dict):
    organisation_id = _organisation_id(request)
    if data["all_matching"]:
        filters = QueueFilterForm(QueryDict(data["query"] or "")).filters()
        return review_selectors.review_queue(organisation_id=organisation_id, user=request.user, filters=filters)
    return review_selectors.review_items(organisation_id=organisation_id).filter(pk__in=data["ids"])


def _cases(request, data: dict):
    organisation_id = _organisation_id(request)
    if data["all_matching"]:
        filters = CaseFilterForm(QueryDict(data["query"] or "")).filters()
        return case_list(organisation_id=organisation_id, user=request.user, filters=filters)
    return cases_of(organisation_id=organisation_id).filter(pk__in=data["ids"])


def form_errors(form) -> str:
    """Every error of the form in one line, each named by its field's label ("Reason: say why.")."""
    errors = []
    for name, field_errors in form.errors.items():
        label = "" if name == "__all__" else f"{form.fields[name].label or name}: "
        errors += [f"{label}{error}" for error in field_errors]
    return " ".join(errors)


def _refuse(request, form: BulkForm, back: str):
    messages.error(request, form_errors(form))
    return redirect(back)


@require_POST
@decide_required
def items_bulk(request):
    organisation_id = _organisation_id(request)
    form = BulkForm(request.POST, organisation_id=organisation_id)
    back = _next(request, request.POST.get("next", ""), reverse("review:queue"))
    if not form.is_valid():
        return _refuse(request, form, back)
    data = form.cleaned_data
    items = _items(request, data)
    if data["action"] == "assign" and not services.may_assign(request.user):
        messages.error(request, "Only a lead assigns work.")
        return redirect(back)
    if not data["confirm"]:
        return _confirm(request, form, kind="items", count=items.count(), back=back)
    ids = list(items.values_list("pk", flat=True))
    chosen = review_selectors.review_items(organisation_id=organisation_id).filter(pk__in=ids)
    common = {"items": chosen, "user": request.user, "organisation_id": organisation_id, "request": request}
    try:
        result = _run_on_items(data, common)
    except services.BulkRefused as refused:
        messages.error(request, str(refused))
        return redirect(back)
    messages.success(request, result.summary())
    return redirect(back)


def _run_on_items(data: dict, common: dict) -> services.BulkResult:
    action = data["action"]
    if action in ("fraud", "legitimate"):
        return services.review_items_bulk_decide(decision=action, note=data["note"], **common)
    if action == "close":
        return services.review_items_bulk_close(note=data["note"], **common)
    if action == "release":
        return services.review_items_bulk_release(**common)
    if action == "assign":
        return services.review_items_bulk_assign(assignee=data["assignee"], **common)
    return services.review_items_bulk_snooze(until=data["until"], reason=data["reason"], **common)


@require_POST
@decide_required
def cases_bulk(request):
    organisation_id = _organisation_id(request)
    form = BulkForm(request.POST, organisation_id=organisation_id)
    back = _next(request, request.POST.get("next", ""), reverse("review:cases"))
    if not form.is_valid():
        return _refuse(request, form, back)
    data = form.cleaned_data
    cases = _cases(request, data)
    if data["action"] == "assign" and not services.may_assign(request.user):
        messages.error(request, "Only a lead assigns work.")
        return redirect(back)
    if not data["confirm"]:
        return _confirm(request, form, kind="cases", count=cases.count(), back=back)
    ids = list(cases.values_list("pk", flat=True))
    try:
        count, result = cases_bulk_run(
            cases=cases_of(organisation_id=organisation_id).filter(pk__in=ids),
            user=request.user,
            action=data["action"],
            organisation_id=organisation_id,
            note=data["note"],
            assignee=data["assignee"],
            until=data["until"],
            reason=data["reason"],
            request=request,
        )
    except services.BulkRefused as refused:
        messages.error(request, str(refused))
        return redirect(back)
    messages.success(request, f"{count} case{'' if count == 1 else 's'}: {result.summary()}")
    return redirect(back)


def _confirm(request, form: BulkForm, *, kind: str, count: int, back: str):
    data = form.cleaned_data
    context = {
        "kind": kind,
        "count": count,
        "noun": (kind[:-1] if count == 1 else kind),
        "action_label": ACTION_LABELS[data["action"]],
        "data": data,
        "post": request.POST,
        "ids": data["ids"],
        "back": back,
        "url": reverse("review:bulk" if kind == "items" else "review:cases_bulk"),
    }
    return render(request, "review/bulk/confirm.html", context)
