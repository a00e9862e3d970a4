"""Act on many review items at once: decide, close, release, assign, snooze.

Each action is one audit row with its count (`review.bulk_<action>`) and one audit row per item
(`review.<action>`), written with a constant number of statements whatever the number of items: the items are
read and locked in one query, changed in one UPDATE, and their decisions, labels, audit rows and case history
inserted in bulk. Items another analyst is working on are skipped unless the user may assign work (a lead);
the result says how many were done and how many skipped.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.audit import audit_record, audit_record_many
from review.broadcast import review_queue_broadcast_on_commit
from review.cases.grouping import cases_close_finished
from review.models import CaseEvent, ReviewDecision, ReviewItem
from transactions.services import transactions_label_many

ACTIVE = (ReviewItem.Status.OPEN, ReviewItem.Status.IN_REVIEW)
ASSIGN_PERM = "review.assign_reviewitem"
LABELS = {ReviewItem.Decision.FRAUD: 1, ReviewItem.Decision.LEGITIMATE: 0}
ACTIONS = ("fraud", "legitimate", "close", "release", "assign", "snooze")


class BulkRefused(ValueError):
    """The action cannot be done at all (not allowed, or its input is wrong); nothing was changed."""


@dataclass
class BulkResult:
    action: str
    done: list[int] = field(default_factory=list)
    skipped: int = 0

    @property
    def count(self) -> int:
        return len(self.done)

    def summary(self) -> str:
        verb = {
            "fraud": "Decided fraud:",
            "legitimate": "Decided legitimate:",
            "close": "Closed",
            "release": "Released",
            "assign": "Assigned",
            "snooze": "Snoozed",
        }[self.action]
        text = f"{verb} {self.count} item{'' if self.count == 1 else 's'}."
        if self.skipped:
            text += f" {self.skipped} skipped (decided, or claimed by someone else)."
        return text


def may_assign(user) -> bool:
    return user.is_superuser or user.has_perm(ASSIGN_PERM)


def _locked(items: QuerySet[ReviewItem], user, *, in_review_only: bool = False) -> tuple[list[ReviewItem], int]:
    """The items still to be done that the user may act on, locked; and how many of those asked were not."""
    asked = list(
        items.select_for_update(of=("self",))
        .select_related("transaction", "assignee")
        .order_by("pk")
        .only(
            "pk",
            "status",
            "decision",
            "assignee__username",
            "case_id",
            "claimed_at",
            "snoozed_until",
            "transaction__transaction_id",
            "transaction__source_id",
        )
    )
    lead = may_assign(user)
    usable = [
        item
        for item in asked
        if item.status in ACTIVE
        and (lead or item.status == ReviewItem.Status.OPEN or item.assignee_id == user.pk)
        and (not in_review_only or item.status == ReviewItem.Status.IN_REVIEW)
    ]
    return usable, len(asked) - len(usable)


def _snapshot(item: ReviewItem) -> dict:
    return {
        "status": item.status,
        "assignee": item.assignee.username if item.assignee_id else None,
        "decision": item.decision,
        "snoozed_until": item.snoozed_until,
    }


def _record(
    *, action: str, items: list[ReviewItem], before: dict, after: dict, user, organisation_id, request, **extra
):
    """The bulk action's own audit row with its count, one audit row per item, the cases' history, and the
    broadcast to the organisation's queues."""
    ids = [item.pk for item in items]
    words = extra.pop("words", action)
    audit_record(
        action=f"review.bulk_{action}",
        object_type="review.reviewitem",
        object_id="",
        after={"count": len(ids), "item_ids": ids, **extra},
        actor=user,
        request=request,
        organisation_id=organisation_id,
    )
    audit_record_many(
        action=f"review.{action}",
        object_type="review.reviewitem",
        changes=[(item.pk, str(item), before[item.pk], after) for item in items],
        actor=user,
        organisation_id=organisation_id,
        request=request,
    )
    by_case: dict[int, int] = {}
    for item in items:
        if item.case_id:
            by_case[item.case_id] = by_case.get(item.case_id, 0) + 1
    CaseEvent.objects.bulk_create(
        CaseEvent(
            case_id=case_id, kind=_case_kind(action), text=f"{count} item{'' if count == 1 else 's'} {words}", user=user
        )
        for case_id, count in by_case.items()
    )
    review_queue_broadcast_on_commit(organisation_id=organisation_id, item_ids=ids, event="changed")
    return list(by_case)


def _case_kind(action: str) -> str:
    return {
        "fraud": CaseEvent.Kind.DECISION,
        "legitimate": CaseEvent.Kind.DECISION,
        "close": CaseEvent.Kind.CLOSED,
        "release": CaseEvent.Kind.RELEASED,
        "assign": CaseEvent.Kind.ASSIGNED,
        "snooze": CaseEvent.Kind.SNOOZED,
    }[action]


@transaction.atomic
def review_items_bulk_decide(
    *, items: QuerySet[ReviewItem], user, decision: str, note: str = "", organisation_id: int, request=None
) -> BulkResult:
    """Decide fraud or legitimate on every item the user may decide: each becomes its transaction's label."""
    if decision not in LABELS:
        raise BulkRefused("Choose fraud or legitimate.")
    usable, skipped = _locked(items, user)
    result = BulkResult(action=decision, done=[item.pk for item in usable], skipped=skipped)
    if not usable:
        return result
    now = timezone.now()
    before = {item.pk: _snapshot(item) for item in usable}
    ReviewItem.objects.filter(pk__in=result.done).update(
        status=ReviewItem.Status.DECIDED,
        decision=decision,
        assignee=user,
        decided_at=now,
        decided_by=user,
        claimed_at=now,
    )
    ReviewDecision.objects.bulk_create(
        ReviewDecision(item_id=pk, decision=decision, note=note, user=user) for pk in result.done
    )
    transactions_label_many(
        transaction_ids=[item.transaction_id for item in usable],
        label=LABELS[decision],
        source="review",
        user=user,
        note=note,
        at=now,
    )
    after = {"status": "decided", "assignee": user.username, "decision": decision}
    words = f"decided {decision}" + (f": {note}" if note else "")
    cases = _record(
        action=decision,
        items=usable,
        before=before,
        after=after,
        user=user,
        organisation_id=organisation_id,
        request=request,
        words=words,
    )
    cases_close_finished(case_ids=cases, user=user)
    return result


@transaction.atomic
def review_items_bulk_close(
    *, items: QuerySet[ReviewItem], user, note: str = "", organisation_id: int, request=None
) -> BulkResult:
    """Take items out of the queue without a decision (no label): for noise such as imported rows."""
    usable, skipped = _locked(items, user)
    result = BulkResult(action="close", done=[item.pk for item in usable], skipped=skipped)
    if not usable:
        return result
    now = timezone.now()
    before = {item.pk: _snapshot(item) for item in usable}
    ReviewItem.objects.filter(pk__in=result.done).update(
        status=ReviewItem.Status.CLOSED, decision="", decided_at=now, decided_by=user
    )
    text = "Closed without a decision" + (f": {note}" if note else "")
    ReviewDecision.objects.bulk_create(ReviewDecision(item_id=pk, note=text, user=user) for pk in result.done)
    cases = _record(
        action="close",
        items=usable,
        before=before,
        after={"status": "closed"},
        user=user,
        organisation_id=organisation_id,
        request=request,
        words="closed without a decision" + (f": {note}" if note else ""),
    )
    cases_close_finished(case_ids=cases, user=user)
    return result


@transaction.atomic
def review_items_bulk_release(*, items: QuerySet[ReviewItem], user, organisation_id: int, request=None) -> BulkResult:
    """Give items in review back to the queue: one's own, or anyone's for a lead."""
    usable, skipped = _locked(items, user, in_review_only=True)
    result = BulkResult(action="release", done=[item.pk for item in usable], skipped=skipped)
    if not usable:
        return result
    before = {item.pk: _snapshot(item) for item in usable}
    ReviewItem.objects.filter(pk__in=result.done).update(
        status=ReviewItem.Status.OPEN, assignee=None, claimed_at=None, decision=""
    )
    _record(
        action="release",
        items=usable,
        before=before,
        after={"status": "open", "assignee": None},
        user=user,
        organisation_id=organisation_id,
        request=request,
        words="released to the queue",
    )
    return result


@transaction.atomic
def review_items_bulk_assign(
    *, items: QuerySet[ReviewItem], user, assignee, organisation_id: int, request=None
) -> BulkResult:
    """A lead gives items still to be done to an analyst (re-assigning those someone else had): they are in review
    by that analyst, and show in their "mine"."""
    if not may_assign(user):
        raise BulkRefused("Only a lead assigns work.")
    usable, skipped = _locked(items, user)
    result = BulkResult(action="assign", done=[item.pk for item in usable], skipped=skipped)
    if not usable:
        return result
    before = {item.pk: _snapshot(item) for item in usable}
    ReviewItem.objects.filter(pk__in=result.done).update(
        status=ReviewItem.Status.IN_REVIEW, assignee=assignee, claimed_at=timezone.now()
    )
    _record(
        action="assign",
        items=usable,
        before=before,
        after={"status": "in_review", "assignee": assignee.username},
        user=user,
        organisation_id=organisation_id,
        request=request,
        words=f"assigned to {assignee.username}",
        assignee=assignee.username,
    )
    return result


@transaction.atomic
def review_items_bulk_snooze(
    *, items: QuerySet[ReviewItem], user, until: datetime, reason: str, organisation_id: int, request=None
) -> BulkResult:
    """Take items out of the queue until a time, with the reason; they come back by themselves then."""
    reason = (reason or "").strip()
    if until <= timezone.now():
        raise BulkRefused("Snooze until: choose a time in the future.")
    if not reason:
        raise BulkRefused("Reason: say why the items are snoozed.")
    usable, skipped = _locked(items, user)
    result = BulkResult(action="snooze", done=[item.pk for item in usable], skipped=skipped)
    if not usable:
        return result
    before = {item.pk: _snapshot(item) for item in usable}
    ReviewItem.objects.filter(pk__in=result.done).update(snoozed_until=until, snooze_reason=reason)
    when = timezone.localtime(until).strftime("%Y-%m-%d %H:%M")
    _record(
        action="snooze",
        items=usable,
        before=before,
        after={"snoozed_until": until, "snooze_reason": reason},
        user=user,
        organisation_id=organisation_id,
        request=request,
        words=f"snoozed until {when}: {reason}",
    )
    return result
