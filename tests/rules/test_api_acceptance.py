"""Over the API alone: create a list, add an entry, create and activate a rule that blocks it, score a transaction
that matches: the answer's decision is block and its rules name the rule."""

import time

from rules.deciding import ruleset
from tests.detection.conftest import (  # noqa: F401 - fixtures
    active_model,
    history,
    make_partner,
    prototype_body,
    trained_model,
)


def test_a_rule_written_over_the_api_blocks_a_listed_merchant(
    make_partner,  # noqa: F811
    active_model,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    partner = make_partner("lists", "rules", "score")

    def post(url: str, body: dict, status: int) -> dict:
        with django_capture_on_commit_callbacks(execute=True):  # each request commits, as it does when served
            response = partner.post(url, body, format="json")
        assert response.status_code == status, response.content
        return response.json()

    before = post("/api/v1/transactions/score", prototype_body(1, merchant_id="M-666"), 201)
    post("/api/v1/lists", {"name": "blocked_merchants", "kind": "merchant", "description": "Chargeback farms"}, 201)
    post("/api/v1/lists/blocked_merchants/entries", {"values": ["M-666"]}, 200)
    rule = post(
        "/api/v1/rules",
        {"name": "block_listed_merchants", "expression": "merchant_id in lists.blocked_merchants", "action": "block"},
        201,
    )
    post(f"/api/v1/rules/{rule['id']}/activate", {}, 200)
    time.sleep(ruleset.CHECK_INTERVAL_SECONDS)  # a scoring process sees the change within this

    matching = post("/api/v1/transactions/score", prototype_body(2, merchant_id="M-666"), 201)
    other = post("/api/v1/transactions/score", prototype_body(3, merchant_id="M-1"), 201)

    assert before["decision"] != "block" and before["rules"] == []
    assert matching["decision"] == "block" and matching["is_anomaly"] is True
    assert matching["rules"] == [{"id": rule["id"], "name": "block_listed_merchants", "version": 1, "action": "block"}]
    assert other["rules"] == []
