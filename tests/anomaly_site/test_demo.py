from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import PartnerToken
from detection.models import ModelVersion, Score
from detection.scoring import registry
from review.models import ReviewItem


@pytest.fixture(autouse=True)
def _forget_active_model():
    registry.active_model_changed()
    yield
    registry.active_model_changed()


@pytest.mark.django_db
def test_demo_setup_leaves_a_scored_queue_users_and_a_token():
    out = StringIO()

    call_command("demo_setup", accounts=40, days=12, seed=3, score_days=2, stdout=out)

    text = out.getvalue()
    assert ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).count() == 1
    assert Score.objects.exists()
    assert ReviewItem.objects.filter(status=ReviewItem.Status.OPEN).exists()
    assert set(get_user_model().objects.values_list("username", flat=True)) >= {"analyst", "admin", "viewer"}
    token = PartnerToken.objects.get(name="demo-partner")
    assert token.key_prefix in text


@pytest.mark.django_db
def test_demo_setup_does_nothing_on_a_database_with_transactions():
    call_command("demo_setup", accounts=40, days=12, seed=3, score_days=2, stdout=StringIO())
    out = StringIO()

    call_command("demo_setup", accounts=40, days=12, seed=3, stdout=out)

    assert "already holds transactions" in out.getvalue()
    assert ModelVersion.objects.count() == 1
