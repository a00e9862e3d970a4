"""Writes to the review queue: create items for flagged scores, claim, release, decide, note.

Every change is broadcast to its organisation's open queues after commit (see `review.broadcast`), and claims and
decisions are written to the audit trail. Items reach these functions through an organisation's selectors
(`review.selectors.review_items`), so each acts on one organisation's item only.
"""

import logging
import math
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from functools import partial

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.bulk_insert import insert_returning
from detection.engine.offering import investigations, novelty, offer
from detection.scoring.events import ScoresStored
from review.broadcast import review_queue_broadcast_on_commit
from review.cases.grouping import cases_close_finished, cases_join_items
from review.models import CaseEvent, ReviewDecision, ReviewItem
from review.selectors import (
    review_budget_spent,
    review_claimable,
    review_confirmed_frauds,
    review_investigation_transactions,
    review_offer_candidates,
    review_organisations_with_open_items,
)
from transactions.models import Transaction
from transactions.services import transaction_label

logger = logging.getLogger(__name__)

FINAL_DECISIONS = {ReviewItem.Decision.FRAUD: 1, ReviewItem.Decision.LEGITIMATE: 0}
ACTIVE_STATUSES = (ReviewItem.Status.OPEN, ReviewItem.Status.IN_REVIEW)


class ReviewConflict(Exception):
    """The item is not in a state that allows this (claimed by someone else, already decided, ...)."""


def review_priority(*, score: float, amount: Decimal | float) -> float:
    """Higher first: the score in points (0-100) plus up to 10 points for the money at stake (log10 of the
    amount, capped at 10 million), so 0.01 of score weighs as much as a five-fold larger amount.

    Age is not stored in the priority: the queue breaks ties by age, oldest first, at read time.
    """
    amount_term = min(math.log10(1 + float(amount)), 7.0) / 7.0
    return round(float(score) * 100 + amount_term * 10, 4)


def _best_score_per_transaction(scores: Iterable) -> list:
    best: dict[int, object] = {}
    for s in scores:
        current = best.get(s.transaction_id)
        if current is None or s.score > current.score:
            best[s.transaction_id] = s
    return list(best.values())


_ITEM_COLUMNS = (
    ("transaction_id", "bigint"),
    ("score_id", "bigint"),
    ("status", "text"),
    ("priority", "float8"),
    ("created_at", "timestamptz"),
    ("decision", "text"),
    ("origin", "text"),
    ("job_id", "bigint"),
)


def _insert_ignoring_queued(rows: list[tuple]) -> list[tuple[int, int]]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: exact under concurrency, one statement."""
    return insert_returning(
        table=ReviewItem._meta.db_table,
        columns=_ITEM_COLUMNS,
        rows=rows,
        suffix="ON CONFLICT (transaction_id) DO NOTHING RETURNING id, transaction_id",
    )


def _item_rows(transaction_ids, score_ids, scores, amounts, now, job_id: int | None = None) -> list[tuple]:
    """New open items' rows (the _ITEM_COLUMNS), one per transaction, from parallel sequences; an upload's job's
    items are of origin `upload`."""
    origin = ReviewItem.Origin.UPLOAD if job_id is not None else ReviewItem.Origin.LIVE
    return [
        (
            int(tx),
            int(score_id),
            ReviewItem.Status.OPEN,
            review_priority(score=score, amount=amount),
            now,
            "",
            origin,
            job_id,
        )
        for tx, score_id, score, amount in zip(transaction_ids, score_ids, scores, amounts, strict=True)
    ]


@transaction.atomic(savepoint=False)
def review_items_queue(
    *, organisation_id: int, transaction_ids, score_ids, scores, amounts, job_id: int | None = None
) -> list[int]:
    """Queue flagged scores of one organisation's transactions given as parallel sequences (one per transaction, as
    bulk scoring has them in arrays): the same items, priorities and broadcast as `review_items_create_for_scores`.
    Items of an upload's job (`job_id`) are kept for that upload's own view: the live queues do not hear of them.
    Returns the new items' ids."""
    rows = _item_rows(transaction_ids, score_ids, scores, amounts, timezone.now(), job_id)
    item_ids = [pk for pk, _ in _insert_ignoring_queued(rows)] if rows else []
    if item_ids and job_id is None:
        cases_join_items(organisation_id=organisation_id, item_ids=item_ids)
        review_queue_broadcast_on_commit(organisation_id=organisation_id, item_ids=item_ids, event="created")
        transaction.on_commit(partial(_enqueue_offer, organisation_id))
    return item_ids


def _enqueue_offer(organisation_id: int) -> None:
    from review.tasks import review_queue_offer_task

    try:
        review_queue_offer_task.apply_async((organisation_id,), retry_policy={"max_retries": 1, "interval_start": 0.1})
    except Exception:  # noqa: BLE001 - the broker being down must not fail scoring; "claim next" offers anew anyway
        logger.exception("could not enqueue the queue policy", extra={"organisation_id": organisation_id})


_OFFER_FIELDS = (
    "pk",
    "score__score",
    "score__components",
    "transaction__account_id",
    "transaction__merchant_id",
    "transaction__amount",
    "priority",
    "offer_reason",
)
# An offered item's priority starts here, above any score-based one (at most 110): offered items come first.
OFFER_PRIORITY = 1000.0


def review_queue_offer_all() -> int:
    """The queue policy for every organisation with open live items (Celery beat's, so a new day's budget is offered
    even when no item arrives); how many organisations."""
    organisations = review_organisations_with_open_items()
    for organisation_id in organisations:
        review_queue_offer(organisation_id=organisation_id)
    return len(organisations)


@transaction.atomic
def review_queue_offer(*, organisation_id: int) -> int:
    """Order the organisation's open live items by the queue policy (``detection.engine.offering.offer``): what is
    left of today's REVIEW_BUDGET_PER_DAY goes to the confirmed frauds' investigations, exploration and the highest
    risk, each item offered with its reason and first in the queue; the rest wait in score order. Returns how many
    items are offered."""
    rows = list(review_offer_candidates(organisation_id=organisation_id).values_list(*_OFFER_FIELDS))
    if not rows:
        return 0
    now = timezone.now()
    spent = review_budget_spent(
        organisation_id=organisation_id, since=now.replace(hour=0, minute=0, second=0, microsecond=0)
    )
    cards, merchants = review_confirmed_frauds(
        organisation_id=organisation_id, since=now - timedelta(days=settings.REVIEW_INVESTIGATE_DAYS)
    )
    ids, scores, components, accounts, merchant_ids, amounts, priorities, reasons = zip(*rows, strict=True)
    offered = offer(
        score=np.array(scores, dtype=np.float64),
        novelty=novelty(_component_arrays(components, scores)),
        cards=np.array(accounts, dtype=object),
        merchants=np.array(merchant_ids, dtype=object),
        confirmed_cards=np.array(cards, dtype=object),
        confirmed_merchants=np.array(merchants, dtype=object),
        budget=max(settings.REVIEW_BUDGET_PER_DAY - spent, 0),
        explore_share=settings.REVIEW_EXPLORE_SHARE,
        investigate_share=settings.REVIEW_INVESTIGATE_SHARE,
        investigate=investigations(settings.REVIEW_INVESTIGATE),
    )
    new_priority = [review_priority(score=s, amount=a) for s, a in zip(scores, amounts, strict=True)]
    new_reason = [""] * len(rows)
    for rank, (position, code) in enumerate(zip(offered.index.tolist(), offered.reason, strict=True)):
        new_priority[position] = OFFER_PRIORITY + len(offered) - rank
        new_reason[position] = str(code)
    changed = [
        ReviewItem(pk=ids[i], priority=new_priority[i], offer_reason=new_reason[i])
        for i in range(len(rows))
        if new_priority[i] != priorities[i] or new_reason[i] != reasons[i]
    ]
    # Only the rows that change are locked, and those another session holds (a claim in flight) are left as they
    # are: offering never waits for a claim, nor holds the rest of the queue from one.
    free = set(
        ReviewItem.objects.filter(pk__in=[item.pk for item in changed], status=ReviewItem.Status.OPEN)
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)
    )
    changed = [item for item in changed if item.pk in free]
    if changed:
        ReviewItem.objects.bulk_update(changed, ["priority", "offer_reason"], batch_size=1000)
        review_queue_broadcast_on_commit(
            organisation_id=organisation_id, item_ids=[item.pk for item in changed], event="changed"
        )
    return len(offered)


def _component_arrays(components: tuple[dict, ...], scores: tuple[float, ...]) -> dict[str, np.ndarray]:
    """The scores' stored components as arrays by name (a score stored without one: NaN there)."""
    names = {name for parts in components for name in (parts or {})}
    return {
        name: np.array([(parts or {}).get(name, np.nan) for parts in components], dtype=np.float64) for name in names
    } or {"unsupervised": np.array(scores, dtype=np.float64)}


def review_investigation_widen(*, item: ReviewItem) -> list[int]:
    """A confirmed fraud widens the investigation: its card's and its merchant's other transactions of the last
    REVIEW_INVESTIGATE_DAYS not yet in review enter the live queue (the policy then offers them first, within the
    budget). Returns the new items' ids."""
    tx = item.transaction
    found = review_investigation_transactions(
        organisation_id=item.organisation_id,
        account_id=tx.account_id,
        merchant_id=tx.merchant_id,
        since=tx.timestamp - timedelta(days=settings.REVIEW_INVESTIGATE_DAYS),
    )
    if not found:
        return []
    transaction_ids, score_ids, scores, amounts = zip(*found, strict=True)
    return review_items_queue(
        organisation_id=item.organisation_id,
        transaction_ids=transaction_ids,
        score_ids=score_ids,
        scores=scores,
        amounts=amounts,
    )


def review_items_queue_stored(event: ScoresStored) -> None:
    """Scoring's news of stored scores: the flagged ones enter their organisation's queue (an upload's, its own
    view), except transactions that arrived labelled, whose outcome is known already."""
    queued = event.flagged & ~event.arrived_labelled()
    if queued.any():
        review_items_queue(
            organisation_id=event.organisation_id,
            transaction_ids=event.transaction_ids[queued],
            score_ids=event.score_ids[queued],
            scores=event.scores[queued],
            amounts=event.amounts[queued],
            job_id=event.upload_job_id,
        )


@transaction.atomic(savepoint=False)
def review_items_create_for_scores(*, scores: list) -> list[ReviewItem]:
    """Queue flagged scores for review: one item per transaction, idempotent, broadcast after commit.

    Returns only the items this call created; transactions already in the queue are left as they are.
    """
    unique = _best_score_per_transaction(scores)
    if not unique:
        return []
    now = timezone.now()
    facts = _amounts_and_organisations(unique)
    rows = _item_rows(
        [s.transaction_id for s in unique],
        [s.pk for s in unique],
        [s.score for s in unique],
        [facts[s.transaction_id][0] for s in unique],
        now,
    )
    created = {transaction_id: pk for pk, transaction_id in _insert_ignoring_queued(rows)}
    by_transaction = {s.transaction_id: s for s in unique}
    # Built from what was inserted rather than read back: a job flags thousands at a time.
    items = [
        ReviewItem(
            pk=created[transaction_id],
            transaction_id=transaction_id,
            score=by_transaction[transaction_id],
            status=ReviewItem.Status.OPEN,
            priority=priority,
            created_at=now,
        )
        for transaction_id, _, _, priority, *_ in rows
        if transaction_id in created
    ]
    by_organisation: dict[int, list[int]] = {}
    for item in items:
        item._state.adding = False
        by_organisation.setdefault(facts[item.transaction_id][1], []).append(item.pk)
    for organisation_id, item_ids in by_organisation.items():
        cases_join_items(organisation_id=organisation_id, item_ids=item_ids)
        review_queue_broadcast_on_commit(organisation_id=organisation_id, item_ids=item_ids, event="created")
    return items


def _amounts_and_organisations(scores: list) -> dict[int, tuple[Decimal, int]]:
    """Each scored transaction's amount and organisation: from the loaded transactions, else in one query."""
    cached = {
        s.transaction_id: (s.transaction.amount, s.transaction.source.organisation_id)
        for s in scores
        if "transaction" in s._state.fields_cache  # already loaded: no query
        and "source" in s.transaction._state.fields_cache
    }
    missing = [s.transaction_id for s in scores if s.transaction_id not in cached]
    if missing:
        rows = Transaction.objects.filter(pk__in=missing).values_list("pk", "amount", "source__organisation_id")
        cached.update((pk, (amount, organisation_id)) for pk, amount, organisation_id in rows)
    return cached


def _snapshot(item: ReviewItem) -> dict:
    return {
        "status": item.status,
        "assignee": item.assignee.username if item.assignee_id else None,
        "decision": item.decision,
    }


def _locked(item_id: int) -> ReviewItem:
    return (
        ReviewItem.objects.select_for_update(of=("self",))
        .select_related("assignee", "transaction__source")
        .get(pk=item_id)
    )


@transaction.atomic
def review_claim_next(
    *, organisation_id: int | None, user, filters: dict | None = None, request=None
) -> ReviewItem | None:
    """Hand the user the next open item of the organisation's live queue that matches the queue's `filters` (none:
    the whole queue), in the queue's order (highest priority first by default: what the queue policy offered today,
    then by score). Rows locked by a concurrent claim are skipped, so two analysts pressing "claim next" at the same
    moment always get different items. None when no open item matches.
    """
    item = (
        review_claimable(organisation_id=organisation_id, user=user, filters=filters or {})
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("transaction__source")
        .exclude(snoozed_until__gt=timezone.now())
        .first()
    )
    if item is None:
        return None
    return _claim(item=item, user=user, request=request)


@transaction.atomic
def review_claim(*, item: ReviewItem, user, request=None) -> ReviewItem:
    """Claim one item. Claiming your own item again is a no-op; anything but an open item is a conflict."""
    item = _locked(item.pk)
    if item.status == ReviewItem.Status.IN_REVIEW and item.assignee_id == user.pk:
        return item
    if item.status != ReviewItem.Status.OPEN:
        raise ReviewConflict(_conflict_message(item))
    return _claim(item=item, user=user, request=request)


def _claim(*, item: ReviewItem, user, request) -> ReviewItem:
    before = _snapshot(item)
    item.status = ReviewItem.Status.IN_REVIEW
    item.assignee = user
    item.claimed_at = timezone.now()
    item.save(update_fields=["status", "assignee", "claimed_at"])
    audit_record(action="review.claim", obj=item, before=before, after=_snapshot(item), actor=user, request=request)
    review_queue_broadcast_on_commit(organisation_id=item.organisation_id, item_ids=[item.pk], event="changed")
    return item


@transaction.atomic
def review_release(*, item: ReviewItem, user, request=None) -> ReviewItem:
    """Give an item back to the queue. Only its assignee (or a superuser) may release it."""
    item = _locked(item.pk)
    if item.status != ReviewItem.Status.IN_REVIEW:
        raise ReviewConflict(_conflict_message(item))
    if item.assignee_id != user.pk and not user.is_superuser:
        raise ReviewConflict(f"Claimed by {item.assignee.username}; only they can release it.")
    before = _snapshot(item)
    item.status = ReviewItem.Status.OPEN
    item.assignee = None
    item.claimed_at = None
    item.save(update_fields=["status", "assignee", "claimed_at"])
    audit_record(action="review.release", obj=item, before=before, after=_snapshot(item), actor=user, request=request)
    review_queue_broadcast_on_commit(organisation_id=item.organisation_id, item_ids=[item.pk], event="changed")
    return item


@transaction.atomic
def review_decide(*, item: ReviewItem, user, decision: str, note: str = "", request=None) -> ReviewItem:
    """Record a decision with who and when.

    `fraud` / `legitimate` close the item and become the transaction's label (source `review`).
    `needs_info` keeps the item in review with the same analyst, marked as waiting for information, and sets no
    label; the analyst decides later or releases it. Deciding an open item claims it implicitly.
    """
    if decision not in ReviewItem.Decision.values:
        raise ValueError(f"unknown decision {decision!r}")
    item = _locked(item.pk)
    _check_can_decide(item, user)
    before = _snapshot(item)
    now = timezone.now()
    ReviewDecision.objects.create(item=item, decision=decision, note=note.strip(), user=user)
    item.decision = decision
    item.assignee = user
    item.claimed_at = item.claimed_at or now
    if decision in FINAL_DECISIONS:
        item.status = ReviewItem.Status.DECIDED
        item.decided_at, item.decided_by = now, user
        _label_transaction(item=item, decision=decision, user=user, note=note, at=now)
        if decision == ReviewItem.Decision.FRAUD and item.origin == ReviewItem.Origin.LIVE:
            review_investigation_widen(item=item)
            review_queue_offer(organisation_id=item.organisation_id)
    else:
        item.status = ReviewItem.Status.IN_REVIEW
    item.save(update_fields=["decision", "assignee", "claimed_at", "status", "decided_at", "decided_by"])
    audit_record(action="review.decide", obj=item, before=before, after=_snapshot(item), actor=user, request=request)
    if item.case_id:
        text = f"Transaction {item.transaction.transaction_id} decided {item.get_decision_display().lower()}"
        CaseEvent.objects.create(case_id=item.case_id, kind=CaseEvent.Kind.DECISION, text=text, user=user)
        cases_close_finished(case_ids=[item.case_id], user=user)
    review_queue_broadcast_on_commit(organisation_id=item.organisation_id, item_ids=[item.pk], event="changed")
    return item


def _check_can_decide(item: ReviewItem, user) -> None:
    if item.status in (ReviewItem.Status.DECIDED, ReviewItem.Status.CLOSED):
        raise ReviewConflict(_conflict_message(item))
    if item.status == ReviewItem.Status.IN_REVIEW and item.assignee_id != user.pk:
        raise ReviewConflict(_conflict_message(item))


def _label_transaction(*, item: ReviewItem, decision: str, user, note: str, at) -> None:
    transaction_label(
        transaction=item.transaction, label=FINAL_DECISIONS[decision], source="review", user=user, note=note, at=at
    )


@transaction.atomic
def review_note_add(*, item: ReviewItem, user, note: str) -> ReviewDecision:
    """A note on the item's record, without a decision; anyone who may decide may add one."""
    note = note.strip()
    if not note:
        raise ValueError("a note cannot be empty")
    entry = ReviewDecision.objects.create(item=item, decision="", note=note, user=user)
    review_queue_broadcast_on_commit(organisation_id=item.organisation_id, item_ids=[item.pk], event="changed")
    return entry


def _conflict_message(item: ReviewItem) -> str:
    if item.status == ReviewItem.Status.DECIDED:
        return f"Already decided: {item.get_decision_display().lower()}."
    if item.status == ReviewItem.Status.CLOSED:
        return "Already closed without a decision."
    if item.status == ReviewItem.Status.IN_REVIEW and item.assignee_id:
        return f"Claimed by {item.assignee.username}."
    return "This item is not in review."


UPLOAD_CLOSE_NOTE = "Closed with its upload's other open items, without a decision (no label)."


@transaction.atomic
def review_upload_close(*, job, items, user, request=None) -> int:
    """Close an upload's items still to do (`items`: that upload's, as its view selects them) without a decision:
    they leave its list of work and give no label. One audit event for the upload with the count, a note on each
    item's record. Returns how many were closed."""
    ids = list(items.select_for_update(of=("self",)).filter(status__in=ACTIVE_STATUSES).values_list("pk", flat=True))
    if not ids:
        return 0
    ReviewItem.objects.filter(pk__in=ids).update(status=ReviewItem.Status.CLOSED, assignee=None)
    ReviewDecision.objects.bulk_create([ReviewDecision(item_id=pk, note=UPLOAD_CLOSE_NOTE, user=user) for pk in ids])
    audit_record(
        action="review.upload_close",
        obj=job,
        organisation_id=job.source.organisation_id,
        after={"closed": len(ids), "item_ids": ids[:1000]},
        actor=user,
        request=request,
    )
    return len(ids)
