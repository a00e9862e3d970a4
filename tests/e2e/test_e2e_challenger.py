"""Issue #25's challenger in a browser: an admin makes a version the challenger; live scores of both appear; the
comparison draws; promotion switches the active version for every process within a second (this test's process is
another one than the server's that promoted)."""

import json
import time
import urllib.request
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from accounts.services import partner_token_create
from detection.models import ModelVersion, RiskPolicy, ShadowScore
from detection.policy.selectors import risk_policy_invalidate
from detection.scoring import registry
from detection.training.services import model_version_train
from tests.detection.conftest import START, active_model, history, trained_model  # noqa: F401 - fixtures
from tests.detection.versions.conftest import label
from tests.e2e.conftest import log_in, screenshot
from transactions.models import Transaction

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def policy(active_model):  # noqa: F811
    risk_policy_invalidate()
    policy = RiskPolicy.objects.create(organisation=active_model.organisation, review_threshold=0.9, comment="e2e")
    yield policy
    risk_policy_invalidate()


def send_batch(base_url: str, secret: str, count: int) -> None:
    """`count` live transactions through the partner API's batch endpoint: every tenth far above its account's level."""
    at = START + timedelta(days=10, hours=9)
    items = [
        {
            "transaction_id": f"live-{k}",
            "timestamp": (at + timedelta(minutes=k)).isoformat(),
            "account_id": f"acct-{k % 20:03d}",
            "merchant_id": f"m-{k % 60:03d}",
            "amount": "4800.00" if k % 10 == 0 else f"{30 + k % 40}.00",
        }
        for k in range(count)
    ]
    request = urllib.request.Request(
        f"{base_url}/api/v1/transactions/score/batch",
        data=json.dumps({"transactions": items}).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own local server
        assert response.status == 200, response.read()


def test_an_admin_runs_a_challenger_in_shadow_compares_it_and_promotes_it(
    new_page,
    asgi_server,
    admin_user,
    active_model,  # noqa: F811
    policy,
):
    organisation = active_model.organisation
    candidate = model_version_train(organisation=organisation, until=START + timedelta(days=7), seed=5)
    _, secret = partner_token_create(name="e2e-bank", scopes=["score"], organisation=organisation)
    page = new_page()
    log_in(page, admin_user.username, "/detection/performance/")

    page.locator(f"button[data-challenge='{candidate.version}']").click()

    expect(page.locator(".messages")).to_contain_text(f"v{candidate.version} is the challenger")
    expect(page.locator("#no-shadow-scores")).to_be_visible()

    send_batch(asgi_server, secret, 60)  # scored live by the server's process: by both versions
    live = Transaction.objects.filter(transaction_id__startswith="live-").order_by("-amount", "transaction_id")
    label(live[:6], 1)
    label(live[6:], 0)
    page.reload()

    expect(page.locator("#shadow-latest tbody tr")).to_have_count(10)
    expect(page.locator("#shadow-metrics [data-metric=flagged]")).to_have_count(2)
    expect(page.locator("#shadow-roc svg.chart")).to_be_visible()
    expect(page.locator("#shadow-pr polyline.series")).to_have_count(2)
    assert ShadowScore.objects.filter(model_version=candidate, champion=active_model).count() == 60
    screenshot(page, "challenger-compare")

    assert registry.active_model(organisation_id=organisation.pk).version.pk == active_model.pk  # this process
    page.locator("#promote-challenger").click()
    deadline = time.monotonic() + 60  # the server's process promotes; this one asks as each of its scores would
    while registry.active_model(organisation_id=organisation.pk).version.pk != candidate.pk:
        assert time.monotonic() < deadline, "this process never switched to the promoted version"
        time.sleep(0.005)
    switched_at = time.time()

    expect(page.locator(".messages")).to_contain_text(f"v{candidate.version} is promoted")
    promoted = ModelVersion.objects.get(pk=candidate.pk)
    assert switched_at - promoted.activated_at.timestamp() < 1.0  # from the promotion's write to this process
    assert dict(ModelVersion.objects.values_list("version", "status")) == {7: "retired", 8: "active"}
    screenshot(page, "challenger-promoted")
