import hashlib
import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class Organisation(models.Model):
    """A customer of the platform: its users, tokens, sources, transactions, models and queues are its own.

    Sources of one organisation share account and merchant histories; organisations never share anything.
    """

    name = models.SlugField(max_length=64, unique=True, help_text="Short name, used in commands and URLs.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's access to an organisation; what the user may do there is given by the user's role (group)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organisation"], name="membership_once")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation}"


class Scope(models.TextChoices):
    SCORE = "score", "Score and ingest transactions"
    LABEL = "label", "Report outcomes (labels)"
    READ = "read", "Read transactions, scores and jobs"
    LISTS = "lists", "Manage lists (read, add and remove entries)"
    RULES = "rules", "Manage rules (read, draft, activate and disable)"


TOKEN_PREFIX = "atk_"  # noqa: S105 - a public marker, not a secret


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class PartnerToken(models.Model):
    """A partner system's API credential. Only the SHA-256 of the secret is stored."""

    name = models.CharField(max_length=100, help_text="The partner or integration this token belongs to.")
    key_prefix = models.CharField(max_length=12, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = ArrayField(models.CharField(max_length=16, choices=Scope.choices), default=list)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="tokens")
    source = models.ForeignKey("transactions.Source", on_delete=models.PROTECT, related_name="tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def throttle_key(self) -> str:
        """The rate limits' counter of this token (core.throttling keys requests by it)."""
        return f"token-{self.pk}"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @staticmethod
    def generate_secret() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)
