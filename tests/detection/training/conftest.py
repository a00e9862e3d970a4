"""The training tests' history: more accounts and days than the scoring tests' (tests/detection/conftest.py)."""

import pytest

from tests.detection.conftest import store_history


@pytest.fixture
def history(db):
    return store_history()
