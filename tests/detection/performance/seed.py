"""Two weeks of scored traffic with known outcomes, for the browser tests and screenshots of the performance page."""

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
from django.utils import timezone

from detection.models import ModelVersion, Score
from review.models import ReviewItem
from tests.factories import ModelVersionFactory, RiskPolicyFactory, SourceFactory
from transactions.models import LabelSource, Transaction


def _scores(rng, fraud: np.ndarray) -> np.ndarray:
    """Fraud scores high, most legitimate ones low, and a few odd-but-legitimate ones high (false positives)."""
    legitimate = np.where(
        rng.random(fraud.size) < 0.04, rng.uniform(0.6, 1.0, fraud.size), rng.beta(1.6, 5, fraud.size)
    )
    return np.where(fraud, rng.beta(4, 1.6, fraud.size), legitimate).clip(0, 1)


def seed_performance(*, days: int = 14, per_day: int = 60, seed: int = 7) -> ModelVersion:
    """An active v2 (and a retired v1) with `days` of scores, review decisions on flagged ones, some reports."""
    rng = np.random.default_rng(seed)
    policy = RiskPolicyFactory(medium=0.6, high=0.8, critical=0.95, review_threshold=0.8)
    ModelVersionFactory(version=1, status=ModelVersion.Status.RETIRED, metrics={"roc_auc": 0.88})
    version = ModelVersionFactory(
        version=2,
        status=ModelVersion.Status.ACTIVE,
        training_rows=48_000,
        labelled_rows=3_100,
        training_start=timezone.now() - timedelta(days=60),
        training_end=timezone.now() - timedelta(days=days),
        trained_at=timezone.now() - timedelta(days=days, hours=-2),
        metrics={"roc_auc": 0.93, "average_precision": 0.61, "training_seconds": 41.2},
    )
    source = SourceFactory(name="seed-bank")
    now = timezone.now()
    for day in range(days):
        _seed_day(rng, version, policy, source, at=now - timedelta(days=day, hours=1), count=per_day, tag=day)
    return version


def _seed_day(rng, version, policy, source, *, at: datetime, count: int, tag: int) -> None:
    fraud = rng.random(count) < 0.08
    scores = _scores(rng, fraud)
    reported = rng.random(count) < 0.25
    rows = Transaction.objects.bulk_create(
        [
            Transaction(
                source=source,
                transaction_id=f"seed-{tag}-{i}",
                timestamp=at - timedelta(minutes=i),
                account_id=f"acct-{i % 40:03d}",
                amount=Decimal("25.00") + i,
                merchant_id=f"m-{i % 25:03d}",
            )
            for i in range(count)
        ]
    )
    stored = Score.objects.bulk_create(
        [
            Score(
                transaction=tx,
                transaction_time=tx.timestamp,
                model_version=version,
                score=float(s),
                risk_level=policy.risk_level(float(s)),
                is_anomaly=policy.is_flagged(float(s)),
                components={
                    "isolation_forest": round(float(np.clip(s + rng.normal(0, 0.12), 0, 1)), 4),
                    "autoencoder": round(float(np.clip(s + rng.normal(0, 0.2), 0, 1)), 4),
                },
            )
            for tx, s in zip(rows, scores, strict=True)
        ]
    )
    Score.objects.filter(pk__in=[s.pk for s in stored]).update(created_at=at)
    _label(rows, stored, fraud, reported, at=at)


def _label(rows, stored, fraud, reported, *, at: datetime) -> None:
    items = []
    for tx, score, is_fraud, is_reported in zip(rows, stored, fraud, reported, strict=True):
        if score.is_anomaly:
            decision = ReviewItem.Decision.FRAUD if is_fraud else ReviewItem.Decision.LEGITIMATE
            items.append(
                ReviewItem(
                    transaction=tx, score=score, status=ReviewItem.Status.DECIDED, decision=decision, decided_at=at
                )
            )
            source = LabelSource.REVIEW
        elif is_reported or is_fraud:
            source = LabelSource.REPORTED
        else:
            continue
        Transaction.objects.filter(pk=tx.pk).update(label=int(is_fraud), label_source=source, labelled_at=at)
    ReviewItem.objects.bulk_create(items)
