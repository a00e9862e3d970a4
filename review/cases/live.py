"""The cases pages' live updates, over the review queue's own websocket and broadcasts (review.broadcast): a socket
opened with `?view=cases&<filters>` is the cases page's, one opened with `?case=<id>` a case page's. Each renders the
rows its page shows with the page's own partials, for its own user, swapped out-of-band by id (a row not on the page
yet is added at the top by static/js/cases.js)."""

from django.db.models import Q
from django.template.loader import render_to_string

from review.cases.forms import CaseFilterForm
from review.cases.selectors import case_counts, case_items, case_list, cases_of
from review.rendering import row_context

MAX_ROWS_PER_MESSAGE = 50


def socket_mode(query) -> tuple[str, object]:
    """("cases", the filters) for the cases page, ("case", its id) for a case page, ("items", None) otherwise."""
    if query.get("view") == "cases":
        return "cases", CaseFilterForm(query).filters()
    if (query.get("case") or "").isdigit():
        return "case", int(query["case"])
    return "items", None


def cases_update_html(*, organisation_id: int, user, filters: dict, item_ids, case_ids) -> str:
    """The rows of the cases touched by these items or named, as this page's filters show them (or their removal)."""
    touched = set(
        cases_of(organisation_id=organisation_id)
        .filter(Q(items__pk__in=list(item_ids)) | Q(pk__in=list(case_ids)))
        .values_list("pk", flat=True)[:MAX_ROWS_PER_MESSAGE]
    )
    shown = list(case_list(organisation_id=organisation_id, user=user, filters=filters).filter(pk__in=touched))
    removed = touched - {case.pk for case in shown}
    context = {
        "cases": shown,
        "removed_ids": sorted(removed),
        "case_counts": case_counts(organisation_id=organisation_id, user=user),
        **row_context(user),
    }
    return render_to_string("review/cases/list.html#socket-update", context)


def case_update_html(*, organisation_id: int, user, case_id: int, item_ids, case_ids) -> str:
    """A case page's changed or new item rows, and its summary when the case itself changed."""
    case = cases_of(organisation_id=organisation_id).select_related("assignee").filter(pk=case_id).first()
    if case is None:
        return ""
    items = list(case_items(case=case).filter(pk__in=list(item_ids)[:MAX_ROWS_PER_MESSAGE]))
    if not items and case_id not in set(case_ids):
        return ""
    context = {"case": case, "items": items, "oob": True, **row_context(user)}
    return render_to_string("review/cases/detail.html#socket-update", context)
