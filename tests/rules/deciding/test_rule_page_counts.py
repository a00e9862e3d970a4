"""What scoring records is what the rule's page counts: a partner's rows, matched or lacking the attribute the rule
reads, show on the rules list and the rule's page as hits and as rows missing a value."""

from tests.detection.conftest import prototype_body
from tests.factories import RiskPolicyFactory
from tests.rules.deciding.conftest import rule_in_force


def test_rows_scored_lacking_the_attribute_are_counted_on_the_rules_page(client, viewer, scorer, active_model):
    RiskPolicyFactory(review_threshold=1.0)
    version = rule_in_force('attributes.mcc == "7995"', "block", name="gambling")
    rows = [prototype_body(1, mcc="7995"), prototype_body(2), prototype_body(3)]
    answered = scorer.post("/api/v1/transactions/score/batch", {"transactions": rows}, format="json")
    assert answered.status_code == 200, answered.content
    client.force_login(viewer)

    listed = client.get("/rules/")
    page = client.get(f"/rules/{version.rule_id}/")

    assert listed.status_code == page.status_code == 200
    [(_, hits)] = listed.context["rows"]
    assert (hits.day, hits.week, hits.missing) == (1, 1, 2)
    assert (page.context["hits"].day, page.context["hits"].missing) == (1, 2)
    assert b"Rows missing a value it reads" in page.content
