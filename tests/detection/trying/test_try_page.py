"""The try page: a typed transaction scored with the account's stored history by the active model (and a second
version), with its reasons, each detector's score and the rules' decision; nothing stored."""

from datetime import timedelta

import pytest
from django.urls import reverse

from alerts.models import Alert, AuditEvent
from detection.models import ModelVersion, RiskPolicy, Score
from detection.scoring.services import score_transactions
from review.models import ReviewItem
from rules.policy.services import rule_create, rule_publish
from tests.detection.conftest import START, store_transaction
from tests.factories import TransactionFactory
from transactions.models import LabelEvent, Transaction

URL = reverse("detection:try")
AT = START + timedelta(days=10, hours=12)


def trial(**changes) -> dict:
    body = {
        "account_id": "acct-003",
        "amount": "42.00",
        "merchant_id": "m-021",
        "merchant_category": "grocery",
        "channel": "in_person",
        "timestamp": AT.strftime("%Y-%m-%dT%H:%M"),
        "country": "FR",
        "latitude": "48.1",
        "longitude": "2.1",
    }
    return body | changes


def stored_counts() -> dict:
    models = (Transaction, Score, ReviewItem, Alert, AuditEvent, LabelEvent, RiskPolicy)
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def policy(organisation):
    return RiskPolicy.objects.create(organisation=organisation, review_threshold=0.9, comment="in force")


def test_the_form_offers_the_organisations_accounts(analyst_client, active_model, other_organisation):
    TransactionFactory(source__organisation=other_organisation, account_id="acct-of-another-org")

    response = analyst_client.get(URL)

    assert response.status_code == 200
    body = response.content.decode()
    assert '<option value="acct-003">' in body
    assert "acct-of-another-org" not in body


def test_the_account_list_narrows_to_what_is_typed(analyst_client, active_model):
    response = analyst_client.get(reverse("detection:try_accounts"), {"account_id": "acct-01"})

    assert response.status_code == 200
    options = response.content.decode().count("<option")
    assert options == 10  # acct-010 … acct-019
    assert 'value="acct-003"' not in response.content.decode()


def test_a_trial_shows_score_gauge_risk_reasons_detectors_and_decision(analyst_client, active_model, policy):
    response = analyst_client.post(URL, trial(amount="4800.00", merchant_id="m-new", channel="online"))

    assert response.status_code == 200
    page = response.content.decode()
    result = response.context["results"][0]
    assert result.version == active_model
    assert 'class="chart gauge"' in page and f'data-value="{result.score.score:.6f}"' in page
    assert f'data-risk="{result.score.risk_level}"' in page
    assert result.score.reasons and result.score.reasons[0] in page
    assert "Isolation forest" in page and "Autoencoder" in page
    assert f'data-decision="{result.score.decision}"' in page
    assert result.score.decision == policy.model_decision(result.score.score)


def test_a_trial_stores_nothing(analyst_client, active_model, policy):
    before = stored_counts()

    response = analyst_client.post(URL, trial(amount="4800.00"))

    assert response.status_code == 200
    assert response.context["results"]
    assert stored_counts() == before


def test_a_trial_without_thresholds_stores_none(analyst_client, active_model):
    before = stored_counts()

    response = analyst_client.post(URL, trial())

    assert response.status_code == 200
    assert response.context["results"][0].policy.review_threshold == RiskPolicy().review_threshold
    assert stored_counts() == before


def test_a_trial_scores_as_the_same_transaction_stored_would_be(analyst_client, active_model, policy):
    values = trial(amount="310.00", merchant_id="m-007", channel="online")

    response = analyst_client.post(URL, values)

    stored = store_transaction(
        account_id="acct-003",
        amount="310.00",
        at=AT,
        merchant_id="m-007",
        channel="online",
        latitude=48.1,
        longitude=2.1,
    )
    (score,) = score_transactions(transactions=[stored])
    tried = response.context["results"][0].score
    assert tried.score == pytest.approx(score.score, abs=1e-6)
    assert tried.reasons == score.reasons
    assert tried.decision == score.decision


def test_the_account_history_changes_the_score(analyst_client, active_model, policy):
    usual = analyst_client.post(URL, trial(amount="60.00")).context["results"][0].score
    for k in range(6):  # a burst of earlier transactions in the same hour
        store_transaction(account_id="acct-003", amount="60.00", at=AT - timedelta(minutes=50 - k), merchant_id="m-021")

    burst = analyst_client.post(URL, trial(amount="60.00")).context["results"][0].score

    assert burst.score != usual.score


def test_a_rule_in_force_decides_the_trial(analyst_client, active_model, policy, admin_user):
    made = rule_create(
        organisation_id=active_model.organisation_id,
        name="big_online",
        expression="amount > 1000 and channel == 'online'",
        action="block",
        user=admin_user,
    )
    rule_publish(rule=made.rule, user=admin_user, untested=True)

    response = analyst_client.post(URL, trial(amount="1500.00", channel="online"))

    score = response.context["results"][0].score
    assert score.decision == "block"
    assert "Rule: big_online (block)" in response.content.decode()


def test_a_second_version_is_scored_beside_the_active_one(analyst_client, active_model, policy, trained_model):
    ready = ModelVersion.objects.create(
        organisation=active_model.organisation, version=8, status=ModelVersion.Status.READY, **trained_model
    )

    response = analyst_client.post(URL, trial(compare=ready.pk))

    results = response.context["results"]
    assert [r.version.version for r in results] == [7, 8]
    assert results[0].score.score == pytest.approx(results[1].score.score)
    assert response.content.decode().count('class="chart gauge"') == 2


def test_another_organisations_version_cannot_be_chosen(
    analyst_client, active_model, other_organisation, trained_model
):
    theirs = ModelVersion.objects.create(
        organisation=other_organisation, version=1, status=ModelVersion.Status.READY, **trained_model
    )

    response = analyst_client.post(URL, trial(compare=theirs.pk))

    assert response.status_code == 400
    assert "Beside version: Select a valid choice" in response.content.decode()


def test_an_account_not_stored_is_refused_naming_the_field(analyst_client, active_model):
    response = analyst_client.post(URL, trial(account_id="acct-nobody"))

    assert response.status_code == 400
    assert "Account: No transaction of account “acct-nobody” is stored" in response.content.decode()


def test_another_organisations_account_is_not_found(analyst_client, active_model, other_organisation):
    TransactionFactory(source__organisation=other_organisation, account_id="acct-theirs")

    response = analyst_client.post(URL, trial(account_id="acct-theirs"))

    assert response.status_code == 400
    assert "acct-theirs" in response.content.decode()  # named as not stored, nothing of theirs shown
    assert not response.context["results"]


def test_a_negative_amount_is_refused_naming_the_field(analyst_client, active_model):
    response = analyst_client.post(URL, trial(amount="-5"))

    assert response.status_code == 400
    assert "Amount: Ensure this value is greater than or equal to 0." in response.content.decode()


def test_a_billing_latitude_without_its_longitude_is_refused(analyst_client, active_model):
    response = analyst_client.post(URL, trial(billing_latitude="48.85"))

    assert response.status_code == 400
    assert "Give both the billing latitude and longitude, or neither." in response.content.decode()


def test_an_ip_country_not_two_letters_is_refused_naming_the_field(analyst_client, active_model):
    response = analyst_client.post(URL, trial(ip_country="France"))

    assert response.status_code == 400
    assert "IP country: Ensure this value has at most 2 characters" in response.content.decode()


def test_typed_places_keep_their_section_open(analyst_client, active_model, policy):
    response = analyst_client.post(URL, trial(ip_country="nl"))

    assert response.status_code == 200
    assert response.context["form"].cleaned_data["ip_country"] == "NL"
    assert 'id="card-not-present" open' in response.content.decode()


def test_htmx_gets_the_result_region_alone(analyst_client, active_model, policy):
    response = analyst_client.post(URL, trial(), headers={"HX-Request": "true"})

    assert response.status_code == 200
    page = response.content.decode()
    assert page.startswith('\n<div id="try-result"') or page.lstrip().startswith('<div id="try-result"')
    assert "<html" not in page


def test_htmx_gets_the_errors_in_the_result_region_with_200(analyst_client, active_model):
    response = analyst_client.post(URL, trial(amount="x"), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert 'id="try-errors"' in response.content.decode()


def test_the_form_starts_from_the_accounts_newest_transaction(analyst_client, active_model):
    newest = Transaction.objects.filter(account_id="acct-004").order_by("-timestamp").first()

    response = analyst_client.get(URL, {"account": "acct-004"})

    form = response.context["form"]
    assert form.initial["account_id"] == "acct-004"
    assert form.initial["merchant_id"] == newest.merchant_id


def test_without_an_active_model_the_page_says_so(analyst_client, no_active_model, history):
    response = analyst_client.post(URL, trial())

    assert response.status_code == 200
    assert "No model version is active" in response.content.decode()
    assert not response.context["results"]


def test_viewers_may_try(client, viewer, active_model):
    client.force_login(viewer)

    assert client.get(URL).status_code == 200


def test_people_without_a_role_are_refused(client, outsider, active_model):
    client.force_login(outsider)

    assert client.get(URL).status_code == 403
    assert client.post(URL, trial()).status_code == 403
