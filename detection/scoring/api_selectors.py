"""What the partner API reads: a caller's transactions, filtered, with their latest scores."""

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404

from detection.models import Score
from transactions.models import Source, Transaction

LABEL_FILTERS = {"fraud": {"label": 1}, "legitimate": {"label": 0}, "unlabelled": {"label__isnull": True}}


def transactions_visible(*, source: Source | None = None, organisation=None) -> QuerySet[Transaction]:
    """A partner sees its own source's transactions; a person (with the permission) those of the organisation they
    work in; anyone else nothing."""
    if source is not None:
        return Transaction.objects.filter(source=source)
    if organisation is not None:
        return Transaction.objects.filter(source__organisation=organisation)
    return Transaction.objects.none()


def transaction_get(*, transaction_id: str, source: Source | None = None, organisation=None) -> Transaction:
    """The transaction with this id among those the caller may see, with `latest_score`; 404 otherwise."""
    visible = transactions_visible(source=source, organisation=organisation)
    transaction = visible.filter(transaction_id=transaction_id).order_by("-ingested_at").first()
    if transaction is None:
        raise Http404
    return with_latest_scores([transaction])[0]


def transaction_list(*, filters: dict, source: Source | None = None, organisation=None) -> QuerySet[Transaction]:
    queryset = transactions_visible(source=source, organisation=organisation)
    if "since" in filters:
        queryset = queryset.filter(timestamp__gte=filters["since"])
    if "until" in filters:
        queryset = queryset.filter(timestamp__lt=filters["until"])
    if "account_id" in filters:
        queryset = queryset.filter(account_id=filters["account_id"])
    if "label" in filters:
        queryset = queryset.filter(**LABEL_FILTERS[filters["label"]])
    if "risk_level" in filters:
        latest = Score.objects.filter(transaction=OuterRef("pk"), transaction_time=OuterRef("timestamp"))
        latest = latest.order_by("-created_at", "-id")
        queryset = queryset.annotate(latest_risk=Subquery(latest.values("risk_level")[:1]))
        queryset = queryset.filter(latest_risk=filters["risk_level"])
    return queryset


def with_latest_scores(transactions: list[Transaction]) -> list[Transaction]:
    """Attach each transaction's newest score as `latest_score` (None if unscored), in one query."""
    ids = [t.pk for t in transactions]
    scores = (
        Score.objects.select_related("model_version")
        .filter(transaction_id__in=ids, transaction_time__in={t.timestamp for t in transactions})  # their months
        .order_by("transaction_id", "-created_at", "-id")
        .distinct("transaction_id")
    )
    by_transaction = {score.transaction_id: score for score in scores} if ids else {}
    for transaction in transactions:
        transaction.latest_score = by_transaction.get(transaction.pk)
    return transactions
