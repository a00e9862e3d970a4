"""Tests on history: a rule version run over the organisation's stored transactions of the last N days, on a worker.

The rows are read once (with the account's and merchant's history before the window when the rule reads computed
features, which are then built as the scoring path builds them), their stored scores read instead of scoring them
again, and the rule evaluated block by block with every other rule in force beside it (for the overlap); the test's
row counts progress after each block for the page's progress bar. The report is plain JSON (rules.testing.report
draws it).
"""

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from detection.engine.features import FeatureMatrix, FeatureSpec, build_features
from detection.engine.frame import Frame
from detection.policy.selectors import risk_policy_current
from rules.fields import FIELDS, FIRST_DEVICE, STORED_FIELDS, rule_columns
from rules.lists.lookup import list_memberships
from rules.models import RuleTest, RuleVersion
from rules.policy.selectors import active_rule_versions
from rules.policy.services import expression_compile, rule_version_mark_tested
from rules.testing import history

logger = logging.getLogger(__name__)

BLOCK_ROWS = 250_000  # rows evaluated (and features built) at a time: the progress bar moves after each
SAMPLE_SIZE = 50
# A test still "running" this long after it started lost its worker; a redelivered task may take it over.
TEST_LEASE = timedelta(hours=1)
# The catalogue's groups of names computed from the account's and the merchant's history (engine features).
FEATURE_GROUPS = ("account", "merchant")
SCORE_GROUP = "model"  # the stored score, its risk level and each detector's score
# Every engine feature the catalogue may read, whatever the active model was trained with.
FEATURE_SPEC = FeatureSpec(
    attributes=[], supervised_features=True, recent_share=True, amount_peak=True, repeat_spike=True
)


@transaction.atomic
def rule_test_create(*, version: RuleVersion, days: int, user=None, enqueue: bool = True) -> RuleTest:
    """A test of the version on the last `days` days, queued for a worker after commit."""
    test = RuleTest.objects.create(rule_version=version, days=days, created_by=user)
    if enqueue:
        transaction.on_commit(lambda: _enqueue(test.pk))
    return test


def _enqueue(test_id: int) -> None:
    from rules.testing.tasks import rule_test_task

    rule_test_task.apply_async(args=[test_id], queue=settings.JOB_QUEUE)


def rule_test_claim(*, test_id: int) -> bool:
    """Take a pending test, or one whose worker died long ago; True if this caller now runs it."""
    now = timezone.now()
    stale = RuleTest.objects.filter(pk=test_id, status=RuleTest.Status.RUNNING, started_at__lt=now - TEST_LEASE)
    pending = RuleTest.objects.filter(pk=test_id, status=RuleTest.Status.PENDING)
    return bool(pending.update(status=RuleTest.Status.RUNNING, started_at=now)) or bool(stale.update(started_at=now))


def rule_test_execute(*, test_id: int) -> RuleTest | None:
    """Run the test and store its report (or why it failed); None if another worker has it."""
    if not rule_test_claim(test_id=test_id):
        return None
    test = RuleTest.objects.select_related("rule_version__rule").get(pk=test_id)

    def progress(total: int, processed: int) -> None:
        RuleTest.objects.filter(pk=test_id).update(total_rows=total, processed_rows=processed)

    try:
        report = rule_test_run(version=test.rule_version, days=test.days, progress=progress)
    except Exception as exc:  # noqa: BLE001 - any failure is the test's outcome, shown on its page
        logger.warning("test on history failed", extra={"rule_test": test_id}, exc_info=True)
        test.status, test.error = RuleTest.Status.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    else:
        test.status, test.report = RuleTest.Status.DONE, report
        test.total_rows = test.processed_rows = report["rows"]
        rule_version_mark_tested(version=test.rule_version)
    test.finished_at = timezone.now()
    test.save(update_fields=["status", "report", "error", "finished_at", "total_rows", "processed_rows"])
    return test


def _reads_features(names: set[str]) -> bool:
    return any(name in FIELDS and FIELDS[name].group in FEATURE_GROUPS for name in names)


def _reads_stored(names: set[str]) -> tuple[str, ...]:
    """The stored fields the engine's frame lacks that the rules read (the device for first_device_for_account)."""
    wanted = set(names) | ({"device_id"} if FIRST_DEVICE in names else set())
    return tuple(name for name in STORED_FIELDS if name in wanted)


def _reads_scores(names: set[str]) -> bool:
    return any(name in FIELDS and FIELDS[name].group == SCORE_GROUP for name in names)


def _reads_components(names: set[str]) -> bool:
    return any(name.startswith("score_") and name in FIELDS for name in names)


def rule_test_run(
    *,
    version: RuleVersion,
    days: int,
    progress: Callable[[int, int], None] | None = None,
    until: datetime | None = None,
) -> dict:
    """The report of the version over the organisation's transactions of the `days` days before `until` (now)."""
    started = time.monotonic()
    organisation_id = version.rule.organisation_id
    until = until or timezone.now()
    since = until - timedelta(days=days)
    compiled = expression_compile(organisation_id=organisation_id, expression=version.expression)
    others = [
        (other, expression_compile(organisation_id=organisation_id, expression=other.expression))
        for other in active_rule_versions(organisation_id=organisation_id).exclude(rule_id=version.rule_id)
    ]
    names = set(compiled.fields).union(*(set(c.fields) for _, c in others))
    with_features = _reads_features(names)
    frame = history.window_frame(
        organisation_id=organisation_id,
        since=since,
        until=until,
        with_history=with_features,
        stored=_reads_stored(names),
    )
    data = Frame.of(frame)
    targets = np.flatnonzero(data.ts >= int(since.timestamp()))
    total = len(targets)
    if progress:
        progress(total, 0)
    review_threshold = risk_policy_current(organisation_id=organisation_id).review_threshold
    window = {"organisation_id": organisation_id, "since": since, "until": until, "row_ids": data.row_id[targets]}
    if _reads_scores(names):
        scores = history.stored_scores(**window, with_components=_reads_components(names))
    else:  # only the model's flags are wanted (for the overlap): far fewer rows to read
        scores = history.flagged_scores(**window, threshold=review_threshold)
    memberships = list_memberships(organisation_id=organisation_id)
    tally = _Tally(others=[o for o, _ in others])
    for start in range(0, total, BLOCK_ROWS):
        block = targets[start : start + BLOCK_ROWS]
        where = slice(start, start + len(block))
        features = block_features(data, block) if with_features else None
        output = scores_block(scores, where).output(features)
        # The frame as read (its attributes keep their text), the features built from its engine form.
        columns = rule_columns(
            names, frame=frame, rows=block, output=output, risk_levels=scores.risk_level[where], data=data
        )
        result = compiled.evaluate(columns, memberships)
        other_matches = [c.evaluate(columns, memberships).matched for _, c in others]
        tally.add(
            data=data,
            rows=block,
            matched=result.matched,
            missing=result.missing,
            others=other_matches,
            flagged=scores.score[where] >= review_threshold,
        )
        if progress:
            progress(total, start + len(block))
    return tally.report(
        since=since,
        until=until,
        days=days,
        rows=total,
        seconds=time.monotonic() - started,
        review_threshold=review_threshold,
        features=with_features,
    )


def block_features(data: Frame, block: np.ndarray) -> FeatureMatrix:
    """The engine features of a block of consecutive rows of the time-ordered frame, built from the block and the
    lookback before it only (what a row's features read), not the whole frame: each block costs its own rows."""
    start = int(np.searchsorted(data.ts, data.ts[block[0]] - history.LOOKBACK.total_seconds() - 1, side="left"))
    part = data.take(np.arange(start, block[-1] + 1))
    mask = np.zeros(len(part), dtype=bool)
    mask[block - start] = True
    built = build_features(part, target_mask=mask, spec=FEATURE_SPEC)
    return FeatureMatrix(X=built.X, names=built.names, rows=built.rows + start)


def scores_block(scores: history.StoredScores, where: slice) -> history.StoredScores:
    return history.StoredScores(
        score=scores.score[where],
        risk_level=scores.risk_level[where],
        components={name: values[where] for name, values in scores.components.items()},
    )


class _Tally:
    """The report's figures, added up block by block."""

    def __init__(self, *, others: list[RuleVersion]):
        self.others = others
        self.by_day: dict[str, list[int]] = {}  # day → [hits, fraud, legitimate, rows]
        self.hits = self.fraud = self.legitimate = self.missing = self.flagged = self.flagged_hits = 0
        self.overlap = [0] * len(others)
        self.other_hits = [0] * len(others)
        self.hit_ids: list[np.ndarray] = []

    def add(self, *, data: Frame, rows, matched, missing, others, flagged) -> None:
        label = data.label[rows]
        days = (data.ts[rows] // 86_400).astype("datetime64[D]").astype(str)
        fraud, legitimate = matched & (label == 1), matched & (label == 0)
        for day, values in _per_day(days, [matched, fraud, legitimate, np.ones(len(rows), dtype=bool)]).items():
            kept = self.by_day.setdefault(day, [0, 0, 0, 0])
            self.by_day[day] = [a + b for a, b in zip(kept, values, strict=True)]
        self.hits += int(matched.sum())
        self.fraud += int(fraud.sum())
        self.legitimate += int(legitimate.sum())
        self.missing += int(missing.sum())
        self.flagged += int(flagged.sum())
        self.flagged_hits += int((matched & flagged).sum())
        for k, other in enumerate(others):
            self.overlap[k] += int((matched & other).sum())
            self.other_hits[k] += int(other.sum())
        self.hit_ids.append(data.row_id[rows][matched])

    def report(self, *, since, until, days, rows, seconds, review_threshold, features) -> dict:
        labelled = self.fraud + self.legitimate
        hit_ids = np.concatenate(self.hit_ids) if self.hit_ids else np.zeros(0, dtype=np.int64)
        return {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "days": days,
            "rows": rows,
            "hits": self.hits,
            "hit_rate": self.hits / rows if rows else None,
            "fraud": self.fraud,
            "legitimate": self.legitimate,
            "unlabelled": self.hits - labelled,
            "precision": self.fraud / labelled if labelled else None,
            "missing": self.missing,
            "model": {
                "review_threshold": review_threshold,
                "flagged": self.flagged,
                "overlap": self.flagged_hits,
            },
            "rules": [
                {
                    "id": v.rule_id,
                    "name": v.rule.name,
                    "version": v.version,
                    "action": v.action,
                    "hits": self.other_hits[k],
                    "overlap": self.overlap[k],
                }
                for k, v in enumerate(self.others)
            ],
            "per_day": [
                {"day": day, "hits": h, "fraud": f, "legitimate": g, "rows": n}
                for day, (h, f, g, n) in sorted(self.by_day.items())
            ],
            "sample": _sample(hit_ids),
            "features": features,
            "seconds": round(seconds, 3),
            "rows_per_minute": round(rows / seconds * 60) if seconds > 0 else None,
        }


def _per_day(days: np.ndarray, masks: list[np.ndarray]) -> dict[str, list[int]]:
    unique, inverse = np.unique(days, return_inverse=True)
    counts = [np.bincount(inverse, weights=mask.astype(np.float64), minlength=len(unique)) for mask in masks]
    return {day: [int(c[i]) for c in counts] for i, day in enumerate(unique.tolist())}


def _sample(hit_ids: np.ndarray) -> list[int]:
    """Up to SAMPLE_SIZE hits spread evenly over the window (their primary keys, oldest first)."""
    if len(hit_ids) <= SAMPLE_SIZE:
        return [int(v) for v in hit_ids]
    picks = np.linspace(0, len(hit_ids) - 1, SAMPLE_SIZE).round().astype(int)
    return [int(v) for v in hit_ids[picks]]
