from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from detection.engine.offering import REASONS as OFFER_REASONS


def sla_state_of(age: timedelta) -> str:
    """`ok`, `amber` or `red` for a time in the queue (settings REVIEW_SLA_*): items and cases alike."""
    minutes = age.total_seconds() / 60
    if minutes > settings.REVIEW_SLA_RED_MINUTES:
        return "red"
    if minutes > settings.REVIEW_SLA_AMBER_MINUTES:
        return "amber"
    return "ok"


class ReviewItem(models.Model):
    """A flagged transaction waiting for, or having had, an analyst's decision."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_REVIEW = "in_review", "In review"
        DECIDED = "decided", "Decided"
        CLOSED = "closed", "Closed"  # taken out of the queue without a decision (and without a label)

    class Origin(models.TextChoices):
        """Where the flagged transaction came from: live traffic is worked in the queue, an upload in its own view."""

        LIVE = "live", "Live traffic"
        UPLOAD = "upload", "An upload"

    class Decision(models.TextChoices):
        FRAUD = "fraud", "Fraud"
        LEGITIMATE = "legitimate", "Legitimate"
        NEEDS_INFO = "needs_info", "Needs more information"

    # Both enforced by statement-level triggers (core/parent_keys.py), not a per-row foreign key check: a
    # batch queues its flagged transactions in one statement.
    transaction = models.OneToOneField(
        "transactions.Transaction", on_delete=models.CASCADE, related_name="review_item", db_constraint=False
    )
    score = models.ForeignKey(
        "detection.Score", on_delete=models.PROTECT, related_name="review_items", db_constraint=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.FloatField(default=0, help_text="Higher first: from score, amount and age.")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="review_items",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=16, choices=Decision.choices, blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An upload's items never enter the live queue: they are reviewed, if at all, in their job's own view.
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.LIVE)
    job = models.ForeignKey(
        "detection.ScoringJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="review_items"
    )
    # The account's case it belongs to (review/cases/); items queued before cases existed were grouped by migration.
    case = models.ForeignKey("review.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="items")
    snoozed_until = models.DateTimeField(null=True, blank=True, help_text="Out of the queue until then.")
    snooze_reason = models.CharField(max_length=500, blank=True, default="", db_default="")
    # Why the queue policy offers it within today's review budget (detection/engine/offering.py); blank: not offered
    # today, it waits in score order below the offered items.
    offer_reason = models.CharField(
        max_length=32, choices=list(OFFER_REASONS.items()), blank=True, default="", db_default=""
    )

    class Meta:
        permissions = [
            ("decide_reviewitem", "Can claim and decide review items"),
            ("assign_reviewitem", "Can assign review items and cases to analysts (the lead role)"),
        ]
        indexes = [
            models.Index(fields=["status", "-priority"], name="review_status_priority"),
            models.Index(fields=["assignee", "status"], name="review_assignee_status"),
            # The queue's default order over the items still to be done: read 50 rows in order, no sort.
            models.Index(
                fields=["-priority", "created_at", "id"],
                condition=Q(status__in=["open", "in_review"]),
                name="review_active_priority",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="in_review") | Q(assignee__isnull=False),
                name="review_in_review_has_assignee",
            ),
        ]

    def __str__(self) -> str:
        return f"Review of {self.transaction_id} ({self.status})"

    @property
    def organisation_id(self) -> int:
        """The item's organisation: its transaction's source's (items carry no column of their own). Audit rows of
        the item take it from here."""
        return self.transaction.source.organisation_id

    @property
    def age(self) -> timedelta:
        return timezone.now() - self.created_at

    @property
    def sla_state(self) -> str:
        """`ok`, `amber` or `red` by time in the queue (settings REVIEW_SLA_*); decided items are always `ok`."""
        if self.status in (self.Status.DECIDED, self.Status.CLOSED):
            return "ok"
        return sla_state_of(self.age)

    @property
    def is_snoozed(self) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > timezone.now()

    @property
    def needs_info(self) -> bool:
        return self.status == self.Status.IN_REVIEW and self.decision == self.Decision.NEEDS_INFO

    @property
    def top_reason(self) -> str:
        """The first reason shown: the rule that queued it when one did, else the model's first."""
        reasons = self.score.reasons_shown
        return reasons[0] if reasons else ""


class ReviewDecision(models.Model):
    """Each decision or note on an item, with who and when; append-only."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=16, choices=ReviewItem.Decision.choices, blank=True, default="")
    note = models.TextField(blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class Case(models.Model):
    """An account's open review items gathered for one analyst to work together (review/cases/).

    Each organisation has at most one open case per account: new flagged transactions of the account join it. An
    analyst may link other items to it (by merchant, device or account). A case closes when none of its items is
    left to decide, or when someone closes it; the account's next flagged transaction opens a new one.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    account_id = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="review_cases"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    snooze_reason = models.CharField(max_length=500, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "account_id"], condition=Q(status="open"), name="case_one_open_per_account"
            ),
        ]
        indexes = [models.Index(fields=["organisation", "status", "created_at"], name="case_org_status_created")]

    def __str__(self) -> str:
        return f"Case {self.pk} of {self.account_id} ({self.status})"

    @property
    def age(self) -> timedelta:
        return timezone.now() - self.created_at

    @property
    def sla_state(self) -> str:
        return "ok" if self.status == self.Status.CLOSED else sla_state_of(self.age)

    @property
    def is_snoozed(self) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > timezone.now()


class CaseEvent(models.Model):
    """One thing done to a case, or news of it (an item joined, a note, an attachment, a decision, an assignment, a
    snooze, a link, closing); append-only: the case's history. A note is an event of kind `note`."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        JOINED = "joined", "Item joined"
        LINKED = "linked", "Items linked"
        NOTE = "note", "Note"
        ATTACHMENT = "attachment", "Attachment"
        DECISION = "decision", "Decision"
        CLOSED = "closed", "Closed"
        RELEASED = "released", "Released"
        ASSIGNED = "assigned", "Assigned"
        SNOOZED = "snoozed", "Snoozed"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    text = models.TextField(blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["case", "kind"], name="case_event_case_kind")]


class CaseAttachment(models.Model):
    """A file kept with a case (CASE_ATTACHMENT_MAX_BYTES at most), stored under MEDIA_ROOT/cases/."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    file_path = models.CharField(max_length=500, help_text="The file, relative to MEDIA_ROOT.")
    original_name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
