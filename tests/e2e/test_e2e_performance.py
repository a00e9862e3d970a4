"""The model-performance page in a browser: charts drawn, the threshold explorer answering, an admin saving."""

import pytest

from detection.models import RiskPolicy
from detection.policy.selectors import risk_policy_invalidate
from tests.detection.performance.seed import seed_performance
from tests.e2e.conftest import log_in, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PAGE = "/detection/performance/"


@pytest.fixture
def performance_world(db):
    risk_policy_invalidate()
    return seed_performance()


def test_performance_page_draws_its_charts(new_page, viewer, performance_world):
    page = new_page()
    log_in(page, viewer.username, PAGE)

    charts = page.locator("svg.chart")
    assert charts.count() == 5
    assert page.locator("#roc-card polyline.series").count() == 3  # ensemble and two components
    assert page.locator("#volume-card rect").count() > 0
    box = page.locator("#roc-card svg").bounding_box()
    assert box["width"] > 300 and box["height"] > 200
    screenshot(page, "performance")


def test_threshold_explorer_updates_its_numbers(new_page, viewer, performance_world):
    page = new_page()
    log_in(page, viewer.username, PAGE)
    before = page.inner_text("#flagged-per-day")

    page.fill("#id_review_threshold", "0.5")
    page.wait_for_function(
        "before => document.querySelector('#flagged-per-day').innerText !== before", arg=before, timeout=5000
    )

    after = float(page.inner_text("#flagged-per-day").replace(",", ""))
    assert after > float(before.replace(",", ""))
    assert page.locator("#explorer-results .marker").count() == 2  # the new and the current threshold
    page.locator("#explorer").screenshot(path=str(_shot("threshold-explorer")))


def test_slider_moves_the_numbers_too(new_page, viewer, performance_world):
    page = new_page()
    log_in(page, viewer.username, PAGE)
    before = page.inner_text("#flagged-per-day")

    page.locator("#threshold-range").fill("0.99")
    page.wait_for_function(
        "before => document.querySelector('#flagged-per-day').innerText !== before", arg=before, timeout=5000
    )

    assert page.input_value("#id_review_threshold") == "0.99"


def test_admin_saves_a_threshold_from_the_explorer(new_page, admin_user, performance_world):
    page = new_page()
    log_in(page, admin_user.username, PAGE)

    page.fill("#id_review_threshold", "0.7")
    page.fill("#id_comment", "more recall for the holidays")
    page.click("#threshold-save")
    page.wait_for_selector(".messages li")

    assert "In force for the next score" in page.inner_text(".messages")
    saved = RiskPolicy.objects.order_by("-created_at", "-id").first()
    assert (saved.review_threshold, saved.comment) == (0.7, "more recall for the holidays")


def _shot(name: str):
    from tests.e2e.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
