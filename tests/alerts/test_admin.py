"""The Django admin: every page renders, actions work and each audited action leaves exactly one audit row."""

import csv
import io
from datetime import date

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import PartnerToken, hash_token
from accounts.services import partner_token_create
from alerts.models import Alert, AlertDelivery, AlertRule, AuditEvent
from alerts.services import alerts_evaluate
from detection.models import ModelVersion
from tests.alerts.helpers import scored
from tests.factories import AlertRuleFactory, ModelVersionFactory, RiskPolicyFactory, default_organisation

pytestmark = pytest.mark.django_db

OWN_APPS = {"accounts", "transactions", "detection", "alerts"}
RULE_FORM = {
    "name": "big online",
    "description": "",
    "enabled": "on",
    "min_risk_level": "high",
    "min_score": "",
    "amount_min": "1000",
    "amount_max": "",
    "merchant_categories": "electronics,jewelry",
    "transaction_channels": ["online"],
    "account_ids": "",
    "merchant_ids": "",
    "rate_count": "",
    "rate_window_minutes": "",
    "rate_scope": "merchant",
    "channel": "webhook",
    "destination": "https://hooks.example.com/sentinel",
    "timeout_seconds": "",
    "quiet_period_minutes": "0",
}


def _rule_form(**changes) -> dict:
    return {**RULE_FORM, "organisation": default_organisation().pk, **changes}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def test_every_owned_changelist_and_detail_page_renders(admin_client):
    delivery_rule = AlertRuleFactory()
    alerts_evaluate(score_ids=[scored().pk])
    RiskPolicyFactory()
    partner_token_create(organisation=default_organisation(), name="acme", scopes=["read"])
    models = [m for m in admin.site._registry if m._meta.app_label in OWN_APPS]

    for model in models:
        response = admin_client.get(_changelist(model))
        assert response.status_code == 200, model
        first = model._default_manager.first()
        if first is not None:
            detail = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[first.pk])
            assert admin_client.get(detail).status_code == 200, model
    assert delivery_rule.deliveries.count() == 1


def test_token_created_in_admin_shows_the_secret_once_and_is_audited(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_partnertoken_add"),
        {"organisation": default_organisation().pk, "name": "beta-bank", "scopes": ["score", "read"]},
    )

    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret.encode() in response.content
    token = PartnerToken.objects.get(name="beta-bank")
    assert token.key_hash == hash_token(secret) and token.scopes == ["read", "score"]
    (event,) = _audits("token.create")
    assert event.object_id == str(token.pk) and "key_hash" not in event.after
    detail = admin_client.get(reverse("admin:accounts_partnertoken_change", args=[token.pk]))
    assert secret.encode() not in detail.content


def test_revoke_action_revokes_and_audits_each_token_once(admin_client):
    token, _ = partner_token_create(organisation=default_organisation(), name="gamma", scopes=["read"])

    for _ in range(2):
        response = admin_client.post(_changelist(PartnerToken), {"action": "revoke", "_selected_action": [token.pk]})
        assert response.status_code == 302

    token.refresh_from_db()
    assert token.revoked_at is not None
    (event,) = _audits("token.revoke")
    assert event.before["revoked_at"] is None and event.after["revoked_at"]


def test_activate_action_sends_to_the_comparison_and_activates_nothing(admin_client):
    old = ModelVersionFactory(status=ModelVersion.Status.ACTIVE)
    new = ModelVersionFactory(status=ModelVersion.Status.READY)

    response = admin_client.post(_changelist(ModelVersion), {"action": "activate", "_selected_action": [new.pk]})

    assert response.status_code == 302
    assert response["Location"] == reverse("detection:version_compare", kwargs={"pk": new.pk})
    assert ModelVersion.objects.get(pk=new.pk).status == "ready"
    assert ModelVersion.objects.get(pk=old.pk).status == "active"
    assert not _audits("model.activate")


def test_confirmed_activation_makes_the_version_active_with_one_audit_row(admin_client):
    old = ModelVersionFactory(status=ModelVersion.Status.ACTIVE)
    new = ModelVersionFactory(status=ModelVersion.Status.READY)

    response = admin_client.post(
        reverse("detection:version_activate", kwargs={"pk": new.pk}), {"compared_with": old.pk}
    )

    assert response.status_code == 302
    assert ModelVersion.objects.get(pk=new.pk).status == "active"
    assert ModelVersion.objects.get(pk=old.pk).status == "retired"
    (event,) = _audits("model.activate")
    assert event.ip_address == "127.0.0.1"


def test_confirmed_activation_refuses_a_version_still_training(admin_client):
    training = ModelVersionFactory(status=ModelVersion.Status.TRAINING)

    response = admin_client.post(
        reverse("detection:version_activate", kwargs={"pk": training.pk}), {"compared_with": "none"}, follow=True
    )

    assert response.status_code == 200
    assert ModelVersion.objects.get(pk=training.pk).status == "training"
    assert not _audits("model.activate")


def test_rule_created_changed_and_deleted_in_admin_each_leave_one_audit_row(admin_client, admin_user):
    assert admin_client.post(reverse("admin:alerts_alertrule_add"), _rule_form()).status_code == 302
    rule = AlertRule.objects.get(name="big online")
    assert (rule.merchant_categories, rule.transaction_channels, rule.created_by) == (
        ["electronics", "jewelry"],
        ["online"],
        admin_user,
    )
    change = _rule_form(amount_min="2000")
    assert admin_client.post(reverse("admin:alerts_alertrule_change", args=[rule.pk]), change).status_code == 302
    delete_url = reverse("admin:alerts_alertrule_delete", args=[rule.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302

    assert not AlertRule.objects.exists()
    (created,), (changed,), (deleted,) = _audits("rule.create"), _audits("rule.change"), _audits("rule.delete")
    assert (changed.before["amount_min"], changed.after["amount_min"]) == ("1000.00", "2000.00")
    assert "signing_secret" not in created.after and deleted.before["name"] == "big online"


def test_rule_with_a_bad_destination_is_refused(admin_client):
    response = admin_client.post(reverse("admin:alerts_alertrule_add"), _rule_form(destination="ftp://x"))
    assert response.status_code == 200
    assert not AlertRule.objects.exists()
    assert not _audits("rule.create")


def test_rule_page_shows_its_signing_secret(admin_client):
    rule = AlertRuleFactory()
    response = admin_client.get(reverse("admin:alerts_alertrule_change", args=[rule.pk]))
    assert rule.signing_secret.encode() in response.content


def test_resend_action_queues_a_new_delivery_with_one_audit_row(admin_client):
    rule = AlertRuleFactory()
    alerts_evaluate(score_ids=[scored().pk])
    original = AlertDelivery.objects.get(rule=rule)

    response = admin_client.post(_changelist(AlertDelivery), {"action": "resend", "_selected_action": [original.pk]})

    assert response.status_code == 302
    resend = AlertDelivery.objects.get(resend_of=original)
    assert resend.status == "pending"
    (event,) = _audits("delivery.resend")
    assert event.object_id == str(resend.pk)


def test_audit_events_cannot_be_changed_or_deleted_in_admin(admin_client):
    event = AuditEvent.objects.create(action="x.test", object_type="t", object_id="1")

    change = admin_client.post(reverse("admin:alerts_auditevent_change", args=[event.pk]), {"action": "forged"})
    delete = admin_client.post(reverse("admin:alerts_auditevent_delete", args=[event.pk]), {"post": "yes"})

    assert (change.status_code, delete.status_code) == (403, 403)
    assert AuditEvent.objects.get(pk=event.pk).action == "x.test"


def test_audit_csv_export_lists_events_for_admins(admin_client):
    AuditEvent.objects.create(action="threshold.change", object_type="detection.riskpolicy", object_id="1")
    AuditEvent.objects.create(action="token.revoke", object_type="accounts.partnertoken", object_id="2", before={})

    response = admin_client.get(reverse("alerts:audit-csv"), {"action": "token.revoke"})

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["action"], r["object_id"], r["before"]) for r in rows] == [("token.revoke", "2", "{}")]


def test_audit_csv_neutralises_spreadsheet_formulas(admin_client):
    AuditEvent.objects.create(action="x", object_type="t", object_id="1", object_repr="=HYPERLINK(1)")
    response = admin_client.get(reverse("alerts:audit-csv"))
    assert b"'=HYPERLINK(1)" in b"".join(response.streaming_content)


def test_audit_csv_is_refused_to_analysts(analyst_client):
    assert analyst_client.get(reverse("alerts:audit-csv")).status_code == 403


def test_audit_admin_action_exports_the_selection(admin_client):
    event = AuditEvent.objects.create(action="rule.create", object_type="alerts.alertrule", object_id="9")

    response = admin_client.post(_changelist(AuditEvent), {"action": "export_csv", "_selected_action": [event.pk]})

    assert response.status_code == 200
    assert b"rule.create" in b"".join(response.streaming_content)


def test_admin_adds_a_drift_rule_with_its_threshold(admin_client):
    form = _rule_form(name="drift watch", kind="drift", drift_threshold="0.3", min_risk_level="")

    response = admin_client.post(reverse("admin:alerts_alertrule_add"), form)

    assert response.status_code == 302
    rule = AlertRule.objects.get(name="drift watch")
    assert (rule.kind, rule.drift_threshold) == (AlertRule.Kind.DRIFT, 0.3)
    assert _audits("rule.create")[0].after["kind"] == "drift"


def test_admin_is_told_a_drift_rule_needs_its_threshold(admin_client):
    form = _rule_form(name="drift watch", kind="drift", drift_threshold="")

    response = admin_client.post(reverse("admin:alerts_alertrule_add"), form)

    assert response.status_code == 200
    assert "A drift rule needs its threshold" in response.content.decode()
    assert not AlertRule.objects.filter(name="drift watch").exists()


def test_the_alert_list_shows_a_drift_alert(admin_client):
    rule = AlertRuleFactory(kind="drift", drift_threshold=0.25)
    Alert.objects.create(rule=rule, drift_day=date(2026, 3, 20), drift_feature="amount_log", drift_psi=0.4)

    response = admin_client.get(reverse("admin:alerts_alert_changelist"))

    assert response.status_code == 200
    assert "drift of amount_log on 2026-03-20" in response.content.decode()
    assert "PSI 0.400" in response.content.decode()
