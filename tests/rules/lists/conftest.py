import pytest

from rules.lists.lookup import memberships_forget


@pytest.fixture(autouse=True)
def _fresh_memberships():
    """Lists are cached per process; a test's rolled-back rows must not leak into the next one's lookups."""
    memberships_forget()
    yield
    memberships_forget()
