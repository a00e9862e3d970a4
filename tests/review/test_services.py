from decimal import Decimal

import pytest

from core.models import AuditEvent
from review.models import ReviewDecision, ReviewItem
from review.services import (
    ReviewConflict,
    review_claim,
    review_claim_next,
    review_decide,
    review_items_create_for_scores,
    review_note_add,
    review_priority,
    review_release,
)
from tests.factories import ScoreFactory, TransactionFactory
from transactions.models import Transaction

pytestmark = pytest.mark.django_db


def test_flagged_scores_become_open_items_with_priority():
    score = ScoreFactory(score=0.97, transaction=TransactionFactory(amount=Decimal("250.00")))
    items = review_items_create_for_scores(scores=[score])
    assert len(items) == 1
    item = ReviewItem.objects.get()
    assert (item.transaction_id, item.score_id, item.status) == (score.transaction_id, score.pk, "open")
    assert item.priority == review_priority(score=0.97, amount=Decimal("250.00"))


def test_creating_items_twice_for_the_same_transaction_keeps_one_item():
    score = ScoreFactory()
    review_items_create_for_scores(scores=[score])
    again = review_items_create_for_scores(scores=[score, ScoreFactory(transaction=score.transaction)])
    assert again == []
    assert ReviewItem.objects.count() == 1


def test_one_batch_with_two_scores_for_a_transaction_queues_the_higher():
    low = ScoreFactory(score=0.96)
    high = ScoreFactory(score=0.99, transaction=low.transaction)
    review_items_create_for_scores(scores=[low, high])
    assert ReviewItem.objects.get().score_id == high.pk


def test_priority_ranks_a_higher_score_first_at_equal_amounts():
    assert review_priority(score=0.99, amount=100) > review_priority(score=0.96, amount=100)


def test_priority_ranks_a_much_larger_amount_first_at_a_slightly_lower_score():
    assert review_priority(score=0.96, amount=50_000) > review_priority(score=0.97, amount=20)


def test_new_items_are_broadcast_after_commit(organisation, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("review.broadcast.review_queue_broadcast", lambda **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        items = review_items_create_for_scores(scores=[ScoreFactory(), ScoreFactory()])
    assert sent == [{"organisation_id": organisation.pk, "item_ids": [i.pk for i in items], "event": "created"}]


def test_claim_next_hands_out_the_highest_priority_open_item(open_items, organisation, analyst):
    best = max(open_items, key=lambda i: i.priority)
    claimed = review_claim_next(organisation_id=organisation.pk, user=analyst)
    assert claimed.pk == best.pk
    claimed.refresh_from_db()
    assert (claimed.status, claimed.assignee) == ("in_review", analyst)
    assert AuditEvent.objects.filter(action="review.claim", object_id=str(best.pk)).exists()


def test_claim_next_on_an_empty_queue_returns_none(organisation, analyst):
    assert review_claim_next(organisation_id=organisation.pk, user=analyst) is None


def test_claiming_an_item_claimed_by_someone_else_is_a_conflict(open_items, analyst, second_analyst):
    review_claim(item=open_items[0], user=analyst)
    with pytest.raises(ReviewConflict, match="alice"):
        review_claim(item=open_items[0], user=second_analyst)
    assert ReviewItem.objects.get(pk=open_items[0].pk).assignee == analyst


def test_release_returns_the_item_to_the_queue(open_items, analyst):
    item = review_claim(item=open_items[0], user=analyst)
    review_release(item=item, user=analyst)
    item.refresh_from_db()
    assert (item.status, item.assignee, item.claimed_at) == ("open", None, None)
    assert AuditEvent.objects.filter(action="review.release").count() == 1


def test_only_the_assignee_may_release(open_items, analyst, second_analyst):
    item = review_claim(item=open_items[0], user=analyst)
    with pytest.raises(ReviewConflict):
        review_release(item=item, user=second_analyst)
    assert ReviewItem.objects.get(pk=item.pk).assignee == analyst


def test_fraud_decision_closes_the_item_and_labels_the_transaction(open_items, analyst):
    item = review_claim(item=open_items[0], user=analyst)
    review_decide(item=item, user=analyst, decision="fraud", note="card reported stolen")
    item.refresh_from_db()
    assert (item.status, item.decision, item.decided_by) == ("decided", "fraud", analyst)
    tx = Transaction.objects.get(pk=item.transaction_id)
    assert (tx.label, tx.label_source) == (Transaction.FRAUD, "review")
    entry = ReviewDecision.objects.get(item=item)
    assert (entry.decision, entry.note, entry.user) == ("fraud", "card reported stolen", analyst)


def test_legitimate_decision_labels_the_transaction_legitimate(open_items, analyst):
    review_decide(item=open_items[0], user=analyst, decision="legitimate")
    tx = Transaction.objects.get(pk=open_items[0].transaction_id)
    assert (tx.label, tx.label_source) == (Transaction.LEGITIMATE, "review")


def test_decision_is_written_to_the_audit_trail(open_items, analyst):
    review_decide(item=open_items[0], user=analyst, decision="fraud")
    event = AuditEvent.objects.get(action="review.decide")
    assert (event.actor, event.before["status"], event.after["status"]) == (analyst, "open", "decided")


def test_needs_info_keeps_the_item_in_review_with_the_analyst_and_sets_no_label(open_items, analyst):
    review_decide(item=open_items[0], user=analyst, decision="needs_info", note="asked the bank")
    item = ReviewItem.objects.get(pk=open_items[0].pk)
    assert (item.status, item.assignee, item.decision, item.needs_info) == ("in_review", analyst, "needs_info", True)
    assert Transaction.objects.get(pk=item.transaction_id).label is None


def test_an_item_waiting_for_information_can_be_decided_later(open_items, analyst):
    review_decide(item=open_items[0], user=analyst, decision="needs_info")
    review_decide(item=open_items[0], user=analyst, decision="legitimate")
    item = ReviewItem.objects.get(pk=open_items[0].pk)
    assert (item.status, item.decision) == ("decided", "legitimate")
    assert ReviewDecision.objects.filter(item=item).count() == 2


def test_deciding_an_item_claimed_by_someone_else_is_a_conflict(open_items, analyst, second_analyst):
    review_claim(item=open_items[0], user=analyst)
    with pytest.raises(ReviewConflict):
        review_decide(item=open_items[0], user=second_analyst, decision="fraud")
    assert Transaction.objects.get(pk=open_items[0].transaction_id).label is None


def test_a_decided_item_cannot_be_decided_again(open_items, analyst):
    review_decide(item=open_items[0], user=analyst, decision="fraud")
    with pytest.raises(ReviewConflict, match="Already decided"):
        review_decide(item=open_items[0], user=analyst, decision="legitimate")
    assert Transaction.objects.get(pk=open_items[0].transaction_id).label == Transaction.FRAUD


def test_note_is_stored_without_a_decision(open_items, analyst):
    review_note_add(item=open_items[0], user=analyst, note="  called the customer  ")
    entry = ReviewDecision.objects.get()
    assert (entry.decision, entry.note, entry.user) == ("", "called the customer", analyst)
    assert ReviewItem.objects.get(pk=open_items[0].pk).status == "open"
