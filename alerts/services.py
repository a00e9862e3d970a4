"""Writes for alerts: evaluating rules after scoring, deliveries, thresholds and rule changes (all audited).

A rule only ever fires on scores of its own organisation's transactions (`AlertRule.score_condition`), and the
alerts it raises ring only its organisation's bells.
"""

import logging
from datetime import timedelta
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from alerts.live import bell_broadcast
from alerts.models import Alert, AlertDelivery, AlertReadMark, AlertRule, PendingEvaluation
from alerts.selectors import alert_rules_screen, alerts_of
from core.audit import audit_record, audit_snapshot
from detection.models import Score
from detection.scoring.events import ScoresStored
from monitoring.events import DriftMeasured
from monitoring.models import DriftMeasurement

logger = logging.getLogger(__name__)

EVALUATION_CHUNK = 2000


def alerts_evaluate_stored(event: ScoresStored) -> None:
    """Scoring's news of stored scores: those some enabled rule of their organisation may match are evaluated after
    the commit, against that organisation's rules."""
    screen = alert_rules_screen(
        event.scores,
        event.risk_levels,
        organisation_id=event.organisation_id,
        decisions=event.decisions,
        rules=event.rules or None,
    )
    alerts_evaluate_for_scores(organisation_id=event.organisation_id, score_ids=event.score_ids[screen].tolist())


def alerts_evaluate_for_scores(*, organisation_id: int, score_ids: list[int]) -> None:
    """Ask a worker to evaluate the organisation's alert rules on these scores of its transactions once they are
    committed; never blocks scoring."""
    ids = [int(score_id) for score_id in score_ids]
    for start in range(0, len(ids), EVALUATION_CHUNK):
        transaction.on_commit(partial(_enqueue_evaluation, ids[start : start + EVALUATION_CHUNK], organisation_id))


# Queueing an evaluation tries the broker twice, 0.1 s apart (Celery's default policy waits 0.6 s): with the broker
# down, a scoring request pays that once per flagged batch, and the scores are kept for a later evaluation instead.
ENQUEUE_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.1, "interval_max": 0.1}


def _enqueue_evaluation(score_ids: list[int], organisation_id: int) -> None:
    from alerts.tasks import alerts_evaluate_task

    try:
        alerts_evaluate_task.apply_async((score_ids, organisation_id), retry_policy=ENQUEUE_RETRY_POLICY)
    except Exception as exc:  # noqa: BLE001 - the broker being down must not fail the scoring request
        logger.exception("could not enqueue alert evaluation", extra={"score_count": len(score_ids)})
        # The scores are committed (this runs after the commit): PostgreSQL keeps them until a worker evaluates them.
        try:
            PendingEvaluation.objects.create(
                score_ids=score_ids, organisation_id=organisation_id, error=f"{type(exc).__name__}: {exc}"[:2000]
            )
        except Exception:  # noqa: BLE001 - nor may the database then: the scores are stored, their alerts are lost
            logger.exception("could not keep the scores for a later alert evaluation", extra={"score_ids": score_ids})


def alerts_evaluate_pending(*, limit: int = 100) -> int:
    """Evaluate the rules on scores whose evaluation could not be queued; how many scores. A row is removed in the
    transaction that evaluates it, so two runs at once never evaluate it twice (and an evaluation repeated after a
    crash fires nothing twice: a rule alerts once per transaction)."""
    evaluated = 0
    for _ in range(limit):
        with transaction.atomic():
            pending = PendingEvaluation.objects.select_for_update(skip_locked=True).order_by("id").first()
            if pending is None:
                break
            alerts_evaluate(score_ids=pending.score_ids, organisation_id=pending.organisation_id)
            evaluated += len(pending.score_ids)
            pending.delete()
    return evaluated


def alerts_evaluate(*, score_ids: list[int], organisation_id: int | None = None) -> list[Alert]:
    """Fire every enabled rule of the organisation (of every one when None, as for the scores kept while the broker
    was down) on the matching scores of its transactions: one alert per rule and transaction, then deliveries, then
    the bells of the organisations that have new alerts ring."""
    rules = AlertRule.objects.filter(enabled=True, kind=AlertRule.Kind.TRANSACTION)
    if organisation_id is not None:
        rules = rules.filter(organisation_id=organisation_id)
    created: list[Alert] = []
    for rule_id in rules.values_list("id", flat=True):
        created.extend(_rule_fire(rule_id=rule_id, score_ids=score_ids))
    for organisation in {alert.rule.organisation_id for alert in created}:
        transaction.on_commit(partial(bell_broadcast, organisation_id=organisation))
    return created


@transaction.atomic
def _rule_fire(*, rule_id: int, score_ids: list[int]) -> list[Alert]:
    # The row lock serialises evaluations of one rule, so concurrent workers neither double-fire nor split a group.
    rule = AlertRule.objects.select_for_update().get(pk=rule_id)
    if not rule.enabled or rule.kind != AlertRule.Kind.TRANSACTION:
        return []
    candidates = (
        Score.objects.filter(id__in=score_ids)
        .filter(rule.score_condition())
        .exclude(transaction__alerts__rule=rule)
        .select_related("transaction")
        .order_by("transaction__timestamp", "id")
    )
    alerts, seen = [], set()
    for score in candidates:
        if score.transaction_id in seen or not _rate_exceeded(rule, score):
            continue
        seen.add(score.transaction_id)
        alerts.append(Alert(rule=rule, transaction=score.transaction, score=score))
    return _alerts_store(rule=rule, alerts=alerts)


def alerts_evaluate_drift(event: DriftMeasured) -> list[Alert]:
    """Monitoring's news of a day's drift measured: each enabled drift rule of the organisation fires once per day
    and feature whose index is above its threshold (a day measured again fires nothing twice), delivered as the
    others are; the organisation's bells ring after the commit."""
    created: list[Alert] = []
    rules = AlertRule.objects.filter(organisation_id=event.organisation_id, enabled=True, kind=AlertRule.Kind.DRIFT)
    for rule_id in rules.values_list("id", flat=True):
        created.extend(_drift_rule_fire(rule_id=rule_id, measurement_ids=event.measurement_ids))
    if created:
        transaction.on_commit(partial(bell_broadcast, organisation_id=event.organisation_id))
    return created


@transaction.atomic
def _drift_rule_fire(*, rule_id: int, measurement_ids) -> list[Alert]:
    rule = AlertRule.objects.select_for_update().get(pk=rule_id)
    if not rule.enabled or rule.kind != AlertRule.Kind.DRIFT or rule.drift_threshold is None:
        return []
    fired = set(rule.alerts.filter(drift_day__isnull=False).values_list("drift_day", "drift_feature"))
    above = DriftMeasurement.objects.filter(
        id__in=measurement_ids, organisation_id=rule.organisation_id, psi__gt=rule.drift_threshold
    ).order_by("day", "-psi", "feature")
    alerts = [
        Alert(rule=rule, drift=m, drift_day=m.day, drift_feature=m.feature, drift_psi=m.psi)
        for m in above
        if (m.day, m.feature) not in fired
    ]
    return _alerts_store(rule=rule, alerts=alerts)


def _alerts_store(*, rule: AlertRule, alerts: list[Alert]) -> list[Alert]:
    """A rule's new alerts stored, and their deliveries planned unless the rule rings the bell only."""
    if not alerts:
        return []
    Alert.objects.bulk_create(alerts)
    if rule.channel != AlertRule.Channel.IN_APP:
        _deliveries_plan(rule=rule, alerts=alerts)
    return alerts


def _rate_exceeded(rule: AlertRule, score: Score) -> bool:
    """True when the rule has no rate condition, or more than N matching transactions share this one's key."""
    if rule.rate_count is None:
        return True
    tx = score.transaction
    key_field = "merchant_id" if rule.rate_scope == AlertRule.RateScope.MERCHANT else "account_id"
    key = getattr(tx, key_field)
    if not key:
        return False
    window_start = tx.timestamp - timedelta(minutes=rule.rate_window_minutes)
    matching = Score.objects.filter(rule.score_condition()).filter(
        **{f"transaction__{key_field}": key},
        transaction__timestamp__gt=window_start,
        transaction__timestamp__lte=tx.timestamp,
    )
    return matching.aggregate(n=Count("transaction_id", distinct=True))["n"] > rule.rate_count


def _deliveries_plan(*, rule: AlertRule, alerts: list[Alert]) -> None:
    """No quiet period: one delivery per alert. Otherwise the first alert goes at once and repeats within the
    quiet period join one summary delivery sent when the period ends."""
    now = timezone.now()
    if not rule.quiet_period_minutes:
        for alert in alerts:
            _delivery_create(rule=rule, alerts=[alert], scheduled_for=now)
        return
    quiet = timedelta(minutes=rule.quiet_period_minutes)
    for alert in alerts:
        gathering = (
            AlertDelivery.objects.select_for_update()
            .filter(rule=rule, status=AlertDelivery.Status.PENDING, resend_of=None, scheduled_for__gt=now)
            .order_by("-scheduled_for")
            .first()
        )
        if gathering is not None:
            gathering.alerts.add(alert)
            continue
        last = rule.deliveries.filter(resend_of=None).order_by("-scheduled_for").first()
        due = last.scheduled_for + quiet if last is not None and last.scheduled_for + quiet > now else now
        _delivery_create(rule=rule, alerts=[alert], scheduled_for=due)


def _delivery_create(*, rule: AlertRule, alerts: list[Alert], scheduled_for, resend_of=None, user=None):
    delivery = AlertDelivery.objects.create(
        rule=rule,
        channel=rule.channel,
        destination=rule.delivery_destination,
        scheduled_for=scheduled_for,
        resend_of=resend_of,
        created_by=user,
    )
    delivery.alerts.add(*alerts)
    transaction.on_commit(partial(_enqueue_delivery, delivery.pk, scheduled_for))
    return delivery


def _enqueue_delivery(delivery_id: int, scheduled_for) -> None:
    from alerts.tasks import alert_delivery_send

    try:
        if scheduled_for > timezone.now():
            alert_delivery_send.apply_async((delivery_id,), eta=scheduled_for)
        else:
            alert_delivery_send.delay(delivery_id)
    except Exception:  # noqa: BLE001 - the row stays pending; `manage.py alerts_requeue` sends it later
        logger.exception("could not enqueue alert delivery", extra={"delivery_id": delivery_id})


@transaction.atomic
def alert_delivery_resend(*, delivery: AlertDelivery, user=None) -> AlertDelivery:
    """Send a delivery's alerts again as a new delivery, keeping the original in the log."""
    resend = _delivery_create(
        rule=delivery.rule,
        alerts=list(delivery.alerts.all()),
        scheduled_for=timezone.now(),
        resend_of=delivery,
        user=user,
    )
    audit_record(
        action="delivery.resend",
        obj=resend,
        before={"resend_of": delivery.pk},
        actor=user,
        organisation_id=delivery.rule.organisation_id,
    )
    return resend


@transaction.atomic
def alert_rule_save(*, rule: AlertRule, user=None, matched_rules=None, secret: str | None = None) -> AlertRule:
    """Create or change a rule (validated) with one audit row holding before and after. A rule stays in its
    organisation: its alerts are that organisation's, so moving it would hand them to another. `matched_rules`
    (decision rules of the same organisation) replaces the rules it waits for, when given. `secret`, when given, is
    the channel's new secret, kept encrypted; a rule moved to another channel drops the old channel's secret.

    The audit rows say that the secret changed, never what it is."""
    before = None
    stored = None
    if rule.pk is not None:
        stored = AlertRule.objects.filter(pk=rule.pk).first()
        before = audit_snapshot(stored) if stored else None
        if stored is not None and stored.organisation_id != rule.organisation_id:
            raise ValidationError({"organisation": "A rule cannot move to another organisation."})
    else:
        rule.created_by = user
    if stored is not None and stored.channel != rule.channel and secret is None:
        rule.secret_encrypted = ""
    if secret:
        rule.secret_set(secret)
    if rule.secret_env:  # the environment's secret in force: keep no stored one besides
        rule.secret_encrypted = ""
    if matched_rules is not None and any(r.organisation_id != rule.organisation_id for r in matched_rules):
        raise ValidationError({"matched_rules": "Choose rules of the alert rule's own organisation."})
    rule.full_clean()
    rule.save()
    if matched_rules is not None:
        rule.matched_rules.set(matched_rules)
        rule.__dict__.pop("matched_rule_ids", None)
    after = audit_snapshot(AlertRule.objects.get(pk=rule.pk))  # as stored, e.g. decimals at their scale
    if (stored.secret_encrypted if stored is not None else "") != rule.secret_encrypted:
        after["secret_changed"] = True
    audit_record(
        action="rule.change" if before is not None else "rule.create",
        obj=rule,
        before=before,
        after=after,
        actor=user,
    )
    return rule


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule, user=None) -> None:
    before = audit_snapshot(rule)
    audit_record(action="rule.delete", obj=rule, before=before, actor=user)
    rule.delete()


def alerts_mark_seen(*, user, organisation_id: int) -> None:
    """Every alert of the organisation so far counts as read by the user (the other organisations' stay as they are)."""
    newest = alerts_of(organisation_id=organisation_id).order_by("-id").values_list("id", flat=True).first() or 0
    AlertReadMark.objects.update_or_create(
        user=user, organisation_id=organisation_id, defaults={"last_seen_alert_id": newest}
    )
