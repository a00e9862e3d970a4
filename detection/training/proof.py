"""Retraining that proves itself: a retrained version beside the active one on the most recent labelled days.

The evaluation window is the RETRAIN_EVALUATION_DAYS days up to the newest labelled transaction; the retrained
version is trained on the days before it (never on the rows it is judged on). Both versions score the window's
labelled transactions in memory, with the same features; the retrained one is activated on its own only if its
RETRAIN_PROMOTE_METRIC is at least the active one's plus RETRAIN_PROMOTE_MARGIN. The comparison is saved on the
version (`promotion_check`) either way, for an admin to read on its page.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings

from detection.engine import metrics
from detection.engine.features import ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS
from detection.models import ModelVersion
from detection.scoring import adapters, registry
from transactions.models import Transaction

LOOKBACK = timedelta(seconds=max(ACCOUNT_LOOKBACK_SECONDS, MERCHANT_LOOKBACK_SECONDS))
METRICS = {"average_precision": metrics.average_precision, "roc_auc": metrics.roc_auc}


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime  # the newest labelled transaction's time, included


def evaluation_window(*, organisation_id: int, days: int) -> Window | None:
    """The `days` days up to the organisation's newest labelled transaction; None when none is labelled."""
    labelled = Transaction.objects.filter(source__organisation_id=organisation_id, label__isnull=False)
    newest = labelled.order_by("-timestamp").values_list("timestamp", flat=True).first()
    return None if newest is None else Window(since=newest - timedelta(days=days), until=newest)


def metric_name() -> str:
    name = settings.RETRAIN_PROMOTE_METRIC
    if name not in METRICS:
        raise ValueError(f"RETRAIN_PROMOTE_METRIC must be one of {', '.join(METRICS)}, not {name!r}.")
    return name


def promotion_check(*, candidate: ModelVersion, active: ModelVersion, window: Window | None) -> dict:
    """The candidate against the active version on the window's labelled transactions: both versions' figures, the
    rule applied and whether the candidate beats the active one by the margin (`beats`), with the reason in words."""
    name, margin = metric_name(), settings.RETRAIN_PROMOTE_MARGIN
    check = {
        "metric": name,
        "margin": margin,
        "active_version": active.version,
        "candidate_version": candidate.version,
        "beats": False,
    }
    if window is None:
        return check | {"reason": "No labelled transaction to compare on: kept ready for an admin."}
    labels, scores = _scored(window, organisation_id=candidate.organisation_id, versions=[active, candidate])
    known_fraud = int(np.sum(labels == 1))
    check |= {
        "since": window.since.isoformat(),
        "until": window.until.isoformat(),
        "labelled": int(labels.size),
        "fraud": known_fraud,
        "active_trained_on_window": bool(active.training_end and active.training_end >= window.since),
    }
    if labels.size < settings.COMPARE_MIN_LABELS or known_fraud in (0, labels.size):
        reason = (
            f"Too few labels to compare on ({labels.size} labelled, {known_fraud} fraud; at least "
            f"{settings.COMPARE_MIN_LABELS} of both kinds needed): kept ready for an admin."
        )
        return check | {"reason": reason}
    figures = {
        role: {metric: _rounded(compute(labels, values)) for metric, compute in METRICS.items()}
        for role, values in zip(("active", "candidate"), scores, strict=True)
    }
    ours, theirs = figures["candidate"][name], figures["active"][name]
    beats = ours is not None and theirs is not None and ours >= theirs + margin
    verdict = "beats" if beats else "does not beat"
    reason = (
        f"v{candidate.version}'s {name.replace('_', ' ')} {ours} {verdict} v{active.version}'s {theirs} by the margin "
        f"{margin}" + (": activated." if beats else ": kept ready for an admin.")
    )
    return check | {"figures": figures, "beats": beats, "reason": reason}


def _scored(window: Window, *, organisation_id: int, versions: list[ModelVersion]):
    """The window's labelled transactions' labels, and each version's scores of them (same frame, same features)."""
    frame = adapters.frame_for_window(
        organisation_id=organisation_id, since=window.since - LOOKBACK, until=window.until + timedelta(seconds=1)
    )
    ts, label = frame["ts"].to_numpy(), frame["label"].to_numpy(dtype=np.float64)
    targets = (ts >= int(window.since.astimezone(UTC).timestamp())) & ~np.isnan(label)
    if not targets.any():
        return np.zeros(0), [np.zeros(0) for _ in versions]
    scores, rows = [], None
    for version in versions:
        output = registry.version_detector(version).score_frame(frame, targets, reasons=False)
        rows = output.rows
        scores.append(output.score.astype(np.float64))
    return label[rows].astype(int), scores


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)
