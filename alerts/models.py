import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email
from django.db import models
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils.functional import cached_property

from core.models import AuditEvent  # noqa: F401 - registered in this app (see core.models)
from detection.models import Decision, Score
from transactions.models import Channel as TransactionChannel

RISK_ORDER = [level.value for level in Score.RiskLevel]  # low, medium, high, critical


def generate_signing_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


class AlertRule(models.Model):
    """When a scored transaction should raise an alert, and where the alert goes."""

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (signed JSON)"
        SLACK = "slack", "Slack-compatible webhook"
        EMAIL = "email", "E-mail"
        IN_APP = "in_app", "In-app only"

    class RateScope(models.TextChoices):
        MERCHANT = "merchant", "Same merchant"
        ACCOUNT = "account", "Same account"

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="alert_rules")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    # Conditions: every condition that is set must hold.
    min_risk_level = models.CharField(
        max_length=16, choices=Score.RiskLevel.choices, blank=True, default="", help_text="This level or above."
    )
    min_score = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(1)], help_text="Score ≥ this."
    )
    amount_min = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    amount_max = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    merchant_categories = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    transaction_channels = ArrayField(
        models.CharField(max_length=16, choices=TransactionChannel.choices), default=list, blank=True
    )
    account_ids = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    merchant_ids = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    decisions = ArrayField(
        models.CharField(max_length=8, choices=Decision.choices),
        default=list,
        blank=True,
        help_text="Fire only on scores decided one of these (allow, review, block). None: any decision.",
    )
    matched_rules = models.ManyToManyField(
        "rules.Rule",
        blank=True,
        related_name="alert_rules",
        help_text="Fire only when one of these rules matched the transaction (whatever it decided). None: any.",
    )
    rate_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Fire only when MORE than this many matching transactions …"
    )
    rate_window_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="… within this many minutes …")
    rate_scope = models.CharField(
        max_length=16, choices=RateScope.choices, default=RateScope.MERCHANT, help_text="… on one merchant or account."
    )
    # Delivery.
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WEBHOOK)
    destination = models.CharField(
        max_length=500, blank=True, default="", help_text="A URL (webhook, Slack) or comma-separated e-mail addresses."
    )
    signing_secret = models.CharField(max_length=80, default=generate_signing_secret, editable=False)
    timeout_seconds = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.1)], help_text="Blank: ALERTS_DELIVERY_TIMEOUT."
    )
    quiet_period_minutes = models.PositiveIntegerField(
        default=0, help_text="Repeats within this period go out as one summary delivery. 0: one delivery each."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="alert_rule_name_per_organisation"),
            models.CheckConstraint(
                condition=Q(min_score__isnull=True) | Q(min_score__gte=0, min_score__lte=1),
                name="alert_rule_min_score_in_unit_interval",
            ),
            models.CheckConstraint(
                condition=Q(amount_min__isnull=True)
                | Q(amount_max__isnull=True)
                | Q(amount_min__lte=models.F("amount_max")),
                name="alert_rule_amount_range_ordered",
            ),
            models.CheckConstraint(
                condition=Q(rate_count__isnull=True, rate_window_minutes__isnull=True)
                | Q(rate_count__isnull=False, rate_window_minutes__gt=0),
                name="alert_rule_rate_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            raise ValidationError({"amount_max": "Must not be below the minimum amount."})
        if (self.rate_count is None) != (self.rate_window_minutes is None):
            raise ValidationError({"rate_window_minutes": "Give both the count and the window, or neither."})
        self._clean_destination()

    def _clean_destination(self) -> None:
        if self.channel == self.Channel.IN_APP:
            return
        if not self.destination.strip():
            raise ValidationError({"destination": "Required for this channel."})
        if self.channel == self.Channel.EMAIL:
            for address in self.recipients:
                validate_email(address)
        elif not self.destination.startswith(("http://", "https://")):
            raise ValidationError({"destination": "Must be an http:// or https:// URL."})

    @property
    def recipients(self) -> list[str]:
        return [part.strip() for part in self.destination.split(",") if part.strip()]

    @property
    def timeout(self) -> float:
        return self.timeout_seconds or settings.ALERTS_DELIVERY_TIMEOUT

    def score_condition(self) -> Q:
        """The rule's per-transaction conditions as a filter on Score (rates are counted separately): only ever scores
        of the rule's organisation's transactions."""
        q = Q(transaction__source__organisation_id=self.organisation_id)
        if self.min_risk_level:
            q &= Q(risk_level__in=RISK_ORDER[RISK_ORDER.index(self.min_risk_level) :])
        if self.min_score is not None:
            q &= Q(score__gte=self.min_score)
        if self.amount_min is not None:
            q &= Q(transaction__amount__gte=self.amount_min)
        if self.amount_max is not None:
            q &= Q(transaction__amount__lte=self.amount_max)
        for field, values in (
            ("merchant_category", self.merchant_categories),
            ("channel", self.transaction_channels),
            ("account_id", self.account_ids),
            ("merchant_id", self.merchant_ids),
        ):
            if values:
                q &= Q(**{f"transaction__{field}__in": values})
        if self.decisions:
            q &= decisions_condition(self.decisions)
        rule_ids = self.matched_rule_ids
        if rule_ids:
            q &= Q(rules_matched_condition(rule_ids))
        return q

    @cached_property
    def matched_rule_ids(self) -> list[int]:
        """The ids of the rules whose match the alert rule waits for (read once per instance)."""
        return sorted(self.matched_rules.values_list("id", flat=True)) if self.pk else []


def decisions_condition(decisions) -> Q:
    """Scores decided one of `decisions`; a score stored before decisions existed counts as review when flagged,
    allow otherwise (what its flag stood for)."""
    q = Q(decision__in=decisions)
    if Decision.REVIEW in decisions:
        q |= Q(decision="", is_anomaly=True)
    if Decision.ALLOW in decisions:
        q |= Q(decision="", is_anomaly=False)
    return q


def rules_matched_condition(rule_ids) -> RawSQL:
    """Scores one of the rules matched: an entry of `Score.rules` with that id and no `missing` mark (a row that
    lacked a value the rule reads did not match). A JSON path test, so the score's rules are read once."""
    ids = " || ".join(f"@.id == {int(rule_id)}" for rule_id in rule_ids)
    path = f"$[*] ? (({ids}) && !exists(@.missing))"
    sql = f'"{Score._meta.db_table}"."rules" @? %s::jsonpath'
    return RawSQL(sql, [path], output_field=models.BooleanField())  # noqa: S611 - the path is a parameter, ids are ints


class Alert(models.Model):
    """One rule firing on one transaction; what analysts see under the bell."""

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="alerts")
    transaction = models.ForeignKey("transactions.Transaction", on_delete=models.CASCADE, related_name="alerts")
    score = models.ForeignKey("detection.Score", on_delete=models.CASCADE, related_name="alerts")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "transaction"], name="alert_once_per_rule_transaction")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.transaction_id}"


class AlertDelivery(models.Model):
    """One message to one destination, carrying one alert or a quiet period's summary of several."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="deliveries")
    alerts = models.ManyToManyField(Alert, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=AlertRule.Channel.choices)
    destination = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    scheduled_for = models.DateTimeField(help_text="Sent at or after this time (the end of a quiet period).")
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    resend_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resends")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "alert deliveries"
        indexes = [
            models.Index(fields=["status", "scheduled_for"], name="delivery_status_due"),
            models.Index(fields=["rule", "status", "scheduled_for"], name="delivery_rule_status_due"),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.channel}, {self.status})"


class AlertReadMark(models.Model):
    """How far each user has read an organisation's alert list: its alerts with a higher id count as new in the bell."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_read_marks")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    last_seen_alert_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="alert_read_mark_per_user_organisation")
        ]


class PendingEvaluation(models.Model):
    """Scores whose alert evaluation could not be queued (the broker was down when they were stored): evaluated by
    Celery beat's `alerts.evaluate_pending` (every ALERTS_PENDING_EVERY_MINUTES) or by `manage.py alerts_requeue`."""

    score_ids = ArrayField(models.BigIntegerField())
    # The scores' organisation, whose rules evaluate them; empty for rows kept before organisations (every rule then).
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
