"""Reads for the review workspace; each returns a queryset or plain data, never renders.

Every read takes the organisation it reads for and returns only that organisation's rows: items, transactions and
the account and merchant histories around them (sources of one organisation share histories; organisations never).
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from accounts.models import Organisation
from detection.models import Score, ScoringJob
from review.models import ReviewDecision, ReviewItem
from transactions.models import Source, Transaction, TransactionKey

ORDERINGS = {
    "priority": ("-priority", "created_at", "pk"),
    "score": ("-score__score", "created_at", "pk"),
    "amount": ("-transaction__amount", "created_at", "pk"),
    "age": ("created_at", "pk"),
}
ACTIVE = (ReviewItem.Status.OPEN, ReviewItem.Status.IN_REVIEW)


def not_snoozed_q() -> Q:
    """Items not snoozed now: a snoozed item leaves the queue until its time comes."""
    return Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=timezone.now())


def _status_q(status: str) -> Q:
    if status == "all":
        return Q()
    if status == "snoozed":
        return Q(status__in=ACTIVE, snoozed_until__gt=timezone.now())
    if status == "needs_info":
        return Q(status=ReviewItem.Status.IN_REVIEW, decision=ReviewItem.Decision.NEEDS_INFO) & not_snoozed_q()
    if status in ACTIVE:
        return Q(status=status) & not_snoozed_q()
    if status in ReviewItem.Status.values:
        return Q(status=status)
    return Q(status__in=ACTIVE) & not_snoozed_q()


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
    if "account" in filters:
        q &= Q(transaction__account_id=filters["account"])
    if "source" in filters:
        q &= Q(transaction__source__name=filters["source"])
    if "min_age" in filters:
        q &= Q(created_at__lte=timezone.now() - timedelta(minutes=int(filters["min_age"])))
    return q


def review_items(*, organisation_id: int | None) -> QuerySet[ReviewItem]:
    """The organisation's review items (none without an organisation): where every read and action of review starts."""
    if organisation_id is None:
        return ReviewItem.objects.none()
    return ReviewItem.objects.filter(transaction__source__organisation_id=organisation_id)


def live_items(*, organisation_id: int | None) -> QuerySet[ReviewItem]:
    """The organisation's items of live traffic: the queue's (an upload's items are worked in its own view)."""
    return review_items(organisation_id=organisation_id).filter(origin=ReviewItem.Origin.LIVE)


def review_claimable(*, organisation_id: int | None, user, filters: dict) -> QuerySet[ReviewItem]:
    """The open live items matching the queue's filters, in the queue's order: what "claim next" hands out."""
    ordering = ORDERINGS.get(filters.get("sort", "priority"), ORDERINGS["priority"])
    return (
        live_items(organisation_id=organisation_id)
        .filter(_filters_q(filters, user), status=ReviewItem.Status.OPEN)
        .order_by(*ordering)
    )


def review_live_sources(*, organisation_id: int | None) -> list[str]:
    """The names of the organisation's sources of live traffic (not its uploads), for the queue's source filter."""
    if organisation_id is None:
        return []
    sources = Source.objects.filter(organisation_id=organisation_id).exclude(kind=Source.Kind.UPLOAD)
    return list(sources.order_by("name").values_list("name", flat=True))


def review_upload_items(*, organisation_id: int | None, job_id: int) -> QuerySet[ReviewItem]:
    """An upload's flagged items (of its scoring job), highest priority first, with what a row shows."""
    return (
        review_items(organisation_id=organisation_id)
        .filter(job_id=job_id, origin=ReviewItem.Origin.UPLOAD)
        .select_related("transaction", "score", "assignee")
        .order_by(*ORDERINGS["priority"])
    )


def review_upload_job(*, organisation_id: int | None, job_id: int) -> ScoringJob | None:
    """The organisation's scoring job of a person's upload, or None (another organisation's, or a partner's job)."""
    if organisation_id is None:
        return None
    jobs = ScoringJob.objects.filter(source__organisation_id=organisation_id, source__kind=Source.Kind.UPLOAD)
    return jobs.select_related("created_by").filter(pk=job_id).first()


def review_upload_counts(*, organisation_id: int | None, job_id: int) -> dict[str, int]:
    """An upload's items by state: still to do (open and in review), decided, closed; one aggregate query."""
    return review_upload_items(organisation_id=organisation_id, job_id=job_id).aggregate(
        active=Count("pk", filter=Q(status__in=ACTIVE)),
        decided=Count("pk", filter=Q(status=ReviewItem.Status.DECIDED)),
        closed=Count("pk", filter=Q(status=ReviewItem.Status.CLOSED)),
    )


def transactions_of(*, organisation_id: int | None) -> QuerySet[Transaction]:
    """The organisation's transactions (none without an organisation)."""
    if organisation_id is None:
        return Transaction.objects.none()
    return Transaction.objects.filter(source__organisation_id=organisation_id)


def archived_transaction(*, organisation_id: int | None, pk: int) -> TransactionKey | None:
    """The organisation's transaction `pk` when its month was archived (`manage.py archive`): its key outlives the
    row, with the sender's id and time; None when it is stored, never was, or belongs to another organisation."""
    if organisation_id is None or Transaction.objects.filter(pk=pk).exists():
        return None
    sources = Source.objects.filter(organisation_id=organisation_id).values("id")
    return TransactionKey.objects.filter(pk=pk, source_id__in=sources).first()


def review_queue(*, organisation_id: int | None, user, filters: dict) -> QuerySet[ReviewItem]:
    """The organisation's items matching the queue's filters in the chosen order, with everything a row shows."""
    ordering = ORDERINGS.get(filters.get("sort", "priority"), ORDERINGS["priority"])
    return (
        live_items(organisation_id=organisation_id)
        .filter(_filters_q(filters, user))
        .select_related("transaction", "score", "assignee")
        .order_by(*ordering)
    )


def review_queue_counts(*, organisation_id: int | None, user) -> dict[str, int]:
    """The organisation's open, in review, waiting for information, and claimed by this user in the live queue: one
    aggregate query."""
    return (
        live_items(organisation_id=organisation_id)
        .filter(not_snoozed_q(), status__in=ACTIVE)
        .aggregate(
            open=Count("pk", filter=Q(status=ReviewItem.Status.OPEN)),
            in_review=Count("pk", filter=Q(status=ReviewItem.Status.IN_REVIEW)),
            needs_info=Count("pk", filter=Q(decision=ReviewItem.Decision.NEEDS_INFO)),
            mine=Count("pk", filter=Q(assignee=user)),
        )
    )


def review_item_for_transaction(*, transaction: Transaction) -> ReviewItem | None:
    return (
        ReviewItem.objects.select_related("score", "score__model_version", "assignee", "decided_by")
        .filter(transaction=transaction, score__transaction_time=transaction.timestamp)
        .first()
    )


def review_item_history(*, item: ReviewItem) -> QuerySet[ReviewDecision]:
    return item.decisions.select_related("user").order_by("-created_at", "-pk")


def _same_organisation(transaction: Transaction) -> QuerySet[Transaction]:
    return transactions_of(organisation_id=transaction.source.organisation_id)


def account_history(*, transaction: Transaction, before: int = 60, after: int = 10) -> list[Transaction]:
    """The account's transactions around this one in its organisation, oldest first: up to `before` earlier and
    `after` later."""
    base = _same_organisation(transaction).for_account(transaction.account_id).exclude(pk=transaction.pk)
    earlier = list(base.filter(timestamp__lte=transaction.timestamp).order_by("-timestamp", "-pk")[:before])
    later = list(base.filter(timestamp__gt=transaction.timestamp).order_by("timestamp", "pk")[:after])
    return [*reversed(earlier), transaction, *later]


def merchant_activity(*, transaction: Transaction, limit: int = 10) -> dict:
    """The merchant's recent transactions before this one in its organisation, with counts over the last day and
    week."""
    if not transaction.merchant_id:
        return {"recent": [], "stats": None}
    at = transaction.timestamp
    window = _same_organisation(transaction).filter(merchant_id=transaction.merchant_id, timestamp__lte=at)
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
    """Earlier decisions on the same account or merchant in its organisation (not notes, not this transaction's)."""
    same = Q(item__transaction__account_id=transaction.account_id)
    if transaction.merchant_id:
        same |= Q(item__transaction__merchant_id=transaction.merchant_id)
    return (
        ReviewDecision.objects.filter(
            same, item__transaction__source__organisation_id=transaction.source.organisation_id
        )
        .exclude(decision="")
        .exclude(item__transaction=transaction)
        .select_related("item__transaction", "user")
        .order_by("-created_at", "-pk")[:limit]
    )


def review_queue_depth_gauge():
    """/metrics: items of the live queue not yet decided, by organisation (its name) and status, zeros too (read at
    scrape time); an upload's items wait in its own view, not the queue."""
    queue = GaugeMetricFamily(
        "anomaly_review_queue_depth", "Live review items not yet decided.", labels=["organisation", "status"]
    )
    depths = dict.fromkeys(
        ((name, status) for name in Organisation.objects.values_list("name", flat=True) for status in ACTIVE), 0
    )
    rows = (
        ReviewItem.objects.filter(status__in=ACTIVE, origin=ReviewItem.Origin.LIVE)
        .values_list("transaction__source__organisation__name", "status")
        .annotate(depth=Count("pk"))
        .order_by()
    )
    depths |= {(name, status): depth for name, status, depth in rows}
    for (name, status), depth in sorted(depths.items()):
        queue.add_metric([name, status], depth)
    yield queue


def review_queue_age_gauge():
    """/metrics: the oldest undecided item's age (0 when none), and the items past their SLA (amber, red), by
    organisation, zeros too (read at scrape time)."""
    names = Organisation.objects.values_list("name", flat=True)
    oldest = GaugeMetricFamily(
        "anomaly_review_queue_oldest_seconds",
        "Age of the oldest review item not yet decided (0 when none).",
        labels=["organisation"],
    )
    over = GaugeMetricFamily(
        "anomaly_review_queue_over_sla",
        "Review items not yet decided past their SLA: amber (REVIEW_SLA_AMBER_MINUTES) and red (..._RED_MINUTES).",
        labels=["organisation", "level"],
    )
    now = timezone.now()
    amber = now - timedelta(minutes=settings.REVIEW_SLA_AMBER_MINUTES)
    red = now - timedelta(minutes=settings.REVIEW_SLA_RED_MINUTES)
    rows = {
        row["name"]: row
        for row in ReviewItem.objects.filter(status__in=ACTIVE)
        .values(name=F("transaction__source__organisation__name"))
        .annotate(
            first=Min("created_at"),
            amber=Count("pk", filter=Q(created_at__lt=amber, created_at__gte=red)),
            red=Count("pk", filter=Q(created_at__lt=red)),
        )
        .order_by()
    }
    for name in sorted(names):
        row = rows.get(name, {"first": None, "amber": 0, "red": 0})
        oldest.add_metric([name], (now - row["first"]).total_seconds() if row["first"] else 0)
        over.add_metric([name, "amber"], row["amber"])
        over.add_metric([name, "red"], row["red"])
    yield oldest
    yield over


def review_offer_candidates(*, organisation_id: int) -> QuerySet[ReviewItem]:
    """The organisation's open live items the queue policy chooses among (not snoozed), in id order."""
    return (
        live_items(organisation_id=organisation_id)
        .filter(not_snoozed_q(), status=ReviewItem.Status.OPEN)
        .order_by("pk")
    )


def review_organisations_with_open_items() -> list[int]:
    """The ids of organisations with open live items."""
    items = ReviewItem.objects.filter(status=ReviewItem.Status.OPEN, origin=ReviewItem.Origin.LIVE)
    return sorted(set(items.values_list("transaction__source__organisation_id", flat=True).distinct()))


def review_confirmed_frauds(*, organisation_id: int, since) -> tuple[list[str], list[str]]:
    """The accounts and merchants of the organisation's transactions labelled fraud since then (by an analyst or a
    partner's report): the investigations still open."""
    rows = transactions_of(organisation_id=organisation_id).filter(label=Transaction.FRAUD, labelled_at__gte=since)
    pairs = list(rows.values_list("account_id", "merchant_id"))
    return sorted({a for a, _ in pairs if a}), sorted({m for _, m in pairs if m})


def review_budget_spent(*, organisation_id: int, since) -> int:
    """Live items the organisation's analysts took since then (claimed, or decided without a claim)."""
    return (
        live_items(organisation_id=organisation_id).filter(Q(claimed_at__gte=since) | Q(decided_at__gte=since)).count()
    )


def review_investigation_transactions(*, organisation_id: int, account_id: str, merchant_id: str, since) -> list:
    """The organisation's transactions since then of this account or merchant not yet in review, each with its latest
    score: (transaction id, score id, score, amount)."""
    match = Q(account_id=account_id)
    if merchant_id:
        match |= Q(merchant_id=merchant_id)
    candidates = (
        transactions_of(organisation_id=organisation_id)
        .filter(match, timestamp__gte=since, review_item__isnull=True)
        .values_list("pk", "amount", "timestamp")
    )
    rows = list(candidates[:1000])
    amounts = {pk: amount for pk, amount, _ in rows}
    scores = Score.objects.filter(transaction_id__in=list(amounts), transaction_time__in={at for *_, at in rows})
    scores = scores.order_by("transaction_id", "-created_at", "-pk")
    latest = {}
    for transaction_id, score_id, score in scores.values_list("transaction_id", "pk", "score"):
        latest.setdefault(transaction_id, (score_id, score))
    return [(tx, *latest[tx], amounts[tx]) for tx in sorted(latest)]
