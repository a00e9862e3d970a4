"""Items a rule queued name the rule first; the transaction page shows the decision and the rules that matched,
an allow rule as the exception it is."""

import pytest
from django.urls import reverse

from tests.factories import ReviewItemFactory, RuleFactory, ScoreFactory

pytestmark = pytest.mark.django_db

MODEL_REASONS = ["amount 9x the usual"]


def entry(rule, action: str, **extra) -> dict:
    return {"id": rule.pk, "name": rule.name, "version": 2, "action": action, **extra}


@pytest.fixture
def rule_queued():
    """An item a review rule queued; a tag rule matched too, and a block rule lacked a value."""
    review, tag, block = RuleFactory(name="first_online_abroad"), RuleFactory(name="large"), RuleFactory(name="bins")
    rules = [entry(review, "review"), entry(tag, "tag", tag="large_ticket"), entry(block, "block", missing=True)]
    score = ScoreFactory(score=0.4, risk_level="low", reasons=MODEL_REASONS, decision="review", rules=rules)
    return ReviewItemFactory(score=score)


def test_the_queue_shows_the_rule_as_the_items_first_reason(analyst_client, rule_queued):
    response = analyst_client.get(reverse("review:queue"))

    assert response.status_code == 200
    assert '<td class="reason">Rule: first_online_abroad (review)</td>' in response.content.decode()


def test_a_model_queued_item_keeps_the_models_first_reason(analyst_client):
    ReviewItemFactory(score=ScoreFactory(reasons=MODEL_REASONS, decision="review"))

    response = analyst_client.get(reverse("review:queue"))

    assert '<td class="reason">amount 9x the usual</td>' in response.content.decode()


def test_the_transaction_page_shows_the_decision_and_the_rules_that_matched(analyst_client, rule_queued):
    response = analyst_client.get(reverse("review:transaction", args=[rule_queued.transaction_id]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "<li>Rule: first_online_abroad (review)</li>" in body
    assert body.index("Rule: first_online_abroad (review)") < body.index("amount 9x the usual")
    assert '<span class="decision decision-review">Review</span>' in body
    assert f'href="{reverse("rules:detail", args=[rule_queued.score.rules[0]["id"]])}"' in body
    assert "large_ticket" in body
    assert "bins" not in body  # lacking a value is no match


def test_an_allow_rule_is_shown_as_the_exception_it_is(analyst_client):
    allow = RuleFactory(name="our_test_merchant")
    score = ScoreFactory(reasons=MODEL_REASONS, decision="allow", is_anomaly=False, rules=[entry(allow, "allow")])

    response = analyst_client.get(reverse("review:transaction", args=[score.transaction_id]))

    body = response.content.decode()
    assert "<li>Allowed by rule our_test_merchant (an exception to the model)</li>" in body
    assert '<span class="decision decision-allow">Allow</span>' in body
    assert "(an exception to the model)</span>" in body


def test_a_score_the_model_decided_says_so(analyst_client):
    item = ReviewItemFactory(score=ScoreFactory(reasons=MODEL_REASONS, decision="review"))

    body = analyst_client.get(reverse("review:transaction", args=[item.transaction_id])).content.decode()

    assert "by the model's thresholds" in body
