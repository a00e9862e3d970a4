"""Fixtures of the review tests: a queue filled with a few items."""

import pytest

from tests.review.bulk import bulk_open_items


@pytest.fixture
def open_items(db):
    return bulk_open_items(3, prefix="few")
