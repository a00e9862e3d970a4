"""Bulk actions on review items: decide, close, release, assign, snooze; one audit action with its count and one
audit event per item; a constant number of queries however many items."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import AuditEvent
from review.bulk.services import (
    BulkRefused,
    review_items_bulk_assign,
    review_items_bulk_close,
    review_items_bulk_decide,
    review_items_bulk_release,
    review_items_bulk_snooze,
)
from review.models import ReviewDecision, ReviewItem
from review.selectors import review_items, review_queue
from tests.review.bulk import bulk_open_items
from transactions.models import LabelEvent, Transaction


@pytest.fixture
def sixty(organisation):
    return bulk_open_items(60, prefix="sixty")


def _all(organisation):
    return review_items(organisation_id=organisation.pk)


def test_bulk_close_takes_every_item_out_of_the_queue_without_a_label(sixty, organisation, analyst):
    result = review_items_bulk_close(items=_all(organisation), user=analyst, organisation_id=organisation.pk)
    assert result.count == 60
    assert ReviewItem.objects.filter(status="closed").count() == 60
    assert not review_queue(organisation_id=organisation.pk, user=analyst, filters={}).exists()
    assert Transaction.objects.filter(label__isnull=False).count() == 0


def test_bulk_close_is_audited_as_one_action_with_its_count_and_one_event_per_item(sixty, organisation, analyst):
    review_items_bulk_close(items=_all(organisation), user=analyst, organisation_id=organisation.pk)
    summary = AuditEvent.objects.get(action="review.bulk_close")
    assert summary.after["count"] == 60
    assert summary.organisation_id == organisation.pk
    assert AuditEvent.objects.filter(action="review.close", organisation=organisation).count() == 60


def test_bulk_close_of_sixty_items_takes_a_constant_number_of_queries(
    sixty, organisation, analyst, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        review_items_bulk_close(items=_all(organisation), user=analyst, organisation_id=organisation.pk)


def test_bulk_decide_labels_every_transaction_and_records_each_decision(sixty, organisation, analyst):
    result = review_items_bulk_decide(
        items=_all(organisation), user=analyst, decision="fraud", note="ring", organisation_id=organisation.pk
    )
    assert result.count == 60
    assert Transaction.objects.filter(label=1, label_source="review").count() == 60
    assert LabelEvent.objects.filter(label=1, note="ring").count() == 60
    assert ReviewDecision.objects.filter(decision="fraud", user=analyst).count() == 60


def test_bulk_decide_of_sixty_items_takes_a_constant_number_of_queries(
    sixty, organisation, analyst, django_assert_max_num_queries
):
    with django_assert_max_num_queries(14):
        review_items_bulk_decide(
            items=_all(organisation), user=analyst, decision="legitimate", organisation_id=organisation.pk
        )


def test_bulk_decide_refuses_needs_info(sixty, organisation, analyst):
    with pytest.raises(BulkRefused):
        review_items_bulk_decide(
            items=_all(organisation), user=analyst, decision="needs_info", organisation_id=organisation.pk
        )


def test_an_analyst_skips_items_another_analyst_is_working_on(sixty, organisation, analyst, second_analyst):
    ReviewItem.objects.filter(pk=sixty[0].pk).update(status="in_review", assignee=second_analyst)
    result = review_items_bulk_close(items=_all(organisation), user=analyst, organisation_id=organisation.pk)
    assert (result.count, result.skipped) == (59, 1)
    assert ReviewItem.objects.get(pk=sixty[0].pk).status == "in_review"


def test_a_lead_may_act_on_items_another_analyst_is_working_on(sixty, organisation, lead, second_analyst):
    ReviewItem.objects.filter(pk=sixty[0].pk).update(status="in_review", assignee=second_analyst)
    result = review_items_bulk_close(items=_all(organisation), user=lead, organisation_id=organisation.pk)
    assert (result.count, result.skipped) == (60, 0)


def test_a_lead_assigns_items_to_an_analyst(sixty, organisation, lead, analyst):
    result = review_items_bulk_assign(
        items=_all(organisation), user=lead, assignee=analyst, organisation_id=organisation.pk
    )
    assert result.count == 60
    mine = review_queue(organisation_id=organisation.pk, user=analyst, filters={"assignee": "me"})
    assert mine.count() == 60
    assert AuditEvent.objects.get(action="review.bulk_assign").after["assignee"] == "alice"
    assert AuditEvent.objects.filter(action="review.assign").count() == 60


def test_reassignment_moves_items_from_one_analyst_to_another(sixty, organisation, lead, analyst, second_analyst):
    review_items_bulk_assign(items=_all(organisation), user=lead, assignee=analyst, organisation_id=organisation.pk)
    review_items_bulk_assign(
        items=_all(organisation), user=lead, assignee=second_analyst, organisation_id=organisation.pk
    )
    assert ReviewItem.objects.filter(assignee=second_analyst).count() == 60
    event = AuditEvent.objects.filter(action="review.assign").order_by("-pk").first()
    assert (event.before["assignee"], event.after["assignee"]) == ("alice", "bob")


def test_an_analyst_may_not_assign(sixty, organisation, analyst, second_analyst):
    with pytest.raises(BulkRefused):
        review_items_bulk_assign(
            items=_all(organisation), user=analyst, assignee=second_analyst, organisation_id=organisation.pk
        )


def test_release_gives_ones_own_items_back_to_the_queue(sixty, organisation, analyst):
    ReviewItem.objects.filter(pk__in=[i.pk for i in sixty[:5]]).update(status="in_review", assignee=analyst)
    result = review_items_bulk_release(items=_all(organisation), user=analyst, organisation_id=organisation.pk)
    assert result.count == 5
    assert ReviewItem.objects.filter(status="open", assignee__isnull=True).count() == 60


def test_snoozed_items_leave_the_queue_until_their_time(sixty, organisation, analyst):
    until = timezone.now() + timedelta(hours=2)
    items = _all(organisation).filter(pk__in=[i.pk for i in sixty[:10]])
    review_items_bulk_snooze(
        items=items, user=analyst, until=until, reason="waiting for the bank", organisation_id=organisation.pk
    )
    assert review_queue(organisation_id=organisation.pk, user=analyst, filters={}).count() == 50
    snoozed = review_queue(organisation_id=organisation.pk, user=analyst, filters={"status": "snoozed"})
    assert snoozed.count() == 10
    assert snoozed.first().snooze_reason == "waiting for the bank"


def test_snoozed_items_come_back_once_their_time_has_passed(sixty, organisation, analyst, time_machine):
    until = timezone.now() + timedelta(hours=2)
    review_items_bulk_snooze(
        items=_all(organisation), user=analyst, until=until, reason="later", organisation_id=organisation.pk
    )
    time_machine.move_to(until + timedelta(minutes=1))
    assert review_queue(organisation_id=organisation.pk, user=analyst, filters={}).count() == 60


def test_claim_next_skips_snoozed_items(sixty, organisation, analyst):
    from review.services import review_claim_next

    best = max(sixty, key=lambda i: i.priority)
    items = _all(organisation).filter(pk=best.pk)
    review_items_bulk_snooze(
        items=items,
        user=analyst,
        until=timezone.now() + timedelta(hours=1),
        reason="later",
        organisation_id=organisation.pk,
    )
    claimed = review_claim_next(organisation_id=organisation.pk, user=analyst)
    assert claimed.pk != best.pk


@pytest.mark.parametrize(
    ("until", "reason", "field"),
    [(timedelta(hours=-1), "later", "Snooze until"), (timedelta(hours=1), "  ", "Reason")],
)
def test_snooze_refuses_a_past_time_or_no_reason_naming_the_field(sixty, organisation, analyst, until, reason, field):
    with pytest.raises(BulkRefused, match=field):
        review_items_bulk_snooze(
            items=_all(organisation),
            user=analyst,
            until=timezone.now() + until,
            reason=reason,
            organisation_id=organisation.pk,
        )
