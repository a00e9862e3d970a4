"""The rules API (`/api/v1/rules`, scope `rules`): list, create a draft (400 with the position of an invalid
expression), activate the latest version, disable; another organisation's rule is 404."""

import pytest
from rest_framework.test import APIClient

from accounts.services import partner_token_create
from core.models import AuditEvent
from rules.models import RuleVersion
from rules.policy import services
from tests.conftest import work_in

BODY = {"name": "big_online", "expression": 'amount > 500 and channel == "online"', "action": "review"}


def bearer(secret: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


@pytest.fixture
def rules_client(organisation):
    _, secret = partner_token_create(name="policy-as-code", scopes=["rules"], organisation=organisation)
    return bearer(secret)


@pytest.fixture
def other_rules_client(other_organisation):
    _, secret = partner_token_create(name="other-policy", scopes=["rules"], organisation=other_organisation)
    return bearer(secret)


def rule_of(organisation, **values):
    return services.rule_create(organisation_id=organisation.pk, **BODY | values).rule


def test_creating_a_rule_answers_its_draft(rules_client, organisation):
    response = rules_client.post("/api/v1/rules", BODY | {"description": "Large online."}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body | {"id": None, "created_at": None} == {
        "id": None,
        "name": "big_online",
        "status": "draft",
        "version": 1,
        "active_version": None,
        "action": "review",
        "tag": "",
        "expression": BODY["expression"],
        "description": "Large online.",
        "latest_status": "draft",
        "created_at": None,
    }
    version = RuleVersion.objects.get(rule_id=body["id"])
    assert (version.rule.organisation, version.status) == (organisation, "draft")


def test_an_invalid_expression_answers_400_naming_its_position_and_reason(rules_client):
    response = rules_client.post("/api/v1/rules", BODY | {"expression": "amout > 500"}, format="json")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "expression"
    assert error["position"] == 0
    assert error["code"] == "invalid_expression"
    assert error["reason"].startswith("position 0: ") and "amout" in error["reason"]
    assert not RuleVersion.objects.exists()


def test_a_type_mismatch_answers_400_with_its_position(rules_client):
    response = rules_client.post("/api/v1/rules", BODY | {"expression": 'amount > "x"'}, format="json")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["position"] > 0


@pytest.mark.parametrize(("values", "field"), [({"action": "deny"}, "action"), ({"name": "Big Online"}, "name")])
def test_bad_fields_answer_400_naming_them(rules_client, values, field):
    response = rules_client.post("/api/v1/rules", BODY | values, format="json")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_missing_expression_answers_400(rules_client):
    response = rules_client.post("/api/v1/rules", {"name": "x", "action": "review"}, format="json")

    assert response.status_code == 400
    assert "expression" in [e["field"] for e in response.json()["errors"]]


def test_a_taken_name_answers_400(rules_client, organisation):
    rule_of(organisation)

    response = rules_client.post("/api/v1/rules", BODY, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "unique"


def test_the_list_holds_the_organisations_rules_only(
    rules_client, organisation, other_organisation, django_assert_num_queries
):
    rule_of(organisation, name="b_rule")
    rule_of(organisation, name="a_rule")
    rule_of(other_organisation, name="theirs")

    with django_assert_num_queries(3):  # the token, the rules, their versions
        response = rules_client.get("/api/v1/rules")

    assert response.status_code == 200
    assert [r["name"] for r in response.json()] == ["a_rule", "b_rule"]


def test_activate_puts_the_latest_version_in_force(rules_client, organisation):
    rule = rule_of(organisation)

    response = rules_client.post(f"/api/v1/rules/{rule.pk}/activate")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["active_version"]) == ("active", 1)
    assert rule.versions.get().status == "active"
    event = AuditEvent.objects.get(action="rule.publish")
    assert event.actor_label == "partner:policy-as-code"


def test_activating_an_active_rule_answers_400(rules_client, organisation):
    rule = rule_of(organisation)
    rules_client.post(f"/api/v1/rules/{rule.pk}/activate")

    response = rules_client.post(f"/api/v1/rules/{rule.pk}/activate")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "active"


def test_disable_stops_the_rule(rules_client, organisation):
    rule = rule_of(organisation)
    rules_client.post(f"/api/v1/rules/{rule.pk}/activate")

    response = rules_client.post(f"/api/v1/rules/{rule.pk}/disable")

    assert response.status_code == 200
    assert response.json()["status"] == "disabled"


def test_disabling_a_rule_not_in_force_answers_400(rules_client, organisation):
    rule = rule_of(organisation)

    response = rules_client.post(f"/api/v1/rules/{rule.pk}/disable")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "version"


@pytest.mark.parametrize("operation", ["activate", "disable"])
def test_another_organisations_rule_is_404(other_rules_client, organisation, operation):
    rule = rule_of(organisation)

    response = other_rules_client.post(f"/api/v1/rules/{rule.pk}/{operation}")

    assert response.status_code == 404
    assert rule.versions.get().status == "draft"


def test_a_token_without_the_rules_scope_is_refused(partner_client, organisation):
    rule = rule_of(organisation)

    assert partner_client.get("/api/v1/rules").status_code == 403
    assert partner_client.post("/api/v1/rules", BODY, format="json").status_code == 403
    assert partner_client.post(f"/api/v1/rules/{rule.pk}/activate").status_code == 403


def test_without_credentials_the_api_answers_401(api_client):
    assert api_client.get("/api/v1/rules").status_code == 401


def test_an_analyst_reads_rules_but_may_not_write_or_publish(client, analyst, organisation):
    rule = rule_of(organisation)
    client.force_login(analyst)

    assert client.get("/api/v1/rules").status_code == 200
    assert client.post("/api/v1/rules", BODY | {"name": "x"}, content_type="application/json").status_code == 403
    assert client.post(f"/api/v1/rules/{rule.pk}/activate").status_code == 403


def test_an_admin_creates_and_activates_with_the_session(client, admin_user, organisation):
    client.force_login(admin_user)
    work_in(client, organisation)

    created = client.post("/api/v1/rules", BODY, content_type="application/json")
    activated = client.post(f"/api/v1/rules/{created.json()['id']}/activate")

    assert (created.status_code, activated.status_code) == (201, 200)
    assert RuleVersion.objects.get().published_by == admin_user
