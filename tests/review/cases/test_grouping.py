"""Flagged transactions join their account's open case as they are queued."""

from review.cases.grouping import cases_close_finished
from review.models import Case, CaseEvent, ReviewItem
from review.services import review_items_create_for_scores, review_items_queue
from tests.factories import ScoreFactory, SourceFactory, TransactionFactory
from tests.review.bulk import bulk_open_items
from tests.review.cases.conftest import flag


def test_an_accounts_flagged_transactions_share_one_open_case(case_items):
    assert len({item.case_id for item in case_items}) == 1
    case = Case.objects.get()
    assert (case.account_id, case.status) == ("acct-case", "open")


def test_another_account_gets_its_own_case(case_items):
    other = flag("acct-other")
    other.refresh_from_db()
    assert other.case_id != case_items[0].case_id
    assert Case.objects.count() == 2


def test_a_case_history_says_it_opened_and_which_transactions_joined(case_items):
    case = Case.objects.get()
    kinds = list(case.events.order_by("pk").values_list("kind", flat=True))
    assert kinds == ["opened", "joined", "joined", "joined"]
    assert case_items[0].transaction.transaction_id in case.events.filter(kind="joined").earliest("pk").text


def test_a_new_flagged_transaction_after_the_case_closed_opens_a_new_case(case_items):
    ReviewItem.objects.update(status=ReviewItem.Status.DECIDED, decision="fraud")
    assert cases_close_finished(case_ids=[case_items[0].case_id]) == [case_items[0].case_id]
    newer = flag()
    newer.refresh_from_db()
    assert newer.case_id != case_items[0].case_id
    assert Case.objects.filter(status="open").count() == 1


def test_cases_of_two_organisations_stay_apart(case_items, other_organisation):
    source = SourceFactory(organisation=other_organisation, name="their-bank")
    tx = TransactionFactory(source=source, account_id="acct-case")
    item = review_items_create_for_scores(scores=[ScoreFactory(transaction=tx)])[0]
    item.refresh_from_db()
    assert item.case.organisation_id == other_organisation.pk
    assert item.case_id != case_items[0].case_id


def test_a_case_is_not_closed_while_an_item_is_left(case_items):
    ReviewItem.objects.filter(pk=case_items[0].pk).update(status=ReviewItem.Status.DECIDED, decision="fraud")
    assert cases_close_finished(case_ids=[case_items[0].case_id]) == []


def test_bulk_queueing_groups_a_thousand_items_in_a_constant_number_of_queries(
    organisation, django_assert_max_num_queries
):
    items = bulk_open_items(1000, prefix="many")
    ReviewItem.objects.all().delete()
    Case.objects.all().delete()
    scores = [item.score for item in items]
    with django_assert_max_num_queries(4):
        review_items_queue(
            organisation_id=organisation.pk,
            transaction_ids=[s.transaction_id for s in scores],
            score_ids=[s.pk for s in scores],
            scores=[s.score for s in scores],
            amounts=[10 for _ in scores],
        )
    assert ReviewItem.objects.filter(case__isnull=True).count() == 0
    assert Case.objects.count() == len({s.transaction.account_id for s in scores})
    assert CaseEvent.objects.filter(kind="joined").count() == 1000
