"""/metrics counts decisions by action and hits by rule, per organisation, once the scores commit."""

from datetime import timedelta

from prometheus_client import REGISTRY

from detection.scoring.services import score_transactions
from tests.detection.conftest import START, store_transaction
from tests.factories import RiskPolicyFactory
from tests.rules.deciding.conftest import rule_in_force

AT = START + timedelta(days=10, hours=12)


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(f"{name}_total", {"organisation": "test-org", **labels}) or 0.0


def score_two(django_capture_on_commit_callbacks, *, commit: bool = True):
    rows = [store_transaction(account_id=f"acct-00{n}", amount=f"{n}00.00", at=AT) for n in (1, 9)]
    with django_capture_on_commit_callbacks(execute=commit):
        score_transactions(transactions=rows)


def test_decisions_and_rule_hits_are_counted(active_model, django_capture_on_commit_callbacks):
    RiskPolicyFactory(review_threshold=1.0)
    rule_in_force("amount > 500", "block", name="metered_block")
    rule_in_force("amount > 50", "tag", name="metered_tag")
    before = {
        "block": sample("anomaly_decisions", action="block"),
        "allow": sample("anomaly_decisions", action="allow"),
        "hits": sample("anomaly_rule_hits", rule="metered_block"),
        "tags": sample("anomaly_rule_hits", rule="metered_tag"),
    }

    score_two(django_capture_on_commit_callbacks)

    assert sample("anomaly_decisions", action="block") - before["block"] == 1
    assert sample("anomaly_decisions", action="allow") - before["allow"] == 1
    assert sample("anomaly_rule_hits", rule="metered_block") - before["hits"] == 1
    assert sample("anomaly_rule_hits", rule="metered_tag") - before["tags"] == 2


def test_nothing_is_counted_for_scores_that_did_not_commit(active_model, django_capture_on_commit_callbacks):
    rule_in_force("amount > 500", "block", name="uncommitted")

    score_two(django_capture_on_commit_callbacks, commit=False)

    assert sample("anomaly_rule_hits", rule="uncommitted") == 0


def test_the_counts_are_on_the_metrics_page(client, active_model, django_capture_on_commit_callbacks):
    rule_in_force("amount > 500", "block", name="shown_on_page")
    score_two(django_capture_on_commit_callbacks)

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert 'anomaly_decisions_total{action="block",organisation="test-org"}' in text
    assert 'anomaly_rule_hits_total{organisation="test-org",rule="shown_on_page"}' in text
