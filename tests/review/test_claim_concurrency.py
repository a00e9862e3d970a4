"""Two analysts pressing "claim next" at the same moment, each in a real database session of their own."""

import threading

import pytest
from django.db import connection, transaction

from review.models import ReviewItem
from review.services import review_claim_next
from tests.factories import default_organisation
from tests.review.bulk import bulk_open_items


def _side_by_side(claim, users, *args, timeout: float) -> dict:
    """Run `claim(user, barrier, results, *args)` for each user in a thread of its own, all at once; the results
    they wrote, by username."""
    barrier, results = threading.Barrier(len(users)), {}
    threads = [threading.Thread(target=claim, args=(user, barrier, results, *args)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results


def _claim_holding_the_lock(user, barrier: threading.Barrier, results: dict) -> None:
    """Claim inside an outer transaction and wait for the other session before committing, so both claims
    are in flight at once: the first session's row lock is held while the second one looks for an item."""
    try:
        with transaction.atomic():
            item = review_claim_next(organisation_id=default_organisation().pk, user=user)
            results[user.username] = item.pk if item else None
            barrier.wait(timeout=20)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_two_analysts_claiming_next_at_once_get_different_items(analyst, second_analyst):
    bulk_open_items(2, prefix="race")
    results = _side_by_side(_claim_holding_the_lock, (analyst, second_analyst), timeout=30)
    assert None not in results.values() and len(results) == 2
    assert results["alice"] != results["bob"]
    claimed = dict(ReviewItem.objects.filter(status="in_review").values_list("assignee__username", "pk"))
    assert claimed == results


def _claim_many(user, barrier: threading.Barrier, results: dict, rounds: int) -> None:
    try:
        barrier.wait(timeout=20)
        results[user.username] = [
            review_claim_next(organisation_id=default_organisation().pk, user=user).pk for _ in range(rounds)
        ]
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_analysts_claiming_in_a_tight_loop_never_share_an_item(analyst, second_analyst):
    bulk_open_items(40, prefix="loop")
    results = _side_by_side(_claim_many, (analyst, second_analyst), 20, timeout=60)
    everything = results["alice"] + results["bob"]
    assert len(everything) == len(set(everything)) == 40
    assert ReviewItem.objects.filter(status="open").count() == 0
