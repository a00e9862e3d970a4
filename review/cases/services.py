"""Writes to cases: notes, attachments, links, and the actions on a case's items (decide, close, release, assign,
snooze), which act on the items through review.bulk.services and keep the case's own fields and history.

Cases reach these functions through the organisation's selectors (`review.cases.selectors.cases_of`), so each acts
on one organisation's case only.
"""

import uuid
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import get_valid_filename

from core.audit import audit_record
from review.broadcast import review_queue_broadcast_on_commit
from review.bulk import services as bulk
from review.cases.grouping import cases_close_finished
from review.models import Case, CaseAttachment, CaseEvent, ReviewItem

ACTIVE = (ReviewItem.Status.OPEN, ReviewItem.Status.IN_REVIEW)
CASES_DIR = "cases"
LINK_FIELDS = {
    "merchant": "transaction__merchant_id",
    "device": "transaction__device_id",
    "account": "transaction__account_id",
}


class CaseRefused(ValueError):
    """The case cannot take this (a file too large, a link that finds nothing ...); nothing was changed."""


@transaction.atomic
def case_note_add(*, case: Case, user, text: str) -> CaseEvent:
    text = (text or "").strip()
    if not text:
        raise CaseRefused("Note: write something first.")
    event = CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.NOTE, text=text, user=user)
    audit_record(
        action="case.note", obj=case, after={"note": text[:200]}, actor=user, organisation_id=case.organisation_id
    )
    return event


def attachment_size_check(size: int | None) -> None:
    limit = settings.CASE_ATTACHMENT_MAX_BYTES
    if size is not None and size > limit:
        raise CaseRefused(
            f"File: larger than the attachment limit of {limit / 1024 / 1024:.0f} MB ({limit:,} bytes); "
            f"this one is {size:,} bytes."
        )


@transaction.atomic
def case_attachment_add(*, case: Case, user, upload) -> CaseAttachment:
    """Keep the file under MEDIA_ROOT/cases/<case>/<random>/ (as uploads are kept) and record it in the history."""
    attachment_size_check(upload.size)
    name = get_valid_filename(Path(upload.name).name)[:200] or "attachment"
    relative = f"{CASES_DIR}/{case.pk}/{uuid.uuid4().hex}/{name}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for piece in upload.chunks():
            out.write(piece)
    attachment = CaseAttachment.objects.create(
        case=case, file_path=relative, original_name=Path(upload.name).name[:255], size=upload.size, uploaded_by=user
    )
    CaseEvent.objects.create(
        case=case,
        kind=CaseEvent.Kind.ATTACHMENT,
        text=f"Attached {attachment.original_name} ({upload.size:,} bytes)",
        user=user,
    )
    audit_record(
        action="case.attach",
        obj=case,
        after={"file": attachment.original_name, "size": upload.size},
        actor=user,
        organisation_id=case.organisation_id,
    )
    return attachment


def attachment_path(attachment: CaseAttachment) -> Path:
    return Path(settings.MEDIA_ROOT) / attachment.file_path


@transaction.atomic
def case_link(*, case: Case, items: QuerySet[ReviewItem], user, by: str, value: str) -> int:
    """Bring into the case the organisation's items still to be done whose transaction has this merchant, device or
    account (`items`: the organisation's). Cases they leave with nothing to do are closed. Returns how many moved."""
    value = (value or "").strip()
    if by not in LINK_FIELDS or not value:
        raise CaseRefused("Link by: choose merchant, device or account and give its value.")
    if case.status != Case.Status.OPEN:
        raise CaseRefused("This case is closed.")
    moving = items.filter(Q(**{LINK_FIELDS[by]: value}), status__in=ACTIVE).exclude(case=case)
    moved = list(moving.values_list("pk", "case_id"))
    if not moved:
        raise CaseRefused(f"Link by {by}: no item still to be done has {by} {value}.")
    ReviewItem.objects.filter(pk__in=[pk for pk, _ in moved]).update(case=case)
    left = {case_id for _, case_id in moved if case_id}
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(
                case=case, kind=CaseEvent.Kind.LINKED, text=f"Linked {len(moved)} item(s) by {by} {value}", user=user
            )
        ]
        + [
            CaseEvent(
                case_id=other,
                kind=CaseEvent.Kind.LINKED,
                text=f"Items moved to case {case.pk} ({by} {value})",
                user=user,
            )
            for other in left
        ]
    )
    cases_close_finished(case_ids=left, user=user)
    audit_record(
        action="case.link",
        obj=case,
        after={"by": by, "value": value, "item_ids": [pk for pk, _ in moved]},
        actor=user,
        organisation_id=case.organisation_id,
    )
    review_queue_broadcast_on_commit(
        organisation_id=case.organisation_id,
        item_ids=[pk for pk, _ in moved],
        event="changed",
        case_ids=[case.pk, *left],
    )
    return len(moved)


def _items_of(cases: QuerySet[Case]) -> QuerySet[ReviewItem]:
    return ReviewItem.objects.filter(case__in=cases)


@transaction.atomic
def cases_bulk(
    *,
    cases: QuerySet[Case],
    user,
    action: str,
    organisation_id: int,
    note: str = "",
    assignee=None,
    until: datetime | None = None,
    reason: str = "",
    request=None,
) -> tuple[int, bulk.BulkResult]:
    """One action on the given cases and on their items still to be done; returns how many cases, and the items'
    result. Assigning sets the cases' assignee, releasing clears it, snoozing snoozes the cases, closing closes them
    (deciding closes them once nothing is left to do)."""
    if action not in bulk.ACTIONS:
        raise bulk.BulkRefused("Choose an action.")
    case_ids = list(cases.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True))
    items = _items_of(Case.objects.filter(pk__in=case_ids))
    common = {"items": items, "user": user, "organisation_id": organisation_id, "request": request}
    chosen = Case.objects.filter(pk__in=case_ids)
    if action in ("fraud", "legitimate"):
        result = bulk.review_items_bulk_decide(decision=action, note=note, **common)
    elif action == "close":
        result = bulk.review_items_bulk_close(note=note, **common)
        chosen.filter(status=Case.Status.OPEN).update(status=Case.Status.CLOSED, closed_at=timezone.now())
        _events(case_ids, CaseEvent.Kind.CLOSED, "Case closed" + (f": {note}" if note else ""), user)
    elif action == "release":
        result = bulk.review_items_bulk_release(**common)
        chosen.update(assignee=None)
        _events(case_ids, CaseEvent.Kind.RELEASED, "Case released: no one assigned", user)
    elif action == "assign":
        result = bulk.review_items_bulk_assign(assignee=assignee, **common)
        chosen.update(assignee=assignee)
        _events(case_ids, CaseEvent.Kind.ASSIGNED, f"Case assigned to {assignee.username}", user)
    else:
        result = bulk.review_items_bulk_snooze(until=until, reason=reason, **common)
        chosen.update(snoozed_until=until, snooze_reason=reason.strip())
        when = timezone.localtime(until).strftime("%Y-%m-%d %H:%M")
        _events(case_ids, CaseEvent.Kind.SNOOZED, f"Case snoozed until {when}: {reason.strip()}", user)
    audit_record(
        action=f"case.bulk_{action}",
        object_type="review.case",
        object_id="",
        after={"count": len(case_ids), "case_ids": case_ids, "items": result.count},
        actor=user,
        request=request,
        organisation_id=organisation_id,
    )
    review_queue_broadcast_on_commit(
        organisation_id=organisation_id, item_ids=result.done, event="changed", case_ids=case_ids
    )
    return len(case_ids), result


def _events(case_ids: list[int], kind: str, text: str, user) -> None:
    CaseEvent.objects.bulk_create(CaseEvent(case_id=pk, kind=kind, text=text, user=user) for pk in case_ids)


@transaction.atomic
def case_decide(
    *, case: Case, user, decision: str, note: str = "", item_ids: list[int] | None = None, request=None
) -> bulk.BulkResult:
    """A decision on the selected items of the case (`item_ids`), or on all its items still to be done (None)."""
    items = ReviewItem.objects.filter(case=case)
    if item_ids is not None:
        if not item_ids:
            raise bulk.BulkRefused("Items: select at least one, or apply to all.")
        items = items.filter(pk__in=item_ids)
    return bulk.review_items_bulk_decide(
        items=items, user=user, decision=decision, note=note, organisation_id=case.organisation_id, request=request
    )
