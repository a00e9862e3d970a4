"""The search page (/search/): every stored transaction of the organisation by id, account, merchant or device,
amounts and dates; keyset pages; a constant number of queries; bad input named by field."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from review.models import ReviewItem
from search.forms import position_text
from search.selectors import Criteria, transactions_search
from tests.factories import ReviewItemFactory, ScoreFactory, SourceFactory, TransactionFactory

pytestmark = pytest.mark.django_db
SEARCH = reverse("search:search")
DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _found(response) -> list[str]:
    return [tx.transaction_id for tx in response.context["page"].rows]


def _tx(transaction_id: str, *, minutes: int = 0, **fields):
    return TransactionFactory(transaction_id=transaction_id, timestamp=DAY + timedelta(minutes=minutes), **fields)


def test_search_by_account_lists_its_transactions_newest_first(analyst_client):
    _tx("a-1", minutes=1, account_id="acct-42")
    _tx("a-2", minutes=2, account_id="acct-42")
    _tx("b-1", minutes=3, account_id="acct-43")
    response = analyst_client.get(SEARCH, {"q": "acct-42"})
    assert response.status_code == 200
    assert _found(response) == ["a-2", "a-1"]


def test_search_by_transaction_id_finds_that_transaction(analyst_client):
    _tx("wanted-1", account_id="acct-1")
    _tx("other-1", account_id="acct-1")
    assert _found(analyst_client.get(SEARCH, {"q": "wanted-1"})) == ["wanted-1"]


def test_search_by_merchant_finds_its_transactions(analyst_client):
    _tx("m-a", merchant_id="shop-7")
    _tx("m-b", merchant_id="shop-8")
    assert _found(analyst_client.get(SEARCH, {"q": "shop-7"})) == ["m-a"]


def test_search_by_device_finds_its_transactions(analyst_client):
    _tx("d-a", device_id="dev-abc")
    _tx("d-b", device_id="")
    assert _found(analyst_client.get(SEARCH, {"q": "dev-abc"})) == ["d-a"]


def test_a_result_names_what_it_matched(analyst_client):
    _tx("x-1", account_id="same-7", merchant_id="same-7")
    row = analyst_client.get(SEARCH, {"q": "same-7"}).context["page"].rows[0]
    assert row.matched == ["account", "merchant"]


def test_search_finds_transactions_that_were_never_queued(analyst_client):
    _tx("quiet-1", account_id="acct-q")
    queued = ReviewItemFactory(score=ScoreFactory(transaction=_tx("loud-1", minutes=1, account_id="acct-q")))
    body = analyst_client.get(SEARCH, {"q": "acct-q"}).content.decode()
    assert "quiet-1" in body and "Not queued" in body
    assert "loud-1" in body and reverse("review:transaction", args=[queued.transaction_id]) in body


def test_a_result_links_to_the_queue_filtered_by_its_account(analyst_client):
    _tx("link-1", account_id="acct-link")
    body = analyst_client.get(SEARCH, {"q": "link-1"}).content.decode()
    assert f"{reverse('review:queue')}?account=acct-link&amp;status=all" in body


def test_amount_range_keeps_amounts_within_it(analyst_client):
    for i, amount in enumerate(("5.00", "50.00", "500.00")):
        _tx(f"amt-{amount}", minutes=i, account_id="acct-amt", amount=Decimal(amount))
    response = analyst_client.get(SEARCH, {"q": "acct-amt", "min_amount": "10", "max_amount": "500"})
    assert _found(response) == ["amt-500.00", "amt-50.00"]


def test_dates_are_inclusive_whole_days(analyst_client):
    _tx("day-before", minutes=-24 * 60, account_id="acct-d")
    _tx("day-of", account_id="acct-d")
    _tx("day-after", minutes=24 * 60, account_id="acct-d")
    response = analyst_client.get(SEARCH, {"date_from": "2026-03-10", "date_to": "2026-03-10"})
    assert _found(response) == ["day-of"]


def test_filters_alone_search_without_a_term(analyst_client):
    _tx("big", amount=Decimal("9000"))
    _tx("small", amount=Decimal("9"))
    assert _found(analyst_client.get(SEARCH, {"min_amount": "1000"})) == ["big"]


def test_another_organisations_transactions_are_not_found(analyst_client, other_organisation):
    other = SourceFactory(organisation=other_organisation, name="other-source")
    TransactionFactory(source=other, transaction_id="theirs-1", account_id="shared-acct")
    _tx("ours-1", account_id="shared-acct")
    response = analyst_client.get(SEARCH, {"q": "shared-acct"})
    assert _found(response) == ["ours-1"]
    assert analyst_client.get(SEARCH, {"q": "theirs-1"}).context["page"].rows == []


def test_pages_follow_by_keyset_without_overlap(organisation):
    for i in range(5):
        _tx(f"p-{i}", minutes=i, account_id="acct-p")
    criteria = Criteria(q="acct-p")
    first = transactions_search(organisation_id=organisation.pk, criteria=criteria, limit=2)
    second = transactions_search(organisation_id=organisation.pk, criteria=criteria, after=first.next_after, limit=2)
    third = transactions_search(organisation_id=organisation.pk, criteria=criteria, after=second.next_after, limit=2)
    found = [[tx.transaction_id for tx in page.rows] for page in (first, second, third)]
    assert found == [["p-4", "p-3"], ["p-2", "p-1"], ["p-0"]]
    assert third.next_after is None


def test_rows_of_the_same_time_page_by_id(organisation):
    for i in range(3):
        _tx(f"same-{i}", account_id="acct-same")
    criteria = Criteria(q="acct-same")
    first = transactions_search(organisation_id=organisation.pk, criteria=criteria, limit=2)
    second = transactions_search(organisation_id=organisation.pk, criteria=criteria, after=first.next_after, limit=2)
    assert [tx.transaction_id for tx in first.rows + second.rows] == ["same-2", "same-1", "same-0"]


def test_a_page_of_fifty_says_there_are_more(analyst_client):
    TransactionFactory.create_batch(51, account_id="acct-many")
    response = analyst_client.get(SEARCH, {"q": "acct-many"})
    assert len(_found(response)) == 50
    assert b'id="search-next"' in response.content
    rest = analyst_client.get(SEARCH, {"q": "acct-many", "after": position_text(response.context["page"].next_after)})
    assert len(_found(rest)) == 1 and b'id="search-next"' not in rest.content


def _search_queries(client, count: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(SEARCH, {"q": f"acct-n{count}"})
    assert len(response.context["page"].rows) == count
    return len(captured)


def test_the_number_of_queries_does_not_grow_with_the_results(analyst_client):
    for count in (1, 30):
        for i in range(count):
            tx = _tx(f"n{count}-{i}", minutes=i, account_id=f"acct-n{count}")
            if i % 2:
                ReviewItemFactory(score=ScoreFactory(transaction=tx))
    assert _search_queries(analyst_client, 1) == _search_queries(analyst_client, 30)


def test_a_search_reads_with_two_queries(analyst_client, django_assert_num_queries):
    _tx("two-1", account_id="acct-two")
    # Every page's six (session, user, organisation, two of permissions, the header's organisations), then the
    # search's two: the page's keys, then its rows with their review items and scores.
    with django_assert_num_queries(6 + 2):
        analyst_client.get(SEARCH, {"q": "acct-two"})


def test_an_empty_search_reads_nothing(analyst_client):
    response = analyst_client.get(SEARCH)
    assert response.status_code == 200
    assert response.context["page"].rows == []
    assert b"Type a transaction id" in response.content


def test_amounts_the_wrong_way_round_are_named(analyst_client):
    response = analyst_client.get(SEARCH, {"min_amount": "100", "max_amount": "10"})
    assert response.status_code == 200
    assert "Amount to: The amount to must not be below the amount from." in response.content.decode()


def test_a_bad_date_is_named(analyst_client):
    response = analyst_client.get(SEARCH, {"date_from": "10/31/yesterday"})
    assert response.status_code == 200
    assert "From: Enter a valid date." in response.content.decode()


def test_an_end_date_before_the_start_is_named(analyst_client):
    response = analyst_client.get(SEARCH, {"date_from": "2026-03-10", "date_to": "2026-03-01"})
    assert "To: The end date must not be before the start date." in response.content.decode()


def test_a_forged_page_position_is_an_error_not_a_failure(analyst_client):
    response = analyst_client.get(SEARCH, {"q": "x", "after": "yesterday-42"})
    assert response.status_code == 200
    assert "Not a page of these results" in response.content.decode()


def test_a_term_longer_than_any_id_is_named(analyst_client):
    response = analyst_client.get(SEARCH, {"q": "x" * 129})
    assert response.status_code == 200
    assert "Search: Ensure this value has at most 128 characters" in response.content.decode()


def test_a_viewer_may_search(client, viewer):
    _tx("v-1", account_id="acct-v")
    client.force_login(viewer)
    assert _found(client.get(SEARCH, {"q": "acct-v"})) == ["v-1"]


def test_someone_without_a_role_may_not_search(client, outsider):
    client.force_login(outsider)
    assert client.get(SEARCH, {"q": "anything"}).status_code == 403


def test_every_page_has_the_search_box_in_its_header(analyst_client):
    body = analyst_client.get(reverse("review:queue")).content.decode()
    assert f'action="{SEARCH}" role="search"' in body and 'id="topsearch-q"' in body


def test_the_header_box_keeps_the_term_on_the_search_page(analyst_client):
    body = analyst_client.get(SEARCH, {"q": "acct-kept"}).content.decode()
    assert (
        'id="topsearch-q" name="q" maxlength="128" placeholder="Search id, account, merchant, device" value="acct-kept"'
        in body
    )


def test_the_queue_filters_by_account(analyst_client):
    mine = ReviewItemFactory(score=ScoreFactory(transaction=_tx("qa-1", account_id="acct-queue")))
    ReviewItemFactory(score=ScoreFactory(transaction=_tx("qa-2", account_id="acct-else")))
    response = analyst_client.get(reverse("review:queue"), {"account": "acct-queue", "status": "all"})
    assert [item.pk for item in response.context["page"].object_list] == [mine.pk]
    assert ReviewItem.objects.count() == 2
