"""The performance page costs a fixed number of queries, however much history there is."""

from datetime import timedelta

from django.urls import reverse

from tests.detection.performance.conftest import labelled_score

URL = reverse("detection:performance")
# Session, user and the request's organisation, the user's permissions (2), versions, policy, labelled scores,
# confusion, volume, alerts, outcomes, the explorer's traffic, labelled confusion and histogram, the challenger (none
# here), and the header's organisation chooser.
EXPECTED_QUERIES = 17


def test_page_queries_are_constant(viewer_client, scored_world, django_assert_num_queries):
    with django_assert_num_queries(EXPECTED_QUERIES):
        response = viewer_client.get(URL)
    assert response.status_code == 200


def test_page_queries_stay_constant_with_more_history(
    viewer_client, scored_world, frozen_now, django_assert_num_queries
):
    for day in range(20):
        for value, label in ((0.2, 0), (0.97, 1), (0.96, 0)):
            labelled_score(scored_world, value, label, at=frozen_now - timedelta(days=day))

    with django_assert_num_queries(EXPECTED_QUERIES):
        response = viewer_client.get(URL)
    assert response.status_code == 200
