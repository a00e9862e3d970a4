"""The threshold explorer's figures, counted by hand over the world in conftest.py, and who may save."""

from datetime import timedelta

import pytest
from django.urls import reverse

from core.models import AuditEvent
from detection.models import RiskPolicy, Score
from detection.performance.report import explorer_section
from detection.policy.selectors import risk_policy_current
from detection.scoring.services import score_transactions
from tests.conftest import work_in
from tests.detection.conftest import START, store_transaction
from tests.factories import ModelVersionFactory, default_organisation

EXPLORE = reverse("detection:threshold_explore")
SAVE = reverse("detection:threshold_save")
BANDS = {"medium": 0.8, "high": 0.95, "critical": 0.99, "window": 7}


def explore(client, threshold: float, **extra):
    return client.get(EXPLORE, BANDS | {"review_threshold": threshold} | extra, HTTP_HX_REQUEST="true")


def figures(version, threshold: float, window: int = 7) -> dict:
    values = BANDS | {"review_threshold": threshold, "window": window}
    return explorer_section(
        version=version, values=values, policy=risk_policy_current(organisation_id=default_organisation().pk)
    )


def test_flagged_per_day_counts_scores_at_or_above_the_threshold(scored_world):
    explorer = figures(scored_world, 0.9)

    assert explorer["days_with_traffic"] == 2
    assert explorer["totals"]["flagged"] == 4  # 0.90, 0.96 today; 0.98, 0.99 yesterday
    assert explorer["per_day"]["flagged"] == 2.0


def test_flagged_per_day_at_the_current_threshold_is_shown_beside(scored_world):
    explorer = figures(scored_world, 0.9)

    assert explorer["totals"]["flagged_now"] == 3  # 0.96, 0.98, 0.99 at the policy's 0.95
    assert explorer["per_day"]["flagged_now"] == 1.5


def test_precision_and_recall_come_from_known_labels(scored_world):
    confusion = figures(scored_world, 0.9)["confusion"]

    assert (confusion.tp, confusion.fp, confusion.fn, confusion.tn) == (2, 1, 1, 1)
    assert confusion.precision == pytest.approx(2 / 3)
    assert confusion.recall == pytest.approx(2 / 3)


def test_raising_the_threshold_drops_the_false_positive(scored_world):
    confusion = figures(scored_world, 0.95)["confusion"]

    assert (confusion.tp, confusion.fp, confusion.fn, confusion.tn) == (2, 0, 1, 2)
    assert confusion.precision == 1.0


def test_bands_count_recent_scores_per_level(scored_world):
    totals = figures(scored_world, 0.95)["totals"]

    assert (totals["scored"], totals["medium"], totals["high"], totals["critical"]) == (7, 1, 2, 1)


def test_window_leaves_out_older_traffic(scored_world, frozen_now):
    Score.objects.filter(score__in=[0.50, 0.70, 0.98, 0.99]).update(created_at=frozen_now - timedelta(days=9))

    explorer = figures(scored_world, 0.9, window=7)

    assert explorer["days_with_traffic"] == 1
    assert explorer["totals"]["flagged"] == 2


def test_explorer_answers_with_its_partial(viewer_client, scored_world):
    response = explore(viewer_client, 0.9)

    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<div id="explorer-results"')
    assert 'id="flagged-per-day">2<' in content  # a whole count reads "2", not "2.0"
    assert 'id="explorer-precision">66.7%<' in content
    assert 'id="explorer-recall">66.7%<' in content


def test_unordered_bands_are_refused_with_a_message(viewer_client, scored_world):
    response = viewer_client.get(EXPLORE, {"review_threshold": 0.9, "medium": 0.99, "high": 0.95, "critical": 0.9})

    assert response.status_code == 400
    assert "Bands must be ordered" in response.content.decode()


def test_outsider_may_not_explore(client, outsider, scored_world):
    client.force_login(outsider)

    response = explore(client, 0.9)

    assert response.status_code == 403


def test_admin_saves_thresholds_as_a_new_policy(admin_client, admin_user, scored_world):
    before = RiskPolicy.objects.count()

    response = admin_client.post(SAVE, BANDS | {"review_threshold": 0.9, "comment": "more recall"})

    assert response.status_code == 302
    assert RiskPolicy.objects.count() == before + 1
    saved = RiskPolicy.objects.order_by("-created_at", "-id").first()
    assert (saved.review_threshold, saved.created_by, saved.comment) == (0.9, admin_user, "more recall")
    assert risk_policy_current(organisation_id=default_organisation().pk).review_threshold == 0.9
    assert AuditEvent.objects.filter(action="threshold.change", object_id=str(saved.pk)).exists()


def test_analyst_may_not_save_thresholds(analyst_client, scored_world):
    before = RiskPolicy.objects.count()

    response = analyst_client.post(SAVE, BANDS | {"review_threshold": 0.5})

    assert response.status_code == 403
    assert RiskPolicy.objects.count() == before


def test_viewer_may_not_save_thresholds(viewer_client, scored_world):
    policies = set(RiskPolicy.objects.values_list("pk", flat=True))

    response = viewer_client.post(SAVE, BANDS | {"review_threshold": 0.5})

    assert response.status_code == 403
    assert set(RiskPolicy.objects.values_list("pk", flat=True)) == policies
    assert not AuditEvent.objects.filter(action="threshold.change").exists()


def test_save_needs_a_csrf_token(admin_user, scored_world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    before = RiskPolicy.objects.count()

    response = client.post(SAVE, BANDS | {"review_threshold": 0.5})

    assert response.status_code == 403
    assert RiskPolicy.objects.count() == before


def test_invalid_thresholds_are_not_saved(admin_client, scored_world):
    before = RiskPolicy.objects.count()

    response = admin_client.post(SAVE, {"review_threshold": 1.5, "medium": 0.8, "high": 0.9, "critical": 0.99})

    assert response.status_code == 302
    assert RiskPolicy.objects.count() == before


def test_saving_by_get_is_not_allowed(admin_client, scored_world):
    response = admin_client.get(SAVE, BANDS | {"review_threshold": 0.5})

    assert response.status_code == 405


def test_saved_threshold_is_in_force_for_the_next_score(admin_client, active_model):
    admin_client.post(SAVE, {"medium": 0.0, "high": 0.0, "critical": 0.0, "review_threshold": 0.0})
    transaction = store_transaction(account_id="acct-001", amount="12.00", at=START + timedelta(days=10, hours=3))

    [score] = score_transactions(transactions=[transaction])

    assert (score.is_anomaly, score.risk_level) == (True, "critical")


# ------------------------------------------------------------------ organisations


def test_saving_thresholds_writes_the_working_organisations_policy_only(
    admin_client, organisation, other_organisation, scored_world
):
    work_in(admin_client, other_organisation)  # a superuser may work in either; this one chose the other

    response = admin_client.post(SAVE, BANDS | {"review_threshold": 0.6, "comment": "theirs"})

    assert response.status_code == 302
    assert risk_policy_current(organisation_id=other_organisation.pk).review_threshold == 0.6
    assert risk_policy_current(organisation_id=organisation.pk).review_threshold == 0.95
    event = AuditEvent.objects.get(action="threshold.change")
    assert event.organisation_id == other_organisation.pk


def test_the_explorer_reads_the_organisations_own_version_and_traffic(
    client, other_analyst, other_organisation, scored_world
):
    ModelVersionFactory(organisation=other_organisation, version=1, status="active")
    client.force_login(other_analyst)

    response = explore(client, 0.9)

    assert response.status_code == 200
    assert "Version v1 scored nothing in the last 7 days" in response.content.decode()  # not v3's traffic
