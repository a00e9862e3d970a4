"""What the models' inputs and outputs look like over time, against what each version was trained on."""

from django.db import models

SCORE_FEATURE = "score"  # the name the version's score is measured under, beside its features


class DriftReference(models.Model):
    """A model version's training distribution of one feature (or of its score): the bins and each bin's share,
    kept the first time the version's drift is measured."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("detection.ModelVersion", on_delete=models.CASCADE, related_name="drift_references")
    feature = models.CharField(max_length=128)
    edges = models.JSONField(default=list, help_text="Bin edges: (-inf, e0], (e0, e1], …, (e_last, inf).")
    shares = models.JSONField(default=list, help_text="The training sample's share per bin.")
    rows = models.PositiveIntegerField(default=0, help_text="Rows of the training sample.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "feature"], name="drift_reference_once")]


class DriftMeasurement(models.Model):
    """One day's distribution of one feature (or of the score) under the active version, and its population
    stability index against the version's training sample."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("detection.ModelVersion", on_delete=models.CASCADE, related_name="drift_measurements")
    day = models.DateField(help_text="The UTC day of the transactions measured.")
    feature = models.CharField(max_length=128)
    psi = models.FloatField()
    shares = models.JSONField(default=list, help_text="The day's share per bin of the version's reference.")
    rows = models.PositiveIntegerField(default=0, help_text="Transactions of the day measured (a sample of them).")
    measured_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "feature"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "version", "day", "feature"], name="drift_once_per_day"),
            models.CheckConstraint(condition=models.Q(psi__gte=0), name="drift_psi_not_negative"),
        ]
        indexes = [models.Index(fields=["organisation", "feature", "-day"], name="drift_org_feature_day")]

    def __str__(self) -> str:
        return f"{self.feature} on {self.day}: {self.psi:.3f}"

    @property
    def level(self) -> str:
        """ok below 0.1, watch below 0.25, shifted from 0.25 (the usual reading of the index)."""
        return drift_level(self.psi)


def drift_level(psi: float | None) -> str:
    if psi is None:
        return "none"
    return "ok" if psi < 0.1 else "watch" if psi < 0.25 else "shifted"
