"""Reads of cases; each takes the organisation it reads for and returns only that organisation's rows."""

from datetime import timedelta

from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from review.models import Case, CaseAttachment, CaseEvent, ReviewItem

ACTIVE = (ReviewItem.Status.OPEN, ReviewItem.Status.IN_REVIEW)
ORDERINGS = {
    "age": ("created_at", "pk"),
    "score": ("-max_score", "created_at", "pk"),
    "items": ("-active_items", "created_at", "pk"),
    "amount": ("-active_amount", "created_at", "pk"),
}


def cases_of(*, organisation_id: int | None) -> QuerySet[Case]:
    """The organisation's cases (none without an organisation): where every read and action on cases starts."""
    if organisation_id is None:
        return Case.objects.none()
    return Case.objects.filter(organisation_id=organisation_id)


def _not_snoozed_q() -> Q:
    return Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=timezone.now())


def _status_q(status: str | None) -> Q:
    if status == "all":
        return Q()
    if status == "closed":
        return Q(status=Case.Status.CLOSED)
    if status == "snoozed":
        return Q(status=Case.Status.OPEN, snoozed_until__gt=timezone.now())
    return Q(status=Case.Status.OPEN) & _not_snoozed_q()


def _filters_q(filters: dict, user) -> Q:
    q = _status_q(filters.get("status"))
    assignee = filters.get("assignee")
    if assignee == "me":
        q &= Q(assignee=user)
    elif assignee == "unassigned":
        q &= Q(assignee__isnull=True)
    if "account" in filters:
        q &= Q(account_id__icontains=filters["account"])
    if "min_age" in filters:
        q &= Q(created_at__lte=timezone.now() - timedelta(minutes=int(filters["min_age"])))
    return q


def case_list(*, organisation_id: int | None, user, filters: dict) -> QuerySet[Case]:
    """The organisation's cases matching the filters, each with its counts, top score and amount at stake: one
    query for the page."""
    active = Q(items__status__in=ACTIVE)
    ordering = ORDERINGS.get(filters.get("sort") or "age", ORDERINGS["age"])
    return (
        cases_of(organisation_id=organisation_id)
        .filter(_filters_q(filters, user))
        .select_related("assignee")
        .annotate(
            item_count=Count("items", distinct=True),
            active_items=Count("items", filter=active, distinct=True),
            max_score=Max("items__score__score"),
            active_amount=Sum("items__transaction__amount", filter=active),
            oldest_item=Min("items__created_at"),
        )
        .order_by(*ordering)
    )


def case_counts(*, organisation_id: int | None, user) -> dict[str, int]:
    """Open (not snoozed), snoozed, unassigned and mine among the organisation's open cases: one query."""
    now = timezone.now()
    snoozed = Q(snoozed_until__gt=now)
    return (
        cases_of(organisation_id=organisation_id)
        .filter(status=Case.Status.OPEN)
        .aggregate(
            open=Count("pk", filter=~snoozed),
            snoozed=Count("pk", filter=snoozed),
            unassigned=Count("pk", filter=Q(assignee__isnull=True) & ~snoozed),
            mine=Count("pk", filter=Q(assignee=user)),
        )
    )


def case_items(*, case: Case) -> QuerySet[ReviewItem]:
    """The case's items, those still to be done first, each with what its row shows."""
    return case.items.select_related("transaction", "score", "assignee", "decided_by").order_by(
        "decided_at", "-priority", "pk"
    )


def case_events(*, case: Case) -> QuerySet[CaseEvent]:
    return case.events.select_related("user").order_by("-created_at", "-pk")


def case_notes(*, case: Case) -> QuerySet[CaseEvent]:
    return case_events(case=case).filter(kind=CaseEvent.Kind.NOTE)


def case_attachments(*, case: Case) -> QuerySet[CaseAttachment]:
    return case.attachments.select_related("uploaded_by").order_by("-created_at", "-pk")


def case_for_transaction(*, organisation_id: int | None, transaction_id: int) -> Case | None:
    """The case of a transaction's review item, if it has one (for the transaction page's link)."""
    return cases_of(organisation_id=organisation_id).filter(items__transaction_id=transaction_id).first()
