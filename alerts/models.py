import os
import re
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email
from django.db import models
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils.functional import cached_property

from core.encryption import DecryptionError, decrypt, encrypt, mask
from core.models import AuditEvent  # noqa: F401 - registered in this app (see core.models)
from detection.models import Decision, Score
from transactions.models import Channel as TransactionChannel

RISK_ORDER = [level.value for level in Score.RiskLevel]  # low, medium, high, critical


E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
TWILIO_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
TWILIO_MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
PAGERDUTY_ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def generate_signing_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


class SecretUnavailable(Exception):
    """A channel's secret cannot be had: its environment variable is unset, or the stored value cannot be read."""


class AlertRule(models.Model):
    """When a scored transaction should raise an alert, and where the alert goes."""

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", "Webhook (signed JSON)"
        SLACK = "slack", "Slack-compatible webhook"
        EMAIL = "email", "E-mail"
        PAGERDUTY = "pagerduty", "PagerDuty (Events API v2)"
        OPSGENIE = "opsgenie", "Opsgenie"
        TEAMS = "teams", "Microsoft Teams (workflow webhook)"
        SMS = "sms", "SMS (Twilio)"
        IN_APP = "in_app", "In-app only"

    class RateScope(models.TextChoices):
        MERCHANT = "merchant", "Same merchant"
        ACCOUNT = "account", "Same account"

    class Kind(models.TextChoices):
        TRANSACTION = "transaction", "Scored transactions"
        DRIFT = "drift", "Drift above a threshold"

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="alert_rules")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    kind = models.CharField(
        max_length=16,
        choices=Kind.choices,
        default=Kind.TRANSACTION,
        help_text="Scored transactions: the conditions below, on each score. Drift: a feature's (or the score's) "
        "population stability index on a day above the drift threshold (once per day and feature).",
    )
    drift_threshold = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Drift rules: fire when a day's PSI of a feature is above this (0.25: a shift; 0.1: a change).",
    )
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
        max_length=500,
        blank=True,
        default="",
        help_text="A URL (webhook, Slack), comma-separated e-mail addresses, or comma-separated phone numbers in "
        "international form, +447700900123 (SMS). Blank for PagerDuty, Opsgenie and Teams: their secret says where.",
    )
    signing_secret = models.CharField(max_length=80, default=generate_signing_secret, editable=False)
    # The channel's secret (PagerDuty routing key, Opsgenie API key, Teams workflow URL, Twilio auth token): stored
    # encrypted (core.encryption), or read from the environment variable named here. Never shown back in full.
    secret_encrypted = models.TextField(blank=True, default="", editable=False)
    secret_env = models.CharField(
        max_length=100,
        blank=True,
        default="",
        verbose_name="secret from environment variable",
        help_text="Instead of a stored secret: the name of an environment variable of the workers that holds it "
        "(it must begin with ALERTS_SECRET_).",
    )
    twilio_account_sid = models.CharField(
        max_length=34, blank=True, default="", verbose_name="Twilio account SID", help_text="SMS only: AC…"
    )
    sms_from = models.CharField(
        max_length=34,
        blank=True,
        default="",
        verbose_name="SMS sender",
        help_text="SMS only: the Twilio number to send from (+…) or a messaging service SID (MG…).",
    )
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
            models.CheckConstraint(
                condition=Q(kind="transaction") | Q(drift_threshold__isnull=False, drift_threshold__gte=0),
                name="alert_rule_drift_threshold_set",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            raise ValidationError({"amount_max": "Must not be below the minimum amount."})
        if (self.rate_count is None) != (self.rate_window_minutes is None):
            raise ValidationError({"rate_window_minutes": "Give both the count and the window, or neither."})
        if self.kind == self.Kind.DRIFT and self.drift_threshold is None:
            raise ValidationError({"drift_threshold": "A drift rule needs its threshold (the PSI it fires above)."})
        self._clean_destination()

    def _clean_destination(self) -> None:
        if self.channel == self.Channel.IN_APP:
            return
        if self.channel in SECRET_CHANNELS:
            self._clean_secret_source()
        if self.channel in (self.Channel.PAGERDUTY, self.Channel.OPSGENIE, self.Channel.TEAMS):
            if self.destination.strip():
                raise ValidationError({"destination": f"Leave blank for {self.get_channel_display()}."})
            return
        if not self.destination.strip():
            raise ValidationError({"destination": "Required for this channel."})
        if self.channel == self.Channel.EMAIL:
            for address in self.recipients:
                validate_email(address)
        elif self.channel == self.Channel.SMS:
            self._clean_sms()
        elif not self.destination.startswith(("http://", "https://")):
            raise ValidationError({"destination": "Must be an http:// or https:// URL."})

    def _clean_secret_source(self) -> None:
        if self.secret_env:
            if not ENV_NAME.match(self.secret_env) or not self.secret_env.startswith(settings.ALERTS_SECRET_ENV_PREFIX):
                raise ValidationError(
                    {"secret_env": f"An environment variable name beginning with {settings.ALERTS_SECRET_ENV_PREFIX}."}
                )
        elif not self.secret_encrypted:
            raise ValidationError({"secret": f"Required for {self.get_channel_display()} (or name a variable)."})

    def _clean_sms(self) -> None:
        bad = [number for number in self.recipients if not E164.match(number)]
        if bad:
            raise ValidationError({"destination": f"Not a phone number in international form (+…): {bad[0]}."})
        if not TWILIO_ACCOUNT_SID.match(self.twilio_account_sid):
            raise ValidationError({"twilio_account_sid": "AC followed by 32 hexadecimal digits."})
        if not (E164.match(self.sms_from) or TWILIO_MESSAGING_SERVICE_SID.match(self.sms_from)):
            raise ValidationError({"sms_from": "A phone number in international form (+…) or a messaging service SID."})

    def secret_set(self, value: str) -> None:
        """Check a new secret for the rule's channel and keep it encrypted (not saved here)."""
        value = value.strip()
        problem = secret_problem(self.channel, value)
        if problem:
            raise ValidationError({"secret": problem})
        self.secret_encrypted = encrypt(value)

    def secret_value(self) -> str:
        """The channel's secret in clear, for sending; SecretUnavailable when it cannot be had."""
        if self.secret_env:
            value = os.environ.get(self.secret_env, "")
            if not value:
                raise SecretUnavailable(f"the environment variable {self.secret_env} is not set")
            return value
        if not self.secret_encrypted:
            raise SecretUnavailable("no secret is set")
        try:
            return decrypt(self.secret_encrypted)
        except DecryptionError as exc:
            raise SecretUnavailable(str(exc)) from exc

    @property
    def secret_masked(self) -> str:
        """What may be shown of the secret: where it comes from, or its last characters."""
        if self.secret_env:
            return f"from ${self.secret_env}"
        if not self.secret_encrypted:
            return ""
        try:
            secret = decrypt(self.secret_encrypted)
        except DecryptionError:
            return "stored, but cannot be decrypted with the keys in force"
        if self.channel == self.Channel.TEAMS:  # the host says which tenant; the path and signature stay hidden
            parts = urlsplit(secret)
            return f"{parts.scheme}://{parts.netloc}/••••••••"
        return mask(secret)

    @property
    def delivery_destination(self) -> str:
        """The destination a delivery records: for the channels whose secret says where, the channel and the masked
        secret."""
        if self.channel in (self.Channel.PAGERDUTY, self.Channel.OPSGENIE, self.Channel.TEAMS):
            return f"{SHORT_NAMES[self.channel]} {self.secret_masked}"
        return self.destination

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


SHORT_NAMES = {
    AlertRule.Channel.PAGERDUTY: "PagerDuty",
    AlertRule.Channel.OPSGENIE: "Opsgenie",
    AlertRule.Channel.TEAMS: "Teams",
}
SECRET_CHANNELS = (
    AlertRule.Channel.PAGERDUTY,
    AlertRule.Channel.OPSGENIE,
    AlertRule.Channel.TEAMS,
    AlertRule.Channel.SMS,
)


def secret_problem(channel: str, value: str) -> str:
    """What is wrong with `value` as the secret of `channel` ("" when nothing)."""
    if not value:
        return "Give the secret."
    if any(char.isspace() for char in value):
        return "No spaces: paste the secret alone."
    if channel == AlertRule.Channel.PAGERDUTY and not PAGERDUTY_ROUTING_KEY.match(value):
        return "A PagerDuty routing (integration) key is 32 letters and digits."
    if channel == AlertRule.Channel.TEAMS and not value.startswith(("https://", "http://")):
        return "The Teams workflow's URL (https://…)."
    return ""


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
    """One rule firing on one transaction, or a drift rule on one feature's day; what analysts see under the bell."""

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="alerts")
    # Enforced by statement-level triggers (core/parent_keys.py): the transactions table is partitioned.
    transaction = models.ForeignKey(
        "transactions.Transaction",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alerts",
        db_constraint=False,
    )
    # Enforced by a statement-level trigger (core/parent_keys.py): the scores table is partitioned (detection 0015).
    score = models.ForeignKey(
        "detection.Score", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts", db_constraint=False
    )
    # A drift alert: the day and feature (or "score") whose index passed the rule's threshold, and the index.
    drift = models.ForeignKey(
        "monitoring.DriftMeasurement", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    drift_day = models.DateField(null=True, blank=True)
    drift_feature = models.CharField(max_length=128, blank=True, default="")
    drift_psi = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "transaction"], name="alert_once_per_rule_transaction"),
            models.UniqueConstraint(
                fields=["rule", "drift_day", "drift_feature"],
                condition=Q(drift_day__isnull=False),
                name="alert_once_per_rule_drift_day_feature",
            ),
            models.CheckConstraint(
                condition=Q(transaction__isnull=False, score__isnull=False) | Q(drift_day__isnull=False),
                name="alert_of_a_transaction_or_a_drift",
            ),
        ]

    def __str__(self) -> str:
        if self.is_drift:
            return f"{self.rule} on {self.drift_feature} ({self.drift_day})"
        return f"{self.rule} on {self.transaction_id}"

    @property
    def is_drift(self) -> bool:
        return self.drift_day is not None


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
    # The recipients a channel sending one message per recipient (SMS) has reached: a retry skips them.
    sent_to = ArrayField(models.CharField(max_length=32), default=list, blank=True)
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
