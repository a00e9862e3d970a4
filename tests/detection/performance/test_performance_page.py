"""Who may read the model-performance page, and what it shows with and without labels."""

from datetime import timedelta

import pytest
from django.urls import reverse

from detection.models import ModelVersion, Score
from tests.detection.performance.conftest import labelled_score
from tests.factories import (
    AlertRuleFactory,
    ModelVersionFactory,
    ScoreFactory,
    SourceFactory,
    TransactionFactory,
)

URL = reverse("detection:performance")


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_outsider_is_refused(client, outsider):
    client.force_login(outsider)

    response = client.get(URL)

    assert response.status_code == 403


def test_viewer_reads_curves_and_confusion_matrix(viewer_client, scored_world):
    response = viewer_client.get(URL)

    assert response.status_code == 200
    quality = response.context["quality"]
    assert quality["labelled"].count == 5
    assert (quality["confusion"].tp, quality["confusion"].fp, quality["confusion"].fn, quality["confusion"].tn) == (
        2,
        0,
        1,
        2,
    )
    assert b'data-series="ensemble"' in response.content


def test_analyst_reads_the_page(analyst_client, scored_world):
    response = analyst_client.get(URL)

    assert response.status_code == 200
    assert response.context["version"] == scored_world


def test_viewer_sees_no_save_button(viewer_client, scored_world):
    response = viewer_client.get(URL)

    assert response.status_code == 200
    assert b'id="threshold-save"' not in response.content
    assert response.context["can_save"] is False


def test_admin_sees_save_button(admin_client, scored_world):
    response = admin_client.get(URL)

    assert response.status_code == 200
    assert b'id="threshold-save"' in response.content


def test_page_says_so_when_no_labels_exist(viewer_client, policy):
    version = ModelVersionFactory(status=ModelVersion.Status.ACTIVE)
    ScoreFactory(model_version=version, transaction=TransactionFactory())

    response = viewer_client.get(URL)

    assert response.status_code == 200
    assert b'id="no-labels"' in response.content
    assert b"No labels yet for v" in response.content
    assert response.context["quality"]["curves"] == []


def test_page_without_any_model_version_explains_what_to_do(viewer_client, policy):
    response = viewer_client.get(URL)

    assert response.status_code == 200
    assert b"No model version yet" in response.content


def test_earlier_version_is_shown_when_picked(viewer_client, scored_world):
    earlier = ModelVersionFactory(status=ModelVersion.Status.RETIRED, version=2)

    response = viewer_client.get(URL, {"version": 2})

    assert response.status_code == 200
    assert response.context["version"] == earlier
    assert response.context["quality"]["labelled"].count == 0


def test_every_chart_comes_with_its_table(viewer_client, scored_world):
    response = viewer_client.get(URL)

    content = response.content.decode()
    assert response.status_code == 200
    assert content.count("<svg") == 5  # ROC, PR, precision per day, volume per day, explorer curve
    assert content.count('<details class="numbers">') == 5


# ------------------------------------------------------------------ organisations


def alert_on(score: Score) -> None:
    from alerts.models import Alert

    Alert.objects.create(rule=AlertRuleFactory(), transaction=score.transaction, score=score)


def test_another_organisations_page_shows_nothing_of_its_versions_scores_alerts_or_outcomes(
    client, other_analyst, scored_world
):
    alert_on(Score.objects.filter(model_version=scored_world).order_by("-score").first())
    client.force_login(other_analyst)

    response = client.get(URL, {"version": scored_world.version})

    assert response.status_code == 200
    assert (response.context["versions"], response.context["version"], response.context["quality"]) == ([], None, None)
    daily = response.context["daily"]
    assert sum(row.alerts + row.flagged + row.scored for row in daily["rows"]) == 0
    assert not daily["any_outcome"]
    assert b"No model version yet" in response.content


def test_each_organisation_reads_its_own_version_of_the_same_number(
    client, other_analyst, other_organisation, scored_world, frozen_now
):
    theirs = ModelVersionFactory(organisation=other_organisation, version=3, status=ModelVersion.Status.ACTIVE)
    source = SourceFactory(organisation=other_organisation, name="their-bank")
    tx = TransactionFactory(source=source, label=1, label_source="review", labelled_at=frozen_now)
    Score.objects.filter(pk=ScoreFactory(transaction=tx, model_version=theirs, score=0.97).pk).update(
        created_at=frozen_now - timedelta(hours=1)
    )
    client.force_login(other_analyst)

    response = client.get(URL)

    assert response.context["versions"] == [theirs]
    assert response.context["quality"]["labelled"].count == 1  # not the test organisation's five
    assert [row.scored for row in response.context["daily"]["rows"]][-1] == 1
    assert response.context["explorer"]["totals"]["scored"] == 1


def test_the_organisations_own_alerts_are_counted(viewer_client, scored_world, frozen_now):
    alert_on(labelled_score(scored_world, 0.999, 1, at=frozen_now))

    response = viewer_client.get(URL)

    assert response.context["daily"]["rows"][-1].alerts == 1
