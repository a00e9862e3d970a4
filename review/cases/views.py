"""The cases pages: all cases (`/review/cases/`, the queue worked by case) and one case (`/review/cases/<id>/`) with
its items, the account's timeline, notes, attachments and history; and the case's actions (note, attach, link,
decide). Cases reach a view only through `_get_case_for_request`, which answers 404 for another organisation's."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from review import selectors as review_selectors
from review.access import VIEW_PERM, decide_required
from review.access import organisation_id as _organisation_id
from review.bulk.services import BulkRefused, may_assign
from review.bulk.views import bulk_context, form_errors
from review.cases import selectors, services
from review.cases.forms import CaseAttachmentForm, CaseDecisionForm, CaseFilterForm, CaseLinkForm, CaseNoteForm
from review.charts import timeline_svg
from review.models import Case
from review.rendering import row_context

PAGE_SIZE = 50


def _get_case_for_request(request, pk: int) -> Case:
    """The request's organisation's case, or 404 for anyone who may not see review items and for another
    organisation's case."""
    if not request.user.has_perm(VIEW_PERM):
        raise Http404("No such case.")
    cases = selectors.cases_of(organisation_id=_organisation_id(request))
    return get_object_or_404(cases.select_related("assignee"), pk=pk)


@require_GET
def case_list(request):
    if not request.user.has_perm(VIEW_PERM):
        raise PermissionDenied
    form = CaseFilterForm(request.GET)
    organisation_id = _organisation_id(request)
    cases = selectors.case_list(organisation_id=organisation_id, user=request.user, filters=form.filters())
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "case_counts": selectors.case_counts(organisation_id=organisation_id, user=request.user),
        **bulk_context(request, kind="cases", total=page.paginator.count),
        **row_context(request.user),
    }
    template = (
        "review/cases/list.html#cases-table" if request.htmx and not request.htmx.boosted else "review/cases/list.html"
    )
    return render(request, template, context)


def _case_context(request, case: Case, **forms) -> dict:
    items = list(selectors.case_items(case=case))
    newest = max(items, key=lambda i: i.transaction.timestamp, default=None)
    history = review_selectors.account_history(transaction=newest.transaction) if newest else []
    return {
        "case": case,
        "items": items,
        "open_items": [i for i in items if i.status in ("open", "in_review")],
        "timeline": timeline_svg(history, marked=newest.transaction) if newest else None,
        "history": history,
        "events": selectors.case_events(case=case),
        "notes": selectors.case_notes(case=case),
        "attachments": selectors.case_attachments(case=case),
        "note_form": forms.get("note_form") or CaseNoteForm(),
        "attachment_form": forms.get("attachment_form") or CaseAttachmentForm(),
        "attachment_error": forms.get("attachment_error", ""),
        "attachment_limit": settings.CASE_ATTACHMENT_MAX_BYTES,
        "link_form": forms.get("link_form") or CaseLinkForm(),
        "decision_form": forms.get("decision_form") or CaseDecisionForm(initial={"scope": "all"}),
        "decision_errors": form_errors(forms["decision_form"]) if "decision_form" in forms else "",
        "link_errors": form_errors(forms["link_form"]) if "link_form" in forms else "",
        "may_assign": may_assign(request.user),
        **bulk_context(request, kind="cases", total=1),
        **row_context(request.user),
    }


@require_GET
def case_detail(request, pk: int):
    case = _get_case_for_request(request, pk)
    return render(request, "review/cases/detail.html", _case_context(request, case))


def _invalid(request, case: Case, status: int = 400, **forms):
    return render(request, "review/cases/detail.html", _case_context(request, case, **forms), status=status)


@require_POST
@decide_required
def case_note(request, pk: int):
    case = _get_case_for_request(request, pk)
    form = CaseNoteForm(request.POST)
    if not form.is_valid():
        return _invalid(request, case, note_form=form)
    services.case_note_add(case=case, user=request.user, text=form.cleaned_data["text"])
    messages.success(request, "Note added.")
    return redirect("review:case", pk=case.pk)


@require_POST
@decide_required
def case_attach(request, pk: int):
    case = _get_case_for_request(request, pk)
    declared = request.META.get("CONTENT_LENGTH") or ""
    form = CaseAttachmentForm(request.POST, request.FILES)
    try:
        if declared.isdigit():  # refused before the body is read, with a margin for the form's own fields
            services.attachment_size_check(int(declared) - 64 * 1024)
        if form.is_valid():
            services.case_attachment_add(case=case, user=request.user, upload=form.cleaned_data["file"])
            messages.success(request, "File attached.")
            return redirect("review:case", pk=case.pk)
    except services.CaseRefused as refused:
        return _invalid(request, case, status=413, attachment_error=str(refused))
    return _invalid(request, case, attachment_form=form)


@require_GET
def case_attachment(request, pk: int, attachment_pk: int):
    case = _get_case_for_request(request, pk)
    attachment = get_object_or_404(case.attachments, pk=attachment_pk)
    path = services.attachment_path(attachment)
    if not path.exists():
        raise Http404("The file is no longer stored.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=attachment.original_name)


@require_POST
@decide_required
def case_link(request, pk: int):
    case = _get_case_for_request(request, pk)
    form = CaseLinkForm(request.POST)
    if not form.is_valid():
        return _invalid(request, case, link_form=form)
    items = review_selectors.review_items(organisation_id=_organisation_id(request))
    try:
        moved = services.case_link(case=case, items=items, user=request.user, **form.cleaned_data)
    except services.CaseRefused as refused:
        form.add_error(None, str(refused))
        return _invalid(request, case, link_form=form)
    messages.success(request, f"Linked {moved} item{'' if moved == 1 else 's'} to this case.")
    return redirect("review:case", pk=case.pk)


@require_POST
@decide_required
def case_decide(request, pk: int):
    case = _get_case_for_request(request, pk)
    form = CaseDecisionForm(request.POST)
    if not form.is_valid():
        return _invalid(request, case, decision_form=form)
    data = form.cleaned_data
    item_ids = None if data["scope"] == "all" else data["items"]
    try:
        result = services.case_decide(
            case=case,
            user=request.user,
            decision=data["decision"],
            note=data["note"],
            item_ids=item_ids,
            request=request,
        )
    except BulkRefused as refused:
        form.add_error(None, str(refused))
        return _invalid(request, case, decision_form=form)
    messages.success(request, result.summary())
    return redirect("review:case", pk=case.pk)
