"""Reads for the review workspace; each returns a queryset or plain data, never renders."""

from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from review.models import ReviewDecision, ReviewItem
from transactions.models import Transaction

ORDERINGS = {
    "priority": ("-priority", "created_at", "pk"),
    "score": ("-score__score", "created_at", "pk"),
    "amount": ("-transaction__amount", "created_at", "pk"),
    "age": ("created_at", "pk"),
}
ACTIVE = (ReviewItem.Status.OPEN, ReviewItem.Status.IN_REVIEW)


def _status_q(status: str) -> Q:
    if status == "all":
        return Q()
    if status == "needs_info":
        return Q(status=ReviewItem.Status.IN_REVIEW, decision=ReviewItem.Decision.NEEDS_INFO)
    if status in ReviewItem.Status.values:
        return Q(status=status)
    return Q(status__in=ACTIVE)


def _assignee_q(assignee: str | None, user) -> Q:
    if assignee == "me":
        return Q(assignee=user)
    if assignee == "unassigned":
        return Q(assignee__isnull=True)
    return Q()


def _filters_q(filters: dict, user) -> Q:
    q = _status_q(filters.get("status", "active")) & _assignee_q(filters.get("assignee"), user)
    if "risk" in filters:
        q &= Q(score__risk_level=filters["risk"])
    if "min_amount" in filters:
        q &= Q(transaction__amount__gte=filters["min_amount"])
    if "max_amount" in filters:
        q &= Q(transaction__amount__lte=filters["max_amount"])
    if "category" in filters:
        q &= Q(transaction__merchant_category__iexact=filters["category"])
    if "min_age" in filters:
        q &= Q(created_at__lte=timezone.now() - timedelta(minutes=int(filters["min_age"])))
    return q


def review_queue(*, user, filters: dict) -> QuerySet[ReviewItem]:
    """Items matching the queue's filters in the chosen order, with everything a row shows joined in."""
    ordering = ORDERINGS.get(filters.get("sort", "priority"), ORDERINGS["priority"])
    return (
        ReviewItem.objects.filter(_filters_q(filters, user))
        .select_related("transaction", "score", "assignee")
        .order_by(*ordering)
    )


def review_queue_counts(*, user) -> dict[str, int]:
    """Open, in review, waiting for information, and claimed by this user: one aggregate query."""
    return ReviewItem.objects.filter(status__in=ACTIVE).aggregate(
        open=Count("pk", filter=Q(status=ReviewItem.Status.OPEN)),
        in_review=Count("pk", filter=Q(status=ReviewItem.Status.IN_REVIEW)),
        needs_info=Count("pk", filter=Q(decision=ReviewItem.Decision.NEEDS_INFO)),
        mine=Count("pk", filter=Q(assignee=user)),
    )


def review_item_for_transaction(*, transaction: Transaction) -> ReviewItem | None:
    return (
        ReviewItem.objects.select_related("score", "score__model_version", "assignee", "decided_by")
        .filter(transaction=transaction)
        .first()
    )


def review_item_history(*, item: ReviewItem) -> QuerySet[ReviewDecision]:
    return item.decisions.select_related("user").order_by("-created_at", "-pk")


def account_history(*, transaction: Transaction, before: int = 60, after: int = 10) -> list[Transaction]:
    """The account's transactions around this one, oldest first: up to `before` earlier and `after` later."""
    base = Transaction.objects.for_account(transaction.account_id).exclude(pk=transaction.pk)
    earlier = list(base.filter(timestamp__lte=transaction.timestamp).order_by("-timestamp", "-pk")[:before])
    later = list(base.filter(timestamp__gt=transaction.timestamp).order_by("timestamp", "pk")[:after])
    return [*reversed(earlier), transaction, *later]


def merchant_activity(*, transaction: Transaction, limit: int = 10) -> dict:
    """The merchant's recent transactions before this one, with counts over the last day and week."""
    if not transaction.merchant_id:
        return {"recent": [], "stats": None}
    at = transaction.timestamp
    window = Transaction.objects.filter(merchant_id=transaction.merchant_id, timestamp__lte=at)
    stats = window.filter(timestamp__gt=at - timedelta(days=7)).aggregate(
        week=Count("pk"),
        day=Count("pk", filter=Q(timestamp__gt=at - timedelta(days=1))),
        accounts=Count("account_id", distinct=True),
        fraud=Count("pk", filter=Q(label=Transaction.FRAUD)),
        flagged=Count("pk", filter=Q(review_item__isnull=False)),
    )
    recent = list(window.exclude(pk=transaction.pk).select_related("review_item").order_by("-timestamp")[:limit])
    return {"recent": recent, "stats": stats}


def related_decisions(*, transaction: Transaction, limit: int = 10) -> QuerySet[ReviewDecision]:
    """Earlier decisions on the same account or merchant (not notes, not this transaction's)."""
    same = Q(item__transaction__account_id=transaction.account_id)
    if transaction.merchant_id:
        same |= Q(item__transaction__merchant_id=transaction.merchant_id)
    return (
        ReviewDecision.objects.filter(same)
        .exclude(decision="")
        .exclude(item__transaction=transaction)
        .select_related("item__transaction", "user")
        .order_by("-created_at", "-pk")[:limit]
    )


def review_queue_depth_gauge():
    """/metrics: review items not yet decided, by status (read at scrape time)."""
    queue = GaugeMetricFamily("anomaly_review_queue_depth", "Review items not yet decided.", labels=["status"])
    for status in ACTIVE:
        queue.add_metric([status], ReviewItem.objects.filter(status=status).count())
    yield queue
