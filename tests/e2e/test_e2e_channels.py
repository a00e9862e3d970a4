"""Issue #28 in a browser: an admin sets up a PagerDuty alert rule in the admin, types the routing key, sees it kept
masked, and after an alert the delivery log shows it sent to PagerDuty (a local fake that checks the event) with the
key still masked; a viewer follows a model version to its MLflow run."""

import pytest
from playwright.sync_api import expect

from alerts.delivery import alert_delivery_attempt
from alerts.models import AlertDelivery, AlertRule
from alerts.services import alerts_evaluate
from tests.alerts.fake_services import FakePagerDuty, serve
from tests.alerts.helpers import scored
from tests.e2e.conftest import SCREENSHOTS, in_thread, log_in, screenshot
from tests.factories import ModelVersionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


@pytest.fixture
def pagerduty(settings):
    service = FakePagerDuty(routing_keys={ROUTING_KEY})
    server = serve(service)
    settings.ALERTS_PAGERDUTY_BASE_URL = service.base_url
    yield service
    server.shutdown()
    server.server_close()


def _alert_and_deliver(rule_id: int) -> None:
    alerts_evaluate(score_ids=[scored(risk_level="critical", score=0.99).pk])
    for delivery in AlertDelivery.objects.filter(rule_id=rule_id):
        alert_delivery_attempt(delivery_id=delivery.pk)


def test_an_admin_configures_a_pagerduty_rule_and_sees_its_delivery_with_the_key_masked(
    new_page, admin_user, organisation, pagerduty
):
    page = new_page()
    log_in(page, admin_user.username, "/admin/alerts/alertrule/add/")
    page.select_option("#id_organisation", label=organisation.name)
    page.fill("#id_name", "Critical to on-call")
    page.select_option("#id_min_risk_level", "critical")
    page.select_option("#id_channel", "pagerduty")
    page.fill("#id_destination", "")
    page.fill("#id_secret", ROUTING_KEY)
    page.click("input[name=_continue]")

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    secret_row = page.locator(".field-secret_display")
    expect(secret_row).to_contain_text("••••••••" + ROUTING_KEY[-4:])
    assert ROUTING_KEY not in page.content()
    assert page.input_value("#id_secret") == ""
    screenshot(page, "channels-pagerduty-rule")

    rule = AlertRule.objects.get(name="Critical to on-call")
    in_thread(_alert_and_deliver, rule.pk)
    page.goto("/admin/alerts/alertdelivery/")
    row = page.locator("#result_list tbody tr").first
    expect(row).to_contain_text("Sent")
    expect(row).to_contain_text("PagerDuty ••••••••" + ROUTING_KEY[-4:])
    expect(row).to_contain_text("202")
    screenshot(page, "channels-delivery-log")
    assert [event["payload"]["severity"] for events in pagerduty.incidents.values() for event in events] == ["critical"]


def test_a_viewer_follows_a_model_version_to_its_mlflow_run(new_page, viewer, db):
    """A version trained while MLflow tracking was on links to its run from the performance page."""
    url = "http://mlflow.example:5000/#/experiments/3/runs/0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    ModelVersionFactory(version=4, mlflow_run_id="0a1b2c3d4e5f60718293a4b5c6d7e8f9", mlflow_run_url=url)
    page = new_page()
    log_in(page, viewer.username, "/detection/performance/")

    link = page.locator("#versions-card a.mlflow-run")
    expect(link).to_have_attribute("href", url)
    expect(link).to_have_attribute("target", "_blank")
    expect(page.get_by_role("link", name="training run in MLflow")).to_have_attribute("href", url)
    page.locator("#versions-card").screenshot(path=str(SCREENSHOTS / "mlflow-run-link.png"))
