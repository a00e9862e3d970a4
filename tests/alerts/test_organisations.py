"""Organisations never share alerts, thresholds or the audit trail: a rule fires only on its organisation's scores,
an organisation's alerts ring only its bells, and its pages, exports and admin pages show only its rows."""

import csv
import io

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.services import ANALYST
from alerts.models import Alert, AlertRule
from alerts.selectors import alert_rules_may_match, alerts_unseen_count
from alerts.services import (
    alert_rule_save,
    alerts_evaluate,
    alerts_evaluate_pending,
    alerts_evaluate_stored,
    alerts_mark_seen,
)
from anomaly_site.routing import websocket_urlpatterns
from core.audit import audit_record
from detection.models import RiskPolicy
from detection.scoring.events import ScoresStored
from tests.alerts.helpers import scored
from tests.factories import AlertRuleFactory, RiskPolicyFactory, SourceFactory, UserFactory


@pytest.fixture
def other_source(other_organisation):
    return SourceFactory(organisation=other_organisation, name="other-source")


def _in_app_rule(**fields) -> AlertRule:
    return AlertRuleFactory(channel="in_app", destination="", **fields)


def _csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


# ------------------------------------------------------------------ evaluation


@pytest.mark.django_db
def test_a_rule_never_fires_on_another_organisations_scores(other_organisation):
    foreign_rule = _in_app_rule(organisation=other_organisation, min_risk_level="low")
    own_rule = _in_app_rule()
    score = scored()

    for organisation_id in (score.transaction.source.organisation_id, None):  # as queued, and as kept while down
        alerts_evaluate(score_ids=[score.pk], organisation_id=organisation_id)

    assert list(Alert.objects.values_list("rule_id", flat=True)) == [own_rule.pk]
    assert not foreign_rule.alerts.exists()


@pytest.mark.django_db
def test_a_pending_evaluation_without_an_organisation_still_fires_each_rule_on_its_own_scores(
    other_organisation, other_source
):
    from alerts.models import PendingEvaluation

    own_rule, foreign_rule = _in_app_rule(), _in_app_rule(organisation=other_organisation)
    own, foreign = scored(), scored(source=other_source)
    PendingEvaluation.objects.create(score_ids=[own.pk, foreign.pk])

    assert alerts_evaluate_pending() == 2

    fired = set(Alert.objects.values_list("rule_id", "transaction_id"))
    assert fired == {(own_rule.pk, own.transaction_id), (foreign_rule.pk, foreign.transaction_id)}


@pytest.mark.django_db
def test_another_organisations_scores_on_the_same_merchant_do_not_count_towards_a_rate(other_source):
    rule = _in_app_rule(rate_count=2, rate_window_minutes=60, rate_scope=AlertRule.RateScope.MERCHANT)
    for minutes in range(5):
        scored(source=other_source, merchant_id="m-shared", minutes=minutes)
    own = scored(merchant_id="m-shared", minutes=10)

    assert alerts_evaluate(score_ids=[own.pk]) == []
    assert not rule.alerts.exists()


@pytest.mark.django_db
def test_the_rule_screen_lets_scores_through_only_for_their_organisations_rules(organisation, other_organisation):
    _in_app_rule(organisation=other_organisation, min_risk_level="low")
    low, high = scored(risk_level="low", score=0.2), scored()

    assert alert_rules_may_match([low, high], organisation_id=organisation.pk) == []
    assert alert_rules_may_match([low, high], organisation_id=other_organisation.pk) == [low, high]


@pytest.mark.django_db
def test_stored_scores_are_sent_for_evaluation_only_when_their_organisation_has_a_rule(
    organisation, other_organisation, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("alerts.services._enqueue_evaluation", lambda ids, org: queued.append((ids, org)))
    _in_app_rule(organisation=other_organisation)
    score = scored()
    event = ScoresStored(
        organisation_id=organisation.pk,
        transaction_ids=np.array([score.transaction_id]),
        score_ids=np.array([score.pk]),
        scores=np.array([score.score]),
        risk_levels=[score.risk_level],
        flagged=np.array([True]),
        amounts=np.array([float(score.transaction.amount)]),
    )

    with django_capture_on_commit_callbacks(execute=True):
        alerts_evaluate_stored(event)
    assert queued == []

    _in_app_rule()
    with django_capture_on_commit_callbacks(execute=True):
        alerts_evaluate_stored(event)
    assert queued == [([score.pk], organisation.pk)]


# ------------------------------------------------------------------ the bell


@pytest.mark.django_db
def test_another_organisations_bell_shows_none_of_the_alerts(client, other_analyst):
    _in_app_rule()
    score = scored()
    alerts_evaluate(score_ids=[score.pk])
    client.force_login(other_analyst)

    response = client.get(reverse("alerts:bell"))

    assert response.status_code == 200
    assert (response.context["alerts"], response.context["unseen"]) == ([], 0)
    assert f"/review/transactions/{score.transaction_id}/".encode() not in response.content


@pytest.mark.django_db
def test_marking_one_organisations_alerts_read_leaves_the_others_unseen(organisation, other_organisation, other_source):
    both = UserFactory(username="bea", roles=[ANALYST], organisations=[organisation, other_organisation])
    _in_app_rule()
    _in_app_rule(organisation=other_organisation)
    alerts_evaluate(score_ids=[scored(source=other_source).pk])
    alerts_evaluate(score_ids=[scored().pk])

    alerts_mark_seen(user=both, organisation_id=organisation.pk)

    assert alerts_unseen_count(user=both, organisation_id=organisation.pk) == 0
    assert alerts_unseen_count(user=both, organisation_id=other_organisation.pk) == 1


async def _bell_socket(user):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/alerts/")
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


@pytest.mark.django_db(transaction=True)
def test_alerts_of_the_organisations_rules_never_reach_another_organisations_bell_socket(analyst, other_analyst):
    _in_app_rule()
    score = scored()

    async def scenario():
        own, own_connected, _ = await _bell_socket(analyst)
        foreign, foreign_connected, _ = await _bell_socket(other_analyst)
        assert own_connected and foreign_connected
        await database_sync_to_async(alerts_evaluate)(score_ids=[score.pk])
        html = await own.receive_from(timeout=5)
        silent = await foreign.receive_nothing(timeout=0.5)
        await own.disconnect()
        await foreign.disconnect()
        return html, silent

    html, silent = async_to_sync(scenario)()
    assert f"/review/transactions/{score.transaction_id}/" in html
    assert silent is True


@pytest.mark.django_db(transaction=True)
def test_the_bell_socket_refuses_a_user_of_no_organisation(db):
    homeless = UserFactory(username="nomad", roles=[ANALYST], organisations=[])

    async def scenario():
        communicator, connected, code = await _bell_socket(homeless)
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(scenario)() == (False, 4403)


# ------------------------------------------------------------------ thresholds


@pytest.mark.django_db
def test_the_thresholds_page_shows_and_changes_the_requests_organisation_only(
    client, organisation, other_organisation, other_admin
):
    own = RiskPolicyFactory(review_threshold=0.5, medium=0.3, high=0.4, critical=0.6)
    client.force_login(other_admin)

    page = client.get(reverse("alerts:thresholds"))
    saved = client.post(
        reverse("alerts:thresholds"), {"medium": "0.5", "high": "0.7", "critical": "0.9", "review_threshold": "0.6"}
    )

    assert page.status_code == 200 and page.context["current"].organisation == other_organisation
    assert own.pk not in [policy.pk for policy in page.context["history"]]
    assert saved.status_code == 302
    newest = RiskPolicy.objects.filter(organisation=organisation).order_by("-id").first()
    assert newest.pk == own.pk
    assert RiskPolicy.objects.filter(organisation=other_organisation).order_by("-id").first().review_threshold == 0.6


# ------------------------------------------------------------------ the audit trail


@pytest.fixture
def three_events(organisation, other_organisation):
    return {
        "own": audit_record(action="x.own", object_type="t", object_id="1", organisation_id=organisation.pk),
        "foreign": audit_record(
            action="x.foreign", object_type="t", object_id="2", organisation_id=other_organisation.pk
        ),
        "platform": audit_record(action="x.platform", object_type="t", object_id="3"),
    }


@pytest.mark.django_db
def test_the_audit_export_shows_only_the_requests_organisations_events(client, other_admin, three_events):
    client.force_login(other_admin)

    response = client.get(reverse("alerts:audit-csv"))

    assert response.status_code == 200
    assert [row["action"] for row in _csv_rows(response)] == ["x.foreign"]


@pytest.mark.django_db
def test_superusers_export_also_shows_the_platforms_own_events(client, admin_user, organisation, three_events):
    client.force_login(admin_user)
    client.post(reverse("organisation_switch"), {"organisation": organisation.pk})

    response = client.get(reverse("alerts:audit-csv"))

    assert [row["action"] for row in _csv_rows(response)] == ["x.own", "x.platform"]


@pytest.mark.django_db
def test_the_audit_admin_page_shows_a_staff_member_only_their_organisations_events(client, other_admin, three_events):
    client.force_login(other_admin)

    listed = client.get(reverse("admin:alerts_auditevent_changelist"))
    own = client.get(reverse("admin:alerts_auditevent_change", args=[three_events["own"].pk]))

    assert listed.status_code == 200
    assert [event.action for event in listed.context["cl"].result_list] == ["x.foreign"]
    assert own.status_code == 302  # "doesn't exist": back to the admin index


# ------------------------------------------------------------------ the admin's other pages


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model",
    ["alerts.alertrule", "alerts.alert", "alerts.alertdelivery", "transactions.transaction", "transactions.source"],
)
def test_another_organisations_staff_see_none_of_the_organisations_rows_in_admin(model, client, other_admin):
    rule = AlertRuleFactory()
    alerts_evaluate(score_ids=[scored().pk])
    assert rule.deliveries.count() == 1
    client.force_login(other_admin)
    app_label, model_name = model.split(".")

    response = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


@pytest.mark.django_db
def test_a_staff_member_files_rules_only_under_their_organisations(
    client, organisation, other_organisation, other_admin
):
    client.force_login(other_admin)

    form = client.get(reverse("admin:alerts_alertrule_add")).context["adminform"].form
    refused = client.post(
        reverse("admin:alerts_alertrule_add"),
        {"organisation": organisation.pk, "name": "sneaky", "channel": "in_app", "rate_scope": "merchant"}
        | {"quiet_period_minutes": "0", "enabled": "on"},
    )

    assert list(form.fields["organisation"].queryset) == [other_organisation]
    assert refused.status_code == 200 and not AlertRule.objects.filter(name="sneaky").exists()


@pytest.mark.django_db
def test_the_admins_organisation_filter_names_only_the_staff_members_organisations(client, other_admin):
    client.force_login(other_admin)

    response = client.get(reverse("admin:alerts_alertrule_changelist"))

    (organisation_filter,) = [f for f in response.context["cl"].filter_specs if f.title == "organisation"]
    assert [name for _, name in organisation_filter.lookup_choices] == ["other-org"]


@pytest.mark.django_db
def test_a_rule_never_moves_to_another_organisation(client, admin_user, organisation, other_organisation):
    rule = AlertRuleFactory()
    rule.organisation = other_organisation
    with pytest.raises(ValidationError):
        alert_rule_save(rule=rule)
    client.force_login(admin_user)
    page = client.get(reverse("admin:alerts_alertrule_change", args=[rule.pk]))

    assert "organisation" not in page.context["adminform"].form.fields
    assert AlertRule.objects.get(pk=rule.pk).organisation == organisation
