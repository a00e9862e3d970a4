"""Lists of values and rules over transactions: an organisation's policy, deciding beside the model's score."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from detection.models import Decision

__all__ = ["Action", "Decision", "ListEntry", "Rule", "RuleTest", "RuleVersion", "ValueList"]

# A list's or a rule's name as expressions write it (`merchant_id in lists.blocked_merchants`).
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
name_validator = RegexValidator(
    NAME_PATTERN, "Lower-case letters, digits and underscores, starting with a letter (at most 63 characters)."
)


class Action(models.TextChoices):
    """What a matched rule does. The decision is the strongest deciding action matched: allow > block > review."""

    ALLOW = "allow", "Allow"
    BLOCK = "block", "Block"
    REVIEW = "review", "Review"
    TAG = "tag", "Tag"


class ValueList(models.Model):
    """A named list of values of one kind (accounts, merchants, countries, …) that rules look values up in."""

    class Kind(models.TextChoices):
        ACCOUNT = "account", "Account"
        MERCHANT = "merchant", "Merchant"
        DEVICE = "device", "Device"
        COUNTRY = "country", "Country"
        CARD_BIN = "card_bin", "Card BIN"
        IP = "ip", "IP address"
        TEXT = "text", "Text"

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="value_lists")
    name = models.CharField(max_length=63, validators=[name_validator])
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.TextField(blank=True, default="")
    # Bumped by every change of the list or its entries: a process's cached copy is stale when it differs.
    revision = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "list"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="value_list_name_per_organisation")
        ]

    def __str__(self) -> str:
        return self.name


class ListEntry(models.Model):
    """One value of a list, until its expiry if it has one."""

    # Both references enforced by statement-level triggers (core/parent_keys.py), not a per-row foreign key check:
    # an import writes a million entries of one list by one person at once. Neither has an index of its own: the
    # unique (value_list, value) constraint leads with the list, and entries are never looked up by their author
    # (deleting a user, a rare operator action, reads the table once to clear their entries' author).
    value_list = models.ForeignKey(
        ValueList, on_delete=models.CASCADE, related_name="entries", db_index=False, db_constraint=False
    )
    value = models.CharField(max_length=256)
    expires_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        ordering = ["value"]
        verbose_name_plural = "list entries"
        constraints = [models.UniqueConstraint(fields=["value_list", "value"], name="list_entry_once_per_list")]

    def __str__(self) -> str:
        return self.value


class Rule(models.Model):
    """A named rule of an organisation. What it says lives in its versions: every edit is a new version, and the
    version in force (at most one, `status=active`) is the one scores run and record."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="rules")
    name = models.CharField(max_length=63, validators=[name_validator])
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        permissions = [("publish", "Can publish (activate and disable) rules")]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="rule_name_per_organisation")]

    def __str__(self) -> str:
        return self.name


class RuleVersion(models.Model):
    """One version of a rule: its expression, action and description, and where it is in its life cycle.

    draft → tested (a test on history ran on this version) → active (deciding) → disabled; a draft that replaces
    an active version retires it when it is published (`retired`).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        TESTED = "tested", "Tested"
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"
        RETIRED = "retired", "Replaced by a newer version"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    expression = models.TextField()
    action = models.CharField(max_length=8, choices=Action.choices)
    # The label a `tag` rule adds to the answer (its rule's name when blank).
    tag = models.CharField(max_length=63, blank=True, default="")
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["rule", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="rule_version_number"),
            models.UniqueConstraint(fields=["rule"], condition=Q(status="active"), name="one_active_version_per_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.rule.name} v{self.version} ({self.status})"


class RuleTest(models.Model):
    """A rule version run over the organisation's stored transactions of the last `days` days (a Celery job)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    rule_version = models.ForeignKey(RuleVersion, on_delete=models.CASCADE, related_name="tests")
    days = models.PositiveIntegerField(default=30)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveBigIntegerField(default=0)
    processed_rows = models.PositiveBigIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Test {self.pk} of {self.rule_version}"

    @property
    def progress(self) -> float:
        return round(self.processed_rows / self.total_rows, 4) if self.total_rows else 0.0
