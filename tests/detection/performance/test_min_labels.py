"""Below PERFORMANCE_MIN_LABELS labels the performance page says "not enough labels" instead of headline figures."""

import re

import pytest
from django.urls import reverse

URL = reverse("detection:performance")
pytestmark = pytest.mark.django_db


def _kpi(body: str, id_: str) -> str:
    return re.search(rf'id="{id_}">([^<]*)<', body).group(1)


def test_below_the_minimum_the_page_says_not_enough_labels(viewer_client, scored_world, settings):
    settings.PERFORMANCE_MIN_LABELS = 30
    body = viewer_client.get(URL).content.decode()
    assert "Not enough labels yet for v3:" in body and "5 of the 30 needed" in body
    assert _kpi(body, "kpi-auc") == _kpi(body, "kpi-ap") == _kpi(body, "kpi-precision") == "—"
    assert body.count("not enough labels") == 3


def test_below_the_minimum_no_curve_is_drawn(viewer_client, scored_world, settings):
    settings.PERFORMANCE_MIN_LABELS = 30
    assert b'data-series="ensemble"' not in viewer_client.get(URL).content


def test_at_the_minimum_the_headline_figures_are_shown(viewer_client, scored_world, settings):
    settings.PERFORMANCE_MIN_LABELS = 5
    body = viewer_client.get(URL).content.decode()
    assert "Not enough labels" not in body and "not enough labels" not in body
    assert re.fullmatch(r"\d\.\d{3}", _kpi(body, "kpi-auc"))
    assert 'data-series="ensemble"' in body


def test_the_minimum_is_thirty_by_default():
    from anomaly_site import settings as project_settings

    assert project_settings.PERFORMANCE_MIN_LABELS == 30
