"""Reads of the try page: the organisation's accounts to choose from and its versions to try beside the active one."""

from django.db.models import QuerySet

from detection.models import ModelVersion
from transactions.models import Transaction

ACCOUNTS_OFFERED = 50
TRAINED = (ModelVersion.Status.ACTIVE, ModelVersion.Status.READY, ModelVersion.Status.RETIRED)


def accounts_matching(*, organisation_id: int, prefix: str = "", limit: int = ACCOUNTS_OFFERED) -> list[str]:
    """The organisation's stored accounts starting with `prefix` (any case), fewest characters first, at most
    `limit`: the try page's account list, narrowed as one types."""
    stored = Transaction.objects.filter(source__organisation_id=organisation_id)
    if prefix:
        stored = stored.filter(account_id__istartswith=prefix)
    accounts = stored.order_by().values_list("account_id", flat=True).distinct()[: limit * 20]
    return sorted(set(accounts), key=lambda a: (len(a), a))[:limit]


def account_is_stored(*, organisation_id: int, account_id: str) -> bool:
    stored = Transaction.objects.filter(source__organisation_id=organisation_id, account_id=account_id)
    return stored.exists()


def account_last_transaction(*, organisation_id: int, account_id: str) -> Transaction | None:
    """The account's newest stored transaction (the form's starting values), or None."""
    stored = Transaction.objects.filter(source__organisation_id=organisation_id, account_id=account_id)
    return stored.order_by("-timestamp", "-id").first()


def versions_trained(*, organisation_id: int) -> QuerySet[ModelVersion]:
    """The organisation's versions that can score (the second model to try), without their artifacts."""
    versions = ModelVersion.objects.filter(organisation_id=organisation_id, status__in=TRAINED)
    return versions.defer("artifact").order_by("-version")
