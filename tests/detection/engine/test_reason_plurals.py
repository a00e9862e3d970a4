"""Reasons count in good English: "1 confirmed fraud", "2 confirmed frauds"."""

import math

import pytest

from detection.engine.explain import _speaker


def _say(feature: str, count: int) -> str:
    _, speak = _speaker(feature)
    return speak(math.log1p(count), None)


@pytest.mark.parametrize(
    ("feature", "one", "two"),
    [
        ("a_known_frauds_30d", "had 1 confirmed fraud in", "had 2 confirmed frauds in"),
        ("m_known_frauds_7d", "had 1 confirmed fraud in", "had 2 confirmed frauds in"),
        ("a_count_24h", "1 earlier transaction from", "2 earlier transactions from"),
        ("m_count_24h", ": 1 transaction in", ": 2 transactions in"),
        ("m_new_accounts_7d", "1 new customer at", "2 new customers at"),
    ],
)
def test_a_count_of_one_is_singular_and_more_plural(feature, one, two):
    assert one in _say(feature, 1)
    assert two in _say(feature, 2)


def test_large_counts_are_grouped_by_thousands():
    assert "had 1,200 confirmed frauds" in _say("a_known_frauds_30d", 1200)
