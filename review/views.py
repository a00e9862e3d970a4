"""The review workspace's pages: the queue, the transaction page, and the claim / release / decide actions.

Actions answer an htmx request with the item's row partial (the same one the websocket pushes) and a plain
form post with a redirect, so every page works without JavaScript too. Everything is the request's organisation's:
items and transactions reach a view only through the access helpers below, which answer 404 for any other's.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from detection.scoring.services import transaction_latest_score
from review import selectors, services, working_slice
from review.access import VIEW_PERM, decide_required
from review.access import organisation_id as _organisation_id
from review.bulk.services import may_assign
from review.bulk.views import bulk_context
from review.charts import timeline_svg
from review.forms import DecisionForm, NoteForm, QueueFilterForm
from review.models import ReviewItem
from review.places import card_not_present
from review.rendering import can_decide, row_context
from transactions.models import Transaction

PAGE_SIZE = 50


def _get_item_for_request(request, pk: int) -> ReviewItem:
    """The request's organisation's review item, or 404 for anyone who may not see review items and for another
    organisation's item."""
    if not request.user.has_perm(VIEW_PERM):
        raise Http404("No such item.")
    items = selectors.review_items(organisation_id=_organisation_id(request))
    return get_object_or_404(items.select_related("transaction__source", "score", "assignee"), pk=pk)


def _get_transaction_for_request(request, pk: int) -> Transaction:
    """The request's organisation's transaction, or 404 for anyone who may not see transactions and the review
    workspace and for another organisation's transaction."""
    if not (request.user.has_perm("transactions.view_transaction") and request.user.has_perm(VIEW_PERM)):
        raise Http404("No such transaction.")
    transactions = selectors.transactions_of(organisation_id=_organisation_id(request))
    return get_object_or_404(transactions.select_related("source"), pk=pk)


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def _queue_url(request) -> str:
    """The queue under the filters this person works with (the session's)."""
    return working_slice.queue_url(session=request.session)


@require_GET
def queue(request):
    if not request.user.has_perm(VIEW_PERM):
        raise PermissionDenied
    if not request.GET and working_slice.queue_filters_query(session=request.session):
        return redirect(_queue_url(request))  # the queue as this person left it
    organisation_id = _organisation_id(request)
    form = QueueFilterForm(request.GET, sources=selectors.review_live_sources(organisation_id=organisation_id))
    filters = form.filters()
    if "reset" in request.GET or any(name in request.GET for name in form.fields):
        working_slice.queue_filters_save(session=request.session, filters=filters)
    items = selectors.review_queue(organisation_id=organisation_id, user=request.user, filters=filters)
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "counts": selectors.review_queue_counts(organisation_id=organisation_id, user=request.user),
        **bulk_context(request, kind="items", total=page.paginator.count),
        **row_context(request.user),
    }
    template = "review/queue.html#queue-table" if request.htmx and not request.htmx.boosted else "review/queue.html"
    return render(request, template, context)


def _row_response(request, item: ReviewItem, *, flash: str = "", saved: bool = False):
    item = _get_item_for_request(request, item.pk)  # as it is now
    context = {"item": item, "flash": flash, "flash_saved": saved, **row_context(request.user)}
    return render(request, "review/queue.html#action-response", context)


def _after_action(request, item: ReviewItem, *, error: str = "", saved: str = ""):
    """The row (htmx) or a redirect back, with the refusal, or the confirmation of what was saved."""
    if request.htmx:
        return _row_response(request, item, flash=error or saved, saved=not error and bool(saved))
    if error:
        messages.error(request, error)
    elif saved:
        messages.success(request, saved)
    return redirect(_next_url(request, _queue_url(request)))


def _attempt(request, action, item: ReviewItem, **fields) -> str:
    """Run one of the item's review services as the request's user: "" when done, else why it was refused."""
    try:
        action(item=item, user=request.user, request=request, **fields)
    except services.ReviewConflict as conflict:
        return str(conflict)
    return ""


@require_POST
@decide_required
def claim_next(request):
    """The next open item of the live queue under the filters this person works with."""
    filters = working_slice.queue_filters(session=request.session)
    item = services.review_claim_next(
        organisation_id=_organisation_id(request), user=request.user, filters=filters, request=request
    )
    if item is None:
        if working_slice.queue_filters_query(session=request.session):
            messages.info(request, "Nothing left to claim under these filters.")
        else:
            messages.info(request, "Nothing left to claim: the queue is empty.")
        return redirect(_queue_url(request))
    return redirect("review:transaction", pk=item.transaction_id)


@require_POST
@decide_required
def item_claim(request, pk: int):
    item = _get_item_for_request(request, pk)
    return _after_action(request, item, error=_attempt(request, services.review_claim, item))


@require_POST
@decide_required
def item_release(request, pk: int):
    item = _get_item_for_request(request, pk)
    return _after_action(request, item, error=_attempt(request, services.review_release, item))


@require_POST
@decide_required
def item_decide(request, pk: int):
    item = _get_item_for_request(request, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _after_action(request, item, error="Choose fraud, legitimate or needs more information.")
    error = _attempt(request, services.review_decide, item, **form.cleaned_data)
    saved = "" if error else _decision_saved(item, form.cleaned_data["decision"])
    if not error and request.POST.get("then") == "next" and not request.htmx:
        messages.success(request, saved)
        return claim_next(request)
    return _after_action(request, item, error=error, saved=saved)


def _decision_saved(item: ReviewItem, decision: str) -> str:
    tx = item.transaction
    words = ReviewItem.Decision(decision).label.lower()
    return f"Decision saved: {words} on {tx.amount:,.2f} {tx.currency} of {tx.account_id} ({tx.transaction_id})."


@require_POST
@decide_required
def item_note(request, pk: int):
    item = _get_item_for_request(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        services.review_note_add(item=item, user=request.user, note=form.cleaned_data["note"])
    else:
        messages.error(request, "A note cannot be empty.")
    return redirect(_next_url(request, reverse("review:transaction", args=[item.transaction_id])))


@require_GET
def transaction_detail(request, pk: int):
    try:
        tx = _get_transaction_for_request(request, pk)
    except Http404:
        archived = selectors.archived_transaction(organisation_id=_organisation_id(request), pk=pk)
        may_view = request.user.has_perm("transactions.view_transaction") and request.user.has_perm(VIEW_PERM)
        if archived is None or not may_view:
            raise
        context = {"key": archived, "month": archived.timestamp.strftime("%Y-%m"), "back_url": _queue_url(request)}
        return render(request, "review/transaction_archived.html", context, status=410)
    item = selectors.review_item_for_transaction(transaction=tx)
    history = selectors.account_history(transaction=tx)
    back_url, back_label = _back_from_item(request, item)
    context = {
        "back_url": back_url,
        "back_label": back_label,
        "tx": tx,
        "item": item,
        "score": item.score if item else transaction_latest_score(tx),
        "history": history,
        "timeline": timeline_svg(history, marked=tx),
        "merchant": selectors.merchant_activity(transaction=tx),
        "places": card_not_present(tx),
        "related": selectors.related_decisions(transaction=tx),
        "entries": selectors.review_item_history(item=item) if item else [],
        "decision_form": DecisionForm(),
        "note_form": NoteForm(),
        "can_decide": can_decide(request.user),
        "may_assign": may_assign(request.user),
        **bulk_context(request, kind="items", total=1),
    }
    return render(request, "review/transaction.html", context)


def _back_from_item(request, item: ReviewItem | None) -> tuple[str, str]:
    """Where an item's page leads back to: its upload's view for an upload's item, else the queue under the
    filters this person works with."""
    if item is not None and item.origin == ReviewItem.Origin.UPLOAD and item.job_id:
        return reverse("review:upload", args=[item.job_id]), "Upload's flagged rows"
    return _queue_url(request), "Review queue"


# ------------------------------------------------------------------ an upload's own view


def _get_upload_job_for_request(request, job_id: int):
    """The request's organisation's upload job (a person's, from the upload pages), or 404; 403 for anyone who
    may not see review items."""
    if not request.user.has_perm(VIEW_PERM):
        raise PermissionDenied
    job = selectors.review_upload_job(organisation_id=_organisation_id(request), job_id=job_id)
    if job is None:
        raise Http404("No such upload.")
    return job


@require_GET
def upload_items(request, job_id: int):
    """An upload's flagged rows, kept out of the live queue: reviewed here, if at all, or closed together."""
    job = _get_upload_job_for_request(request, job_id)
    organisation_id = _organisation_id(request)
    items = selectors.review_upload_items(organisation_id=organisation_id, job_id=job.pk)
    context = {
        "job": job,
        "page": Paginator(items, PAGE_SIZE).get_page(request.GET.get("page")),
        "counts": selectors.review_upload_counts(organisation_id=organisation_id, job_id=job.pk),
        "confirm_close": request.GET.get("confirm") == "close",
        "can_decide": can_decide(request.user),
    }
    return render(request, "review/upload.html", context)


@require_POST
@decide_required
def upload_close(request, job_id: int):
    """Close every item of the upload still to do, without a decision (they give no label)."""
    job = _get_upload_job_for_request(request, job_id)
    items = selectors.review_upload_items(organisation_id=_organisation_id(request), job_id=job.pk)
    closed = services.review_upload_close(job=job, items=items, user=request.user, request=request)
    messages.success(request, f"Closed {closed:,} item{'s' if closed != 1 else ''} of this upload without a decision.")
    return redirect("review:upload", job_id=job.pk)
