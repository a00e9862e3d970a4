"""The search page: every stored transaction of the request's organisation, by id, account, merchant or device,
amount and dates."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_GET

from search.forms import SearchForm, position_text
from search.selectors import Criteria, transactions_search

# The transaction page (review:transaction) asks for both, so whoever may search may open what it finds.
SEARCH_PERMS = ("transactions.view_transaction", "review.view_reviewitem")


def may_search(user) -> bool:
    return user.has_perms(SEARCH_PERMS)


@require_GET
def search(request):
    if not may_search(request.user):
        raise PermissionDenied
    form = SearchForm(request.GET)
    criteria = form.criteria() if form.is_valid() else Criteria()
    page = transactions_search(
        organisation_id=getattr(request.organisation, "pk", None),
        criteria=criteria,
        after=form.cleaned_data.get("after") if form.is_valid() else None,
    )
    context = {
        "form": form,
        "criteria": criteria,
        "page": page,
        "next_after": position_text(page.next_after) if page.next_after else "",
        "first_page": bool(form.is_valid() and form.cleaned_data.get("after")),
    }
    return render(request, "search/search.html", context)
