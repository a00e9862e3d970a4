"""The drift page and a feature's bins: analysts and above, their own organisation's only."""

from datetime import date

import pytest
from django.urls import reverse

from monitoring.models import DriftMeasurement, DriftReference
from tests.conftest import work_in
from tests.factories import ModelVersionFactory

DAY = date(2026, 3, 20)


@pytest.fixture
def version(organisation):
    version = ModelVersionFactory(organisation=organisation, status="active", feature_names=["amount_log", "hour_sin"])
    for feature, psi in (("amount_log", 0.4), ("hour_sin", 0.02), ("score", 0.15)):
        DriftReference.objects.create(
            organisation=organisation, version=version, feature=feature, edges=[1.0, 2.0], shares=[0.3, 0.4, 0.3]
        )
        for offset, value in enumerate((psi / 2, psi)):
            DriftMeasurement.objects.create(
                organisation=organisation,
                version=version,
                day=DAY.replace(day=19 + offset),
                feature=feature,
                psi=value,
                shares=[0.1, 0.2, 0.7],
                rows=80,
            )
    return version


def test_the_page_shows_each_feature_with_its_newest_index_and_level(analyst_client, version):
    response = analyst_client.get(reverse("monitoring:drift"))

    assert response.status_code == 200
    rows = {row.feature: row for row in response.context["rows"]}
    assert list(rows) == ["score", "amount_log", "hour_sin"]
    assert (rows["amount_log"].psi, rows["amount_log"].level) == (0.4, "shifted")
    assert (rows["score"].level, rows["hour_sin"].level) == ("watch", "ok")
    assert len(rows["amount_log"].trend) == 2
    page = response.content.decode()
    assert 'class="drift-shifted" data-feature="amount_log"' in page and "<polyline" in page


def test_the_page_without_an_active_version_says_so(analyst_client, organisation):
    response = analyst_client.get(reverse("monitoring:drift"))

    assert response.status_code == 200
    assert "No model version is active" in response.content.decode()


def test_a_feature_page_shows_its_bins_against_the_reference(analyst_client, version):
    response = analyst_client.get(reverse("monitoring:drift_feature", args=["amount_log"]))

    assert response.status_code == 200
    assert response.context["measurement"].day == DAY
    assert [(b.label, b.reference, b.day) for b in response.context["bins"]] == [
        ("≤ 1", 0.3, 0.1),
        ("1 – 2", 0.4, 0.2),
        ("> 2", 0.3, 0.7),
    ]


def test_a_feature_page_shows_the_day_asked_for(analyst_client, version):
    response = analyst_client.get(reverse("monitoring:drift_feature", args=["amount_log"]), {"day": "2026-03-19"})

    assert response.status_code == 200
    assert response.context["measurement"].psi == 0.2


def test_a_feature_page_names_a_bad_day(analyst_client, version):
    response = analyst_client.get(reverse("monitoring:drift_feature", args=["amount_log"]), {"day": "yesterday"})

    assert response.status_code == 400
    assert "day: not a date (YYYY-MM-DD): yesterday" in response.content.decode()


def test_a_feature_without_a_reference_is_not_found(analyst_client, version):
    assert analyst_client.get(reverse("monitoring:drift_feature", args=["nothing"])).status_code == 404


def test_a_viewer_may_not_read_drift(client, viewer, version):
    client.force_login(viewer)

    assert client.get(reverse("monitoring:drift")).status_code == 403


def test_the_nav_links_the_page_for_analysts_and_not_for_viewers(client, analyst, viewer, version):
    client.force_login(analyst)
    assert 'href="/monitoring/drift/"' in client.get(reverse("review:queue")).content.decode()
    client.force_login(viewer)
    assert 'href="/monitoring/drift/"' not in client.get(reverse("review:queue")).content.decode()


def test_another_organisations_analyst_sees_nothing_of_it(client, other_analyst, version):
    client.force_login(other_analyst)

    response = client.get(reverse("monitoring:drift"))

    assert response.status_code == 200
    assert response.context["rows"] == [] and "amount_log" not in response.content.decode()
    assert client.get(reverse("monitoring:drift_feature", args=["amount_log"])).status_code == 404


def test_an_admin_working_in_another_organisation_sees_its_drift_only(client, admin_user, other_organisation, version):
    client.force_login(admin_user)
    work_in(client, other_organisation)

    assert client.get(reverse("monitoring:drift")).context["rows"] == []


def test_the_page_reads_a_bounded_number_of_queries(analyst_client, version, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        analyst_client.get(reverse("monitoring:drift"))
