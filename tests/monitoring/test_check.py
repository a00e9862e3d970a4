"""Running the drift check: the command, the beat task, and the /metrics gauge."""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from core.metrics import exposition
from monitoring.models import DriftMeasurement
from monitoring.tasks import drift_check_task
from tests.monitoring.conftest import LIKE_DAY, store_day


def test_the_command_measures_the_day_asked_for(drift_model):
    store_day(day=LIKE_DAY)
    out = StringIO()

    call_command("drift_check", "--day", LIKE_DAY.date().isoformat(), stdout=out)

    assert DriftMeasurement.objects.filter(day=LIKE_DAY.date()).count() == len(drift_model.feature_names) + 1
    assert f"{LIKE_DAY.date()} {drift_model.organisation.name}: {len(drift_model.feature_names) + 1} features" in (
        out.getvalue()
    )


def test_the_command_says_when_a_day_has_too_few_rows(drift_model):
    out = StringIO()

    call_command("drift_check", "--day", "2027-01-01", stdout=out)

    assert "nothing measured" in out.getvalue()
    assert not DriftMeasurement.objects.exists()


def test_the_command_names_a_bad_day(db):
    with pytest.raises(CommandError, match="--day: not a date"):
        call_command("drift_check", "--day", "soon")


def test_the_command_names_an_unknown_organisation(db):
    with pytest.raises(CommandError, match="--organisation: no organisation named 'nobody'"):
        call_command("drift_check", "--organisation", "nobody")


def test_the_beat_task_measures_yesterday(drift_model, time_machine):
    store_day(day=LIKE_DAY)
    time_machine.move_to(LIKE_DAY.replace(hour=23), tick=False)
    time_machine.shift(86400)

    drift_check_task()

    assert DriftMeasurement.objects.filter(day=LIKE_DAY.date()).exists()


def test_beat_runs_the_drift_check_every_day():
    entry = settings.CELERY_BEAT_SCHEDULE["monitoring-drift-check"]

    assert entry["task"] == "monitoring.drift_check"
    assert entry["schedule"].hour == {settings.DRIFT_CHECK_HOUR}


def test_metrics_show_each_features_newest_index_by_organisation(drift_model):
    store_day(day=LIKE_DAY, scale=20)
    call_command("drift_check", "--day", LIKE_DAY.date().isoformat(), stdout=StringIO())
    psi = DriftMeasurement.objects.get(feature="amount_log").psi

    text = exposition().decode()

    name = drift_model.organisation.name
    assert f'anomaly_feature_drift_psi{{feature="amount_log",organisation="{name}"}} {psi}' in text
