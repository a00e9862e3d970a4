"""Measuring a day's drift against the active version's training sample (monitoring.services.drift_measure)."""

import pytest

from monitoring.models import SCORE_FEATURE, DriftMeasurement
from monitoring.services import drift_measure
from tests.monitoring.conftest import LIKE_DAY, store_day


def test_every_feature_and_the_score_are_measured_once_per_day(drift_model):
    store_day(day=LIKE_DAY)

    measured = drift_measure(organisation_id=drift_model.organisation_id, day=LIKE_DAY.date())

    names = {m.feature for m in measured}
    assert names == {SCORE_FEATURE, *drift_model.feature_names}
    assert DriftMeasurement.objects.filter(version=drift_model, day=LIKE_DAY.date()).count() == len(names)


def test_a_day_like_the_training_traffic_shows_little_drift_in_amounts(drift_model):
    store_day(day=LIKE_DAY)

    measured = {m.feature: m for m in drift_measure(organisation_id=drift_model.organisation_id, day=LIKE_DAY.date())}

    assert measured["amount_log"].psi < 0.25


def test_a_day_of_amounts_twenty_times_larger_is_shifted(drift_model):
    store_day(day=LIKE_DAY, scale=20)

    measured = {m.feature: m for m in drift_measure(organisation_id=drift_model.organisation_id, day=LIKE_DAY.date())}

    assert measured["amount_log"].psi >= 0.25
    assert measured["amount_log"].level == "shifted"
    assert sum(measured["amount_log"].shares) == pytest.approx(1.0)
