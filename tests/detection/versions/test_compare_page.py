"""Comparing a version with the active one before activating it: metrics, curves, flags per day and disagreements
on the same recent window, computed in memory; then a confirmed activation."""

import pytest
from django.urls import reverse

from alerts.models import AuditEvent
from detection.models import ModelVersion, Score
from tests.detection.versions.conftest import label
from tests.factories import ModelVersionFactory
from transactions.models import Transaction


def compare_url(version) -> str:
    return reverse("detection:version_compare", kwargs={"pk": version.pk})


def activate_url(version) -> str:
    return reverse("detection:version_activate", kwargs={"pk": version.pk})


def test_the_candidate_is_shown_beside_the_active_version_with_metrics_and_curves(
    admin_client, active_model, candidate, labelled, policy
):
    response = admin_client.get(compare_url(candidate))

    assert response.status_code == 200
    comparison = response.context["comparison"]
    assert [f.version.version for f in comparison.figures] == [7, 8]
    assert comparison.enough_labels and comparison.labelled == 40 and comparison.fraud == 10
    page = response.content.decode()
    assert page.count('data-metric="roc_auc"') == 2 and page.count('data-metric="average_precision"') == 2
    assert 'aria-label="ROC curve"' in page and 'aria-label="Precision–recall curve"' in page
    assert 'id="confirm-activate"' in page


def test_both_versions_score_the_same_rows_of_the_window(admin_client, active_model, candidate, policy):
    comparison = admin_client.get(compare_url(candidate)).context["comparison"]

    assert comparison.rows == Transaction.objects.count()
    assert [len(f.scores) for f in comparison.figures] == [comparison.rows, comparison.rows]


def test_too_few_labels_say_not_enough_labels_instead_of_metrics(admin_client, active_model, candidate, policy):
    stored = list(Transaction.objects.order_by("-amount"))
    label(stored[:3], 1)
    label(stored[50:60], 0)

    response = admin_client.get(compare_url(candidate))

    page = response.content.decode()
    assert 'id="not-enough-labels"' in page and "13 labelled (3 fraud)" in page
    assert 'data-metric="roc_auc"' not in page and 'aria-label="ROC curve"' not in page
    assert page.count('data-metric="flagged"') == 2


def test_labels_of_one_kind_only_are_not_enough(admin_client, active_model, candidate, policy):
    label(list(Transaction.objects.all()[:40]), 0)

    comparison = admin_client.get(compare_url(candidate)).context["comparison"]

    assert comparison.labelled == 40 and not comparison.enough_labels


def test_the_rows_scored_are_capped_at_compare_max_rows_keeping_the_newest(
    admin_client, active_model, candidate, policy, settings
):
    settings.COMPARE_MAX_ROWS = 50

    comparison = admin_client.get(compare_url(candidate)).context["comparison"]

    newest = list(Transaction.objects.order_by("-timestamp", "-id").values_list("timestamp", flat=True)[:50])
    assert comparison.rows == 50 and comparison.capped
    assert comparison.since == newest[-1] and comparison.until == newest[0]


def test_flags_per_day_count_each_versions_flags_at_the_threshold_in_force(
    admin_client, active_model, candidate, policy
):
    comparison = admin_client.get(compare_url(candidate)).context["comparison"]

    for k, figures in enumerate(comparison.figures):
        assert sum(counts[k] for _, counts in comparison.days) == figures.flagged
        assert figures.flagged == int((figures.scores >= policy.review_threshold).sum())
    assert len(comparison.days) == 10  # the history's ten days


def test_disagreements_are_the_rows_one_version_flags_and_the_other_does_not(
    admin_client, active_model, candidate, policy
):
    response = admin_client.get(compare_url(candidate))

    comparison = response.context["comparison"]
    assert comparison.disagreements, "the two versions should disagree on some rows"
    assert comparison.only_active + comparison.only_candidate >= len(comparison.disagreements)
    for row in comparison.disagreements:
        assert (row["active"] >= 0.9) != (row["candidate"] >= 0.9)
    first = comparison.disagreements[0]
    assert reverse("review:transaction", kwargs={"pk": first["pk"]}) in response.content.decode()


def test_comparing_stores_nothing(admin_client, active_model, candidate, labelled, policy):
    before = (Score.objects.count(), AuditEvent.objects.count(), list(ModelVersion.objects.values("pk", "status")))

    admin_client.get(compare_url(candidate))

    after = (Score.objects.count(), AuditEvent.objects.count(), list(ModelVersion.objects.values("pk", "status")))
    assert after == before


def test_a_version_trained_on_the_window_is_said_to_be_flattered(admin_client, active_model, candidate, policy):
    response = admin_client.get(compare_url(candidate))

    assert [v.version for v in response.context["comparison"].overlaps] == [8]  # v7's window is not recorded
    assert "flatter it" in response.content.decode()


def test_the_active_version_has_nothing_to_compare_with(admin_client, active_model):
    response = admin_client.get(compare_url(active_model))

    assert response.status_code == 200
    assert 'id="not-activatable"' in response.content.decode()
    assert 'id="confirm-activate"' not in response.content.decode()


def test_a_version_still_training_cannot_be_compared(admin_client, active_model):
    training = ModelVersionFactory(organisation=active_model.organisation, version=9, status="training")

    response = admin_client.get(compare_url(training))

    assert "only a trained version" in response.content.decode()
    assert "comparison" not in response.context


def test_confirming_activates_the_candidate_and_retires_the_active_one(admin_client, active_model, candidate):
    response = admin_client.post(activate_url(candidate), {"compared_with": active_model.pk})

    assert response.status_code == 302 and response["Location"] == reverse("detection:performance")
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {7: "retired", 8: "active"}
    assert AuditEvent.objects.filter(action="model.activate").count() == 1


def test_a_stale_comparison_is_not_confirmed(admin_client, active_model, candidate):
    response = admin_client.post(activate_url(candidate), {"compared_with": 999999})

    assert response["Location"] == compare_url(candidate)
    assert dict(ModelVersion.objects.values_list("version", "status")) == {7: "active", 8: "ready"}


def test_analysts_compare_but_may_not_activate(analyst_client, active_model, candidate, policy):
    page = analyst_client.get(compare_url(candidate))
    refused = analyst_client.post(activate_url(candidate), {"compared_with": active_model.pk})

    assert page.status_code == 200 and "Only admins may activate" in page.content.decode()
    assert refused.status_code == 403
    assert ModelVersion.objects.get(pk=candidate.pk).status == "ready"


def test_another_organisations_version_is_not_found(client, other_admin, active_model, candidate):
    client.force_login(other_admin)

    assert client.get(compare_url(candidate)).status_code == 404
    assert client.post(activate_url(candidate), {"compared_with": active_model.pk}).status_code == 404
    assert ModelVersion.objects.get(pk=candidate.pk).status == "ready"


def test_the_performance_page_links_ready_versions_to_their_comparison(admin_client, active_model, candidate):
    response = admin_client.get(reverse("detection:performance"))

    page = response.content.decode()
    assert compare_url(candidate) in page and "Compare and activate" in page
    assert compare_url(active_model) not in page


def test_the_admin_action_sends_to_the_comparison(admin_client, active_model, candidate):
    response = admin_client.post(
        reverse("admin:detection_modelversion_changelist"), {"action": "activate", "_selected_action": [candidate.pk]}
    )

    assert response["Location"] == compare_url(candidate)
    assert ModelVersion.objects.get(pk=candidate.pk).status == "ready"


def test_the_admin_action_on_a_version_of_another_organisation_than_the_one_worked_in_says_so(
    admin_client, other_organisation, trained_model
):
    theirs = ModelVersion.objects.create(organisation=other_organisation, version=3, status="ready", **trained_model)

    response = admin_client.post(
        reverse("admin:detection_modelversion_changelist"),
        {"action": "activate", "_selected_action": [theirs.pk]},
        follow=True,
    )

    assert "work in other-org" in response.content.decode()
    assert ModelVersion.objects.get(pk=theirs.pk).status == "ready"


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("detection:version_compare", kwargs={"pk": 1}))

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_admin_reads_the_scheduled_retrainings_comparison_on_the_versions_page(
    admin_client, active_model, candidate, policy
):
    check = {
        "metric": "average_precision",
        "margin": 0.01,
        "active_version": 7,
        "candidate_version": 8,
        "beats": False,
        "activated": False,
        "since": "2026-03-01T00:00:00+00:00",
        "until": "2026-03-08T00:00:00+00:00",
        "labelled": 120,
        "fraud": 12,
        "figures": {
            "active": {"average_precision": 0.61, "roc_auc": 0.9},
            "candidate": {"average_precision": 0.615, "roc_auc": 0.91},
        },
        "reason": "v8's average precision 0.615 does not beat v7's 0.61 by the margin 0.01: kept ready for an admin.",
    }
    ModelVersion.objects.filter(pk=candidate.pk).update(promotion_check=check)

    response = admin_client.get(compare_url(candidate))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="promotion-check"' in page
    assert "does not beat v7" in page and "0.615" in page
