from django.conf import settings
from django.db import models
from django.db.models import Func, Q


def current_txid() -> Func:
    """The writing transaction's id: readers that keep a copy of recent rows (detection's history cache) ask for
    what changed since their last look by comparing it with a snapshot, which holds however commits interleave."""
    return Func(function="txid_current", output_field=models.BigIntegerField())


# Operator classes of the indexes over (source, sender's id) and over (an id, time): see Transaction.Meta.indexes.
BY_ID = ["int8_ops", "varchar_pattern_ops"]
BY_ID_THEN_TIME = ["varchar_pattern_ops", "timestamptz_ops"]


class Source(models.Model):
    """Who sent a transaction: a partner system, an upload, the demo generator, an import."""

    class Kind(models.TextChoices):
        PARTNER = "partner", "Partner API"
        UPLOAD = "upload", "File upload"
        IMPORT = "import", "Command-line import"
        DEMO = "demo", "Demo generator"

    # Names the product gives its own sources in every organisation: a partner token may not take them, even before
    # the source exists (the uploads of an organisation's people would otherwise score into the partner's source).
    UPLOADS = "uploads"
    RESERVED_NAMES = frozenset({UPLOADS})

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="sources")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PARTNER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="source_name_per_organisation")]

    def __str__(self) -> str:
        return self.name


class Channel(models.TextChoices):
    ONLINE = "online", "Online"
    IN_PERSON = "in_person", "In person"
    ATM = "atm", "ATM"
    OTHER = "other", "Other"


class LabelSource(models.TextChoices):
    REVIEW = "review", "Analyst review"
    REPORTED = "reported", "Reported (chargeback, customer)"
    IMPORT = "import", "Imported with the data"


class TransactionQuerySet(models.QuerySet):
    def for_account(self, account_id: str):
        return self.filter(account_id=account_id)

    def labelled(self):
        return self.filter(label__isnull=False)

    def fraud(self):
        return self.filter(label=Transaction.FRAUD)


class Transaction(models.Model):
    """One card or account transaction in the canonical schema, whichever way it came in.

    Stored in a table partitioned by month of `timestamp` (core/partitions.py; the database's primary key is
    (id, timestamp), `id` alone stays unique through TransactionKey). Months before an archive are gone from it
    (`manage.py archive`): a reference to one of their rows finds no row, and its key says it was archived.
    """

    FRAUD = 1
    LEGITIMATE = 0

    # No index of its own: the unique (source, transaction_id) constraint already serves lookups by source.
    # Enforced by statement-level triggers (core/parent_keys.py), not a per-row foreign key check.
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="transactions", db_index=False, db_constraint=False
    )
    transaction_id = models.CharField(max_length=128, help_text="The sender's id, unique per source.")
    timestamp = models.DateTimeField()
    account_id = models.CharField(max_length=128)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default=settings.DEFAULT_CURRENCY)
    merchant_id = models.CharField(max_length=128, blank=True, default="")
    merchant_category = models.CharField(max_length=64, blank=True, default="")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.OTHER)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_distance_km = models.FloatField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True, default="")
    device_id = models.CharField(max_length=128, blank=True, default="")
    # Card-not-present places (all optional: most partners send none): where the card is billed, where the goods go,
    # and the country of the customer's IP address.
    billing_latitude = models.FloatField(null=True, blank=True)
    billing_longitude = models.FloatField(null=True, blank=True)
    billing_postal_code = models.CharField(max_length=16, blank=True, default="", db_default="")
    billing_country = models.CharField(max_length=2, blank=True, default="", db_default="")
    shipping_latitude = models.FloatField(null=True, blank=True)
    shipping_longitude = models.FloatField(null=True, blank=True)
    shipping_postal_code = models.CharField(max_length=16, blank=True, default="", db_default="")
    shipping_country = models.CharField(max_length=2, blank=True, default="", db_default="")
    ip_country = models.CharField(max_length=2, blank=True, default="", db_default="")
    attributes = models.JSONField(default=dict, blank=True)
    label = models.SmallIntegerField(null=True, blank=True, choices=[(1, "Fraud"), (0, "Legitimate")])
    label_source = models.CharField(max_length=16, choices=LabelSource.choices, blank=True, default="")
    labelled_at = models.DateTimeField(null=True, blank=True)
    ingested_at = models.DateTimeField(auto_now_add=True)
    # Set on insert by this default and on every update by a trigger (migration 0003), whatever code writes.
    change_txid = models.BigIntegerField(db_default=current_txid(), editable=False)

    objects = TransactionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="transaction_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(channel__in=[c.value for c in Channel]), name="transaction_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(label__isnull=True) | Q(label__in=[0, 1]), name="transaction_label_binary"
            ),
            models.CheckConstraint(
                condition=Q(label__isnull=True, labelled_at__isnull=True)
                | Q(label__isnull=False, labelled_at__isnull=False),
                name="transaction_label_has_time",
            ),
        ]
        # The ids are only ever compared for equality (then ranges of time): their indexes compare them byte by byte
        # (varchar_pattern_ops, which serve `=` and `= ANY`), not by the database's collation, which costs every
        # import and ingest more per row than any other index (migration 0010).
        indexes = [
            # Not unique: the table is partitioned by month of `timestamp` (migration 0009), and a resend may carry
            # a corrected time; TransactionKey holds the (source, transaction_id) uniqueness.
            models.Index(fields=["source", "transaction_id"], name="tx_source_txid", opclasses=BY_ID),
            models.Index(fields=["account_id", "timestamp"], name="tx_account_time", opclasses=BY_ID_THEN_TIME),
            models.Index(fields=["merchant_id", "timestamp"], name="tx_merchant_time", opclasses=BY_ID_THEN_TIME),
            models.Index(fields=["timestamp"], name="tx_time"),
            models.Index(fields=["change_txid"], name="tx_change_txid"),
            # The search by device (search/): only rows that name one, so a feed without devices pays nothing.
            models.Index(
                fields=["device_id", "timestamp"],
                condition=~Q(device_id=""),
                name="tx_device_time",
                opclasses=BY_ID_THEN_TIME,
            ),
            # The search by amount without a term: a rare range is read from here, not by walking the time index.
            models.Index(fields=["amount"], name="tx_amount"),
        ]
        permissions = [("upload_transactions", "Can upload transaction files")]

    def __str__(self) -> str:
        return f"{self.transaction_id} ({self.account_id}, {self.amount} {self.currency})"

    @property
    def is_fraud(self) -> bool | None:
        return None if self.label is None else self.label == self.FRAUD


class LabelEvent(models.Model):
    """Every label ever given to a transaction, append-only: the transaction row holds the latest."""

    # Enforced by statement-level triggers (core/parent_keys.py): no foreign key can point at a partitioned table
    # without its partition key.
    transaction = models.ForeignKey(
        Transaction, on_delete=models.CASCADE, related_name="label_events", db_constraint=False
    )
    label = models.SmallIntegerField(choices=[(1, "Fraud"), (0, "Legitimate")])
    source = models.CharField(max_length=16, choices=LabelSource.choices)
    created_at = models.DateTimeField()
    # Indexed only where set (a person's label): imports and partners write millions of events without one.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_by"], condition=Q(created_by__isnull=False), name="label_event_by_person")
        ]


class DeletedTransaction(models.Model):
    """A tombstone per deleted transaction (written by a trigger, migration 0003) so caches of recent rows drop it;
    `transaction_pk` is null when the table was truncated, which empties such caches."""

    transaction_pk = models.BigIntegerField(null=True)
    change_txid = models.BigIntegerField(db_default=current_txid(), db_index=True)

    class Meta:
        default_permissions = ()


class TransactionKey(models.Model):
    """Every stored transaction's (source, transaction_id) → id and time, written by triggers on the transactions
    table (migration 0009): the unique constraint that makes ingest idempotent, which the partitioned table cannot
    hold itself. Kept when a month is archived, so a resent archived transaction is still a duplicate."""

    id = models.BigIntegerField(primary_key=True)
    source_id = models.BigIntegerField()
    transaction_id = models.CharField(max_length=128)
    timestamp = models.DateTimeField()

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["source_id", "transaction_id"], name="transaction_unique_per_source", opclasses=BY_ID
            )
        ]
