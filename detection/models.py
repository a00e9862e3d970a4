from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


class ModelVersion(models.Model):
    """One trained detector: its algorithms, parameters, features, training window, metrics and artifact."""

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"
        FAILED = "failed", "Failed"

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="model_versions")
    version = models.PositiveIntegerField(help_text="Numbered within the organisation.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING)
    algorithms = models.JSONField(default=list, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    feature_names = models.JSONField(default=list, blank=True)
    training_start = models.DateTimeField(null=True, blank=True)
    training_end = models.DateTimeField(null=True, blank=True)
    training_rows = models.PositiveIntegerField(default=0)
    labelled_rows = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    artifact = models.BinaryField(null=True, blank=True, editable=False)
    # The engine's ARTIFACT_FORMAT when the artifact was written; 0 for versions stored before it was recorded.
    artifact_format = models.PositiveSmallIntegerField(default=0, editable=False)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trained_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # The MLflow run that tracked its training (when MLFLOW_TRACKING_URI was set), and its page in the MLflow UI.
    mlflow_run_id = models.CharField("MLflow run", max_length=64, blank=True, default="")
    mlflow_run_url = models.CharField("MLflow run page", max_length=500, blank=True, default="")
    # A ready version scoring live traffic in shadow beside the active one (ShadowScore): one per organisation.
    challenger = models.BooleanField(default=False, help_text="Scores live traffic in shadow, deciding nothing.")
    # The scheduled retraining's comparison with the version active then, on the most recent labelled days
    # (detection.training.proof): whether it was activated, and why.
    promotion_check = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "version"], name="model_version_number_per_organisation"),
            models.UniqueConstraint(
                fields=["organisation"], condition=Q(status="active"), name="one_active_model_version"
            ),
            models.UniqueConstraint(
                fields=["organisation"], condition=Q(challenger=True), name="one_challenger_per_organisation"
            ),
            models.CheckConstraint(condition=Q(challenger=False) | Q(status="ready"), name="challenger_is_ready"),
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.status})"


class Decision(models.TextChoices):
    """What a score answers a partner: the rules' strongest action, or the model's thresholds when no rule decides."""

    ALLOW = "allow", "Allow"
    REVIEW = "review", "Review"
    BLOCK = "block", "Block"


class Score(models.Model):
    """A transaction's score under one model version; a property of the transaction and the version alone."""

    class RiskLevel(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    # No index of their own: the unique (transaction, model_version) and the (model_version, created_at) indexes
    # lead with these columns and serve their lookups; every stored score saves two index insertions.
    # Both enforced by statement-level triggers (core/parent_keys.py), not a per-row foreign key check.
    transaction = models.ForeignKey(
        "transactions.Transaction", on_delete=models.CASCADE, related_name="scores", db_index=False, db_constraint=False
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="scores", db_index=False, db_constraint=False
    )
    score = models.FloatField()
    risk_level = models.CharField(max_length=16, choices=RiskLevel.choices)
    is_anomaly = models.BooleanField(default=False)
    components = models.JSONField(default=dict, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    # The decision and the rules that matched ({"id", "name", "version", "action"} each, tags included); blank for
    # scores stored before decisions existed. A rule the row lacked a value for is there too, marked "missing": true
    # (it did not match; its page counts them).
    decision = models.CharField(max_length=8, choices=Decision.choices, blank=True, default="", db_default="")
    rules = models.JSONField(default=list, blank=True, db_default=[])
    created_at = models.DateTimeField(auto_now_add=True)
    # The transaction's time, by which the table is partitioned by month as the transactions are (detection 0015): a
    # query that knows it reads one month's partition. Checked equal to the transaction's by the parent key's trigger.
    transaction_time = models.DateTimeField()

    class Meta:
        constraints = [
            # Per partition, so with the partition key; one score per (transaction, version), as the time is the
            # transaction's own.
            models.UniqueConstraint(
                fields=["transaction", "model_version", "transaction_time"], name="score_once_per_version"
            ),
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=1), name="score_in_unit_interval"),
        ]
        indexes = [models.Index(fields=["model_version", "created_at"], name="score_version_time")]

    @property
    def decision_made(self) -> str:
        """The stored decision; for a score stored before decisions existed, the one its flag stood for."""
        return self.decision or (Decision.REVIEW if self.is_anomaly else Decision.ALLOW)

    @property
    def matched_rules(self) -> list[dict]:
        return matched_rules(self.rules)

    @property
    def deciding_rules(self) -> list[dict]:
        """The matched rules whose action is the decision (none when the model's thresholds decided)."""
        return [rule for rule in self.matched_rules if rule["action"] == self.decision]

    @property
    def tags(self) -> list[str]:
        return rule_tags(self.rules)

    @property
    def reasons_shown(self) -> list[str]:
        """The reasons people read: the rules that decided first (an allow rule named as the exception it is), then
        the model's."""
        worded = [
            f"Allowed by rule {rule['name']} (an exception to the model)"
            if rule["action"] == Decision.ALLOW
            else f"Rule: {rule['name']} ({rule['action']})"
            for rule in self.deciding_rules
        ]
        return [*worded, *self.reasons]


def matched_rules(rules) -> list[dict]:
    """A score's stored rules that matched (not those the row lacked a value for)."""
    return [rule for rule in rules if not rule.get("missing")]


def rule_tags(rules) -> list[str]:
    """The tags a score's matched rules add to its answer: each tag rule's tag (its name when it has none)."""
    return [rule.get("tag") or rule["name"] for rule in matched_rules(rules) if rule["action"] == "tag"]


class ShadowScore(models.Model):
    """A transaction's score under the organisation's challenger, stored apart from Score: it decides nothing (no
    decision, review item, alert, rule hit or webhook reads it); the performance page compares it with the score of
    `champion`, the version active when both scored the transaction."""

    # Enforced by statement-level triggers (core/parent_keys.py): the transactions table is partitioned.
    transaction = models.ForeignKey(
        "transactions.Transaction",
        on_delete=models.CASCADE,
        related_name="shadow_scores",
        db_index=False,
        db_constraint=False,
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="shadow_scores", db_index=False
    )
    champion = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+", db_index=False)
    score = models.FloatField()
    components = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    transaction_time = models.DateTimeField()  # the transaction's, the partition key, as Score's

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["transaction", "model_version", "transaction_time"], name="shadow_score_once_per_version"
            ),
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=1), name="shadow_score_in_unit_interval"),
        ]
        indexes = [models.Index(fields=["model_version", "-created_at"], name="shadow_score_version_time")]


class RiskPolicy(models.Model):
    """Risk bands and the review threshold of an organisation. Append-only: its newest row is in force, older rows
    are history."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="risk_policies")
    medium = models.FloatField(default=0.80, help_text="Scores at or above this are at least medium risk.")
    high = models.FloatField(default=0.95, help_text="Scores at or above this are at least high risk.")
    critical = models.FloatField(default=0.99, help_text="Scores at or above this are critical.")
    review_threshold = models.FloatField(
        default=0.95, help_text="Scores at or above this are flagged and enter the review queue."
    )
    block_threshold = models.FloatField(
        null=True,
        blank=True,
        help_text="Scores at or above this are blocked when no rule decides (none: the model alone never blocks).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "risk policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(medium__gte=0)
                & Q(medium__lte=F("high"))
                & Q(high__lte=F("critical"))
                & Q(critical__lte=1)
                & Q(review_threshold__gte=0)
                & Q(review_threshold__lte=1),
                name="risk_policy_bands_ordered_in_unit_interval",
            ),
            models.CheckConstraint(
                condition=Q(block_threshold__isnull=True)
                | (Q(block_threshold__gte=F("review_threshold")) & Q(block_threshold__lte=1)),
                name="risk_policy_block_above_review",
            ),
        ]

    def clean(self) -> None:
        bands = [self.medium, self.high, self.critical, self.review_threshold]
        if any(b is None or not 0 <= b <= 1 for b in bands):
            raise ValidationError("Every threshold must lie in [0, 1].")
        if not self.medium <= self.high <= self.critical:
            raise ValidationError("Bands must be ordered: medium ≤ high ≤ critical.")
        if self.block_threshold is not None and not self.review_threshold <= self.block_threshold <= 1:
            raise ValidationError(
                {"block_threshold": "The block threshold must lie between the review threshold and 1."}
            )

    def risk_level(self, score: float) -> str:
        if score >= self.critical:
            return Score.RiskLevel.CRITICAL
        if score >= self.high:
            return Score.RiskLevel.HIGH
        if score >= self.medium:
            return Score.RiskLevel.MEDIUM
        return Score.RiskLevel.LOW

    def is_flagged(self, score: float) -> bool:
        return score >= self.review_threshold

    def model_decision(self, score: float) -> str:
        """The decision of the model's thresholds alone (when no rule decides)."""
        if self.block_threshold is not None and score >= self.block_threshold:
            return Decision.BLOCK
        return Decision.REVIEW if score >= self.review_threshold else Decision.ALLOW


class ScoringJob(models.Model):
    """A file of transactions scored in the background, in chunks of rows, in two phases.

    Ingesting: every chunk's rows are stored. Scoring: once every chunk is stored (all history is in the
    database, so a score never depends on the order workers took the chunks), every chunk is scored.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Phase(models.TextChoices):
        INGESTING = "ingesting", "Storing the rows"
        SCORING = "scoring", "Scoring"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        PARQUET = "parquet", "Parquet"

    UNFINISHED = (Status.PENDING, Status.RUNNING)

    source = models.ForeignKey("transactions.Source", on_delete=models.PROTECT, related_name="scoring_jobs")
    token = models.ForeignKey(
        "accounts.PartnerToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="scoring_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_path = models.CharField(max_length=500, help_text="The upload, relative to MEDIA_ROOT.")
    file_format = models.CharField(max_length=8, choices=Format.choices)
    original_name = models.CharField(max_length=255, blank=True, default="")
    mapping = models.JSONField(default=dict, help_text="Canonical field → column of the file.")
    attributes = models.JSONField(default=list, blank=True, help_text="Columns kept as attributes.")
    label_column = models.CharField(max_length=128, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.INGESTING)
    total_rows = models.PositiveIntegerField(default=0)
    stored_rows = models.PositiveIntegerField(default=0, help_text="Rows of the chunks stored so far.")
    processed_rows = models.PositiveIntegerField(default=0, help_text="Rows of the chunks scored so far.")
    created_rows = models.PositiveIntegerField(default=0)
    existing_rows = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    flagged_rows = models.PositiveIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    split_at = models.DateTimeField(null=True, blank=True, help_text="When the whole file was read into chunks.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["source", "-created_at"], name="scoringjob_source_time")]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.status}, {self.processed_rows}/{self.total_rows})"

    @property
    def progress(self) -> float:
        return round(self.processed_rows / self.total_rows, 4) if self.total_rows else 0.0


class ScoringJobChunk(models.Model):
    """A range of a job's rows [first_row, first_row + row_count), claimed by one task at a time per phase.

    pending → ingesting (claimed) → stored → scoring (claimed) → done.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be stored"
        INGESTING = "ingesting", "Storing"
        STORED = "stored", "Stored, waiting to be scored"
        SCORING = "scoring", "Scoring"
        DONE = "done", "Done"

    CLAIMED = (Status.INGESTING, Status.SCORING)

    job = models.ForeignKey(ScoringJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_row = models.PositiveIntegerField(help_text="1-based number of the chunk's first data row in the file.")
    row_count = models.PositiveIntegerField()
    starts_at = models.DateTimeField(null=True, blank=True, help_text="Its earliest transaction's time.")
    file_path = models.CharField(max_length=500, help_text="The chunk's mapped rows, relative to MEDIA_ROOT.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_rows = models.PositiveIntegerField(default=0)
    existing_rows = models.PositiveIntegerField(default=0)
    flagged_rows = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{row, transaction_id, field, reason}], capped.")

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="scoring_job_chunk_once")]
        indexes = [models.Index(fields=["job", "status"], name="scoringjobchunk_job_status")]


class BacktestRun(models.Model):
    """A labelled file replayed through the detector on a worker, by a person, with its report (the engine's JSON)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="backtest_runs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_path = models.CharField(max_length=500, help_text="The labelled file, relative to MEDIA_ROOT.")
    original_name = models.CharField(max_length=255, blank=True, default="")
    mapping = models.JSONField(default=dict, help_text="Canonical field → column of the file.")
    attributes = models.JSONField(default=list, blank=True)
    label_column = models.CharField(max_length=128)
    options = models.JSONField(default=dict, blank=True, help_text="Split by days, feedback mode, seed.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="backtestrun_user_time")]

    def __str__(self) -> str:
        return f"Backtest {self.pk} ({self.status})"
