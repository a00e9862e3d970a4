"""The drift page in a browser: a row per feature coloured by its index with its trend, and a feature's bins."""

from datetime import date, timedelta

import numpy as np
import pytest

from monitoring.models import DriftMeasurement, DriftReference
from tests.e2e.conftest import log_in, screenshot
from tests.factories import ModelVersionFactory, default_organisation

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PAGE = "/monitoring/drift/"
NEWEST = date(2026, 3, 30)


@pytest.fixture
def drift_world(db):
    """30 days of an active version's drift: amounts moving away from day 20, the rest steady."""
    organisation = default_organisation()
    features = ["amount_log", "hour_sin", "a_count_24h", "a_new_merchant"]
    version = ModelVersionFactory(organisation=organisation, status="active", feature_names=features)
    rng = np.random.default_rng(0)
    for feature in ["score", *features]:
        DriftReference.objects.create(
            organisation=organisation,
            version=version,
            feature=feature,
            edges=[0.5, 1.0, 1.5, 2.0],
            shares=[0.2, 0.2, 0.2, 0.2, 0.2],
            rows=4096,
        )
        for back in range(30):
            moving = feature == "amount_log" and back < 10
            steady = float(rng.uniform(0.01, 0.2 if feature == "score" else 0.06))
            psi = 0.3 + 0.05 * (10 - back) if moving else steady
            shares = [0.05, 0.1, 0.15, 0.3, 0.4] if moving else [0.2, 0.19, 0.21, 0.2, 0.2]
            DriftMeasurement.objects.create(
                organisation=organisation,
                version=version,
                day=NEWEST - timedelta(days=back),
                feature=feature,
                psi=psi,
                shares=shares,
                rows=3000,
            )
    return version


def test_drift_page_colours_each_feature_and_opens_its_bins(new_page, analyst, drift_world):
    page = new_page()
    log_in(page, analyst.username, "/review/")
    page.click("nav.mainnav >> text=Drift")
    page.wait_for_selector("#drift-table")

    assert page.inner_text("#drift-newest") == "2026-03-30"
    assert page.locator("#drift-table tbody tr").count() == 5
    shifted = page.locator('tr[data-feature="amount_log"] .drift-badge')
    assert shifted.inner_text() == "0.800" and "drift-shifted" in shifted.get_attribute("class")
    assert "drift-ok" in page.locator('tr[data-feature="hour_sin"] .drift-badge').get_attribute("class")
    assert page.locator("svg.sparkline polyline").count() == 5
    screenshot(page, "drift")

    page.click('tr[data-feature="amount_log"] a')
    page.wait_for_selector("#drift-bins")

    assert page.inner_text("#drift-psi") == "0.800"
    assert page.locator("#drift-bins tbody tr").count() == 5
    assert page.locator("#drift-bins rect.bar-day").count() == 5
    screenshot(page, "drift-feature")
