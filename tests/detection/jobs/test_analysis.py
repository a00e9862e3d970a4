"""An upload's analysis page: score distribution, flags by category, channel, merchant and day, the most frequent
reasons, a filterable table of its rows and their CSV, and a warning when the file looks unlike the training data."""

import csv
import io

import pytest
from django.urls import reverse

from detection.jobs import analysis
from detection.models import Score, ScoringJob
from tests.detection.jobs.analysis_data import analysis_frame, finished_job
from tests.factories import UserFactory

pytestmark = pytest.mark.usefixtures("active_model")


@pytest.fixture
def job(organisation, analyst) -> ScoringJob:
    job = finished_job(organisation, analyst)
    assert job.status == "done" and job.processed_rows == 120
    return job


def url(job, **query) -> str:
    return reverse("detection:upload_job_analysis", kwargs={"pk": job.pk})


def csv_url(job) -> str:
    return reverse("detection:upload_job_analysis_csv", kwargs={"pk": job.pk})


def job_scores(job):
    return Score.objects.filter(transaction__source=job.source, transaction__transaction_id__startswith="A")


def test_the_page_draws_the_score_distribution_and_flags_by_category_channel_and_day(analyst_client, job):
    response = analyst_client.get(url(job))

    assert response.status_code == 200
    page = response.content.decode()
    for title in ("Score distribution", "Flags by category", "Flags by channel", "Flags by day"):
        assert f'aria-label="{title}"' in page
    found = response.context["analysis"]
    assert found.rows == 120 and found.scored == 120
    assert found.flagged == job_scores(job).filter(is_anomaly=True).count() > 0
    assert sum(n for _, n, _ in found.histogram) == 120


def test_flags_by_category_count_each_categorys_flagged_rows(analyst_client, job):
    by_category = {g["key"]: g for g in analyst_client.get(url(job)).context["analysis"].by_category}

    flagged = job_scores(job).filter(is_anomaly=True)
    for key, group in by_category.items():
        assert group["flagged"] == flagged.filter(transaction__merchant_category=key).count()
        assert group["rows"] == job_scores(job).filter(transaction__merchant_category=key).count()
    assert by_category["travel"]["flagged"] == 6 and by_category["travel"]["share"] == 1.0
    flags = [g["flagged"] for g in by_category.values()]
    assert flags == sorted(flags, reverse=True)  # the most flagged first


def test_flags_by_day_cover_every_day_of_the_file(analyst_client, job):
    days = analyst_client.get(url(job)).context["analysis"].by_day

    assert [d["key"] for d in days] == ["2026-03-11", "2026-03-12"]
    assert sum(d["rows"] for d in days) == 120


def test_the_most_frequent_reasons_count_like_reasons_together(analyst_client, job):
    reasons = analyst_client.get(url(job)).context["analysis"].reasons

    assert reasons
    assert all(not any(ch.isdigit() for ch in reason) for reason, _ in reasons)
    assert reasons[0][1] >= reasons[-1][1]


def test_the_table_lists_the_rows_with_links_to_their_transactions(analyst_client, job):
    response = analyst_client.get(url(job))

    assert response.context["matching"] == 120 and len(response.context["table"]) == 50
    first = response.context["table"][0]
    assert first["transaction_id"] == "A000000"
    assert reverse("review:transaction", kwargs={"pk": first["pk"]}) in response.content.decode()


def test_filters_keep_the_matching_rows(analyst_client, job):
    response = analyst_client.get(url(job), {"category": "travel", "flagged": "yes"})

    rows = response.context["table"]
    expected = job_scores(job).filter(is_anomaly=True, transaction__merchant_category="travel").count()
    assert response.context["matching"] == expected > 0
    assert {r["merchant_category"] for r in rows} == {"travel"} and all(r["flagged"] for r in rows)


def test_htmx_gets_the_table_alone(analyst_client, job):
    response = analyst_client.get(url(job), {"channel": "online"}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="analysis-rows">') and "Score distribution" not in page
    assert "6 rows match" in page and page.count('<td class="num">') == 6 * 3


def test_the_next_page_keeps_the_filters(analyst_client, job):
    response = analyst_client.get(url(job), {"channel": "in_person", "page": "2"})

    assert response.context["page"] == 2 and len(response.context["table"]) == 50
    assert "channel=in_person&page=3" in response.content.decode()


def test_a_bad_filter_is_refused_naming_the_field(analyst_client, job):
    response = analyst_client.get(url(job), {"min_score": "2"})

    assert response.status_code == 400
    assert "Score from: Ensure this value is less than or equal to 1." in response.content.decode()


def test_the_export_holds_the_filtered_rows(analyst_client, job):
    response = analyst_client.get(csv_url(job), {"category": "travel"})

    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[0][:3] == ["row", "transaction_id", "timestamp"]
    assert len(lines) == 1 + 6 and {line[5] for line in lines[1:]} == {"travel"}


def test_the_export_refuses_a_bad_filter_naming_it(analyst_client, job):
    response = analyst_client.get(csv_url(job), {"day": "yesterday"})

    assert response.status_code == 400
    assert "day: Enter a valid date." in response.content.decode()


def test_a_file_unlike_the_training_data_is_said_so_before_its_flags(organisation, analyst, analyst_client):
    job = finished_job(organisation, analyst, analysis_frame(scale=40.0))

    response = analyst_client.get(url(job))

    page = response.content.decode()
    drift = response.context["drift"]
    assert "amount_log" in dict(drift.shifted)
    assert 'id="drift-warning"' in page and "<code>amount_log</code>" in page
    assert page.index('id="drift-warning"') < page.index('id="category-card"')


def test_no_warning_when_no_feature_reaches_the_threshold(analyst_client, job, settings):
    settings.JOB_DRIFT_PSI_THRESHOLD = 1000.0

    response = analyst_client.get(url(job))

    assert response.context["drift"] is not None and not response.context["drift"].shifted
    assert 'id="drift-warning"' not in response.content.decode()


def test_too_few_rows_give_no_drift(organisation, analyst, analyst_client, settings):
    settings.JOB_DRIFT_MIN_ROWS = 500
    job = finished_job(organisation, analyst)

    assert analyst_client.get(url(job)).context["drift"] is None


def test_the_drift_is_that_of_every_feature_of_the_model(analyst_client, job, active_model):
    drift = analyst_client.get(url(job)).context["drift"]

    assert set(drift.psi) == set(active_model.feature_names)
    assert drift.rows == 120


def test_an_unfinished_job_says_its_analysis_comes_when_it_is_done(analyst_client, organisation, analyst):
    from detection.jobs import services as jobs
    from tests.detection.jobs.jobs_data import csv_upload

    job = jobs.scoring_job_create(
        source=jobs.upload_source(organisation=organisation), upload=csv_upload(analysis_frame(10)), user=analyst
    )

    response = analyst_client.get(url(job))

    assert response.status_code == 200 and 'id="analysis-not-ready"' in response.content.decode()
    assert analyst_client.get(csv_url(job)).status_code == 409


def test_the_job_page_links_to_its_analysis(analyst_client, job):
    response = analyst_client.get(reverse("detection:upload_job", kwargs={"pk": job.pk}))

    assert url(job) in response.content.decode()


def test_another_analysts_job_is_not_found(client, job):
    client.force_login(UserFactory(username="carol", roles=["analyst"]))

    assert client.get(url(job)).status_code == 404
    assert client.get(csv_url(job)).status_code == 404


def test_another_organisations_people_do_not_find_it(client, job, other_admin):
    client.force_login(other_admin)

    assert client.get(url(job)).status_code == 404


def test_viewers_may_not_open_uploads(client, job, viewer):
    client.force_login(viewer)

    assert client.get(url(job)).status_code == 403


def test_the_analysis_reads_at_most_job_analysis_max_rows(job, settings):
    settings.JOB_ANALYSIS_MAX_ROWS = 30

    rows = analysis.job_rows(job)

    assert len(rows) == 30 and rows["row"].tolist() == list(range(1, 31))
    assert analysis.job_analysis(job, rows).capped
