"""The performance page's champion and challenger section, and the buttons that make, end and promote a challenger."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import AuditEvent
from detection.models import ModelVersion, ShadowScore
from detection.policy.selectors import risk_policy_invalidate
from tests.detection.performance.conftest import labelled_score
from tests.detection.performance.test_queries import EXPECTED_QUERIES
from tests.factories import ModelVersionFactory

URL = reverse("detection:performance")


def shadow(score, value: float, challenger: ModelVersion) -> ShadowScore:
    return ShadowScore.objects.create(
        transaction=score.transaction,
        model_version=challenger,
        champion=score.model_version,
        score=value,
        transaction_time=score.transaction_time,
    )


@pytest.fixture
def champion_and_challenger(db, frozen_now, policy):
    """Forty labelled transactions scored by both: the challenger ranks the ten frauds at the top and flags them, the
    champion flags one and ranks the others among the legitimate ones."""
    champion = ModelVersionFactory(status=ModelVersion.Status.ACTIVE, version=3)
    challenger = ModelVersionFactory(status=ModelVersion.Status.READY, version=4, challenger=True)
    for k in range(40):
        fraud = k < 10
        ours = 0.96 if k == 0 else 0.5 + k / 100 if fraud else 0.2 + k / 100
        score = labelled_score(champion, ours, int(fraud), at=frozen_now)
        shadow(score, 0.96 + k / 1000 if fraud else 0.1 + k / 100, challenger)
    return champion, challenger


def test_the_section_compares_both_versions_on_the_same_transactions(viewer_client, champion_and_challenger):
    response = viewer_client.get(URL)

    assert response.status_code == 200
    section = response.context["shadow"]
    assert (section.scored, section.labelled, section.fraud, section.champions) == (40, 40, 10, [3])
    champion, challenger = section.sides
    assert challenger.average_precision == pytest.approx(1.0)
    assert champion.average_precision < 1.0
    page = response.content.decode()
    assert 'id="challenger-card"' in page and 'id="shadow-roc"' in page and 'id="shadow-pr"' in page
    assert 'id="promote-challenger"' not in page  # a viewer reads, never promotes


def test_precision_of_flags_and_disagreements_at_the_review_threshold(viewer_client, champion_and_challenger):
    section = viewer_client.get(URL).context["shadow"]

    champion, challenger = section.sides
    assert (champion.flagged, challenger.flagged) == (1, 10)
    assert challenger.confusion.precision == 1.0
    assert section.only_challenger == 9 and section.only_champion == 0
    assert {d["flagged_by"] for d in section.disagreements} == {"challenger"}
    assert len(section.latest) == 10


def test_without_a_challenger_there_is_no_section(viewer_client, scored_world):
    response = viewer_client.get(URL)

    assert response.status_code == 200
    assert response.context["shadow"] is None
    assert b'id="challenger-card"' not in response.content


def test_an_admin_makes_a_ready_version_the_challenger_from_the_page(admin_client, scored_world):
    ready = ModelVersionFactory(version=5)

    response = admin_client.post(reverse("detection:version_challenge", kwargs={"pk": ready.pk}))

    assert response.status_code == 302
    assert ModelVersion.objects.get(pk=ready.pk).challenger
    assert AuditEvent.objects.filter(action="model.challenge").count() == 1


def test_an_admin_promotes_the_challenger_from_the_page(admin_client, champion_and_challenger):
    champion, challenger = champion_and_challenger

    response = admin_client.post(reverse("detection:version_promote", kwargs={"pk": challenger.pk}))

    assert response.status_code == 302
    assert ModelVersion.objects.get(pk=challenger.pk).status == ModelVersion.Status.ACTIVE
    assert ModelVersion.objects.get(pk=champion.pk).status == ModelVersion.Status.RETIRED
    assert AuditEvent.objects.filter(action="model.promote").count() == 1


def test_promoting_a_version_that_is_not_the_challenger_is_refused_in_words(admin_client, scored_world):
    ready = ModelVersionFactory(version=5)

    response = admin_client.post(reverse("detection:version_promote", kwargs={"pk": ready.pk}), follow=True)

    assert response.status_code == 200
    assert "v5 is not the challenger" in response.content.decode()
    assert ModelVersion.objects.get(pk=ready.pk).status == ModelVersion.Status.READY


def test_a_viewer_may_not_make_a_challenger(viewer_client, scored_world):
    ready = ModelVersionFactory(version=5)

    response = viewer_client.post(reverse("detection:version_challenge", kwargs={"pk": ready.pk}))

    assert response.status_code == 403
    assert not ModelVersion.objects.filter(challenger=True).exists()


def test_another_organisations_admin_finds_no_such_version(other_admin_client, scored_world):
    ready = ModelVersionFactory(version=5)

    response = other_admin_client.post(reverse("detection:version_challenge", kwargs={"pk": ready.pk}))

    assert response.status_code == 404
    assert not ModelVersion.objects.filter(challenger=True).exists()


def test_the_section_costs_the_same_queries_however_many_transactions_both_scored(
    viewer_client, champion_and_challenger, frozen_now
):
    champion, challenger = champion_and_challenger
    viewer_client.get(URL)  # the session's and permissions' first reads out of the way
    risk_policy_invalidate()  # the policy in force is read in both (it is cached for a while per process)
    with CaptureQueriesContext(connection) as before:
        viewer_client.get(URL)
    for k in range(40):
        shadow(labelled_score(champion, 0.3, 0, at=frozen_now), 0.2 + k / 100, challenger)

    risk_policy_invalidate()
    with CaptureQueriesContext(connection) as after:
        response = viewer_client.get(URL)

    assert response.context["shadow"].scored == 80
    assert len(after) == len(before) <= EXPECTED_QUERIES + 2  # the pairs, their transactions
