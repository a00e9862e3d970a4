"""Backtests for people: a labelled file mapped, a run queued, the task body run, the report read."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.services import ANALYST
from detection.backtests import services as backtests
from detection.backtests.report import report_context
from detection.backtests.tasks import backtest_run_task
from detection.models import BacktestRun
from tests.conftest import work_in
from tests.detection.backtests.backtest_data import labelled_frame
from tests.factories import BacktestRunFactory, UserFactory, default_organisation

INDEX = reverse("detection:backtests")
OPTIONS = {
    "train_days": 7,
    "delay_days": 1,
    "test_days": 3,
    "folds": 1,
    "feedback": "none",
    "reviews_per_day": 20,
    "label_delay_days": 2,
    "seed": 0,
}
MAPPING = {"timestamp": "tx_datetime", "account_id": "customer_id", "merchant_id": "terminal_id", "amount": "tx_amount"}


@pytest.fixture(scope="module")
def labelled_csv() -> bytes:
    return labelled_frame().to_csv(index=False).encode()


def setup_url(client, content: bytes) -> str:
    response = client.post(INDEX, {"file": SimpleUploadedFile("labelled.csv", content, content_type="text/csv")})
    assert response.status_code == 302
    return response["Location"]


def form_data(**changes) -> dict:
    mapping = {f"map_{field}": column for field, column in MAPPING.items()}
    return mapping | {"map_transaction_id": "tx_id", "label_column": "tx_fraud"} | OPTIONS | changes


def test_setup_form_guesses_the_mapping_and_the_label(analyst_client, labelled_csv):
    url = setup_url(analyst_client, labelled_csv)

    response = analyst_client.get(url)

    form = response.context["form"]
    assert response.status_code == 200
    assert {name: form[f"map_{name}"].initial for name in MAPPING} == MAPPING
    assert form["label_column"].initial == "tx_fraud"


def test_setup_needs_a_label_column(analyst_client, labelled_csv):
    url = setup_url(analyst_client, labelled_csv)

    response = analyst_client.post(url, form_data(label_column=""))

    assert response.status_code == 200
    assert response.context["form"].errors["label_column"]
    assert not BacktestRun.objects.exists()


def test_confirmed_setup_queues_a_run(analyst_client, analyst, labelled_csv, django_capture_on_commit_callbacks):
    url = setup_url(analyst_client, labelled_csv)

    with django_capture_on_commit_callbacks() as callbacks:
        response = analyst_client.post(url, form_data())

    run = BacktestRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("detection:backtest", kwargs={"pk": run.pk})
    assert run.organisation == default_organisation()
    assert (run.status, run.label_column, run.created_by, run.options["test_days"]) == (
        "pending",
        "tx_fraud",
        analyst,
        3,
    )
    assert run.mapping == MAPPING | {"transaction_id": "tx_id"}
    assert len(callbacks) == 1


def test_viewer_may_not_run_backtests(client, viewer):
    client.force_login(viewer)

    response = client.get(INDEX)

    assert response.status_code == 403


def test_another_analysts_run_is_not_found(analyst_client, second_analyst):
    run = BacktestRunFactory(created_by=second_analyst)

    response = analyst_client.get(reverse("detection:backtest", kwargs={"pk": run.pk}))

    assert response.status_code == 404


def test_pending_run_page_polls_for_its_report(analyst_client, analyst):
    run = BacktestRunFactory(created_by=analyst, options=OPTIONS)

    response = analyst_client.get(reverse("detection:backtest", kwargs={"pk": run.pk}))

    assert response.status_code == 200
    assert 'hx-trigger="every 3s"' in response.content.decode()


def test_a_run_already_taken_is_not_run_twice(analyst):
    run = BacktestRunFactory(created_by=analyst, status=BacktestRun.Status.RUNNING)
    BacktestRun.objects.filter(pk=run.pk).update(started_at=run.created_at)

    assert backtests.backtest_run_execute(run_id=run.pk) is None
    run.refresh_from_db()
    assert run.status == "running"


def test_a_file_that_does_not_fit_fails_the_run_with_its_reason(analyst_client, analyst, labelled_csv):
    analyst_client.post(setup_url(analyst_client, labelled_csv), form_data(map_transaction_id="", map_amount="tx_id"))
    run = BacktestRun.objects.get()

    backtests.backtest_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error.startswith("ValueError")


def test_backtest_runs_end_to_end_and_reports_every_model(analyst_client, labelled_csv):
    analyst_client.post(setup_url(analyst_client, labelled_csv), form_data())
    run = BacktestRun.objects.get()

    outcome = backtest_run_task.run(run.pk)
    response = analyst_client.get(reverse("detection:backtest", kwargs={"pk": run.pk}))

    run.refresh_from_db()
    assert outcome == "done" and response.status_code == 200
    assert run.status == "done", run.error
    assert set(run.result["models"]) >= {"isolation_forest", "autoencoder", "ensemble"}
    assert len(run.result["per_day"]) == 3
    content = response.content.decode()
    # The metrics and per-day charts, and the ROC and precision-recall curves the backtest now carries.
    assert 'id="metrics-table"' in content and content.count("<svg") == 4
    assert run.result["curves"]["ensemble"]["roc"]


def test_report_puts_the_ensemble_first_shares_ties_and_draws_given_curves(analyst):
    figures = dict.fromkeys(("roc_auc", "average_precision", "card_precision_at_100"), 0.5)
    curve = {"roc": [[0, 0], [0.2, 0.7], [1, 1]], "pr": [[0, 1], [0.5, 0.6], [1, 0.1]]}
    result = {
        "models": {"autoencoder": figures | {"roc_auc": 0.9}, "ensemble": figures | {"roc_auc": 0.9}, "tail": figures},
        "per_day": [{"day": "2026-02-09", "rows": 10, "frauds": 1} | figures],
        "curves": {"ensemble": curve, "autoencoder": curve},
    }
    run = BacktestRunFactory(created_by=analyst, status=BacktestRun.Status.DONE, result=result)

    report = report_context(run)

    assert [name for name, _ in report["rows"]] == ["ensemble", "autoencoder", "tail"]
    assert report["best"]["roc_auc"] == ["ensemble", "autoencoder"]
    assert report["curves_svg"]["roc"].count("<polyline") == 2


# ------------------------------------------------------------------ organisations


def test_another_organisations_run_is_not_found_even_by_those_who_see_every_run(other_admin_client, analyst):
    run = BacktestRunFactory(created_by=analyst)

    assert other_admin_client.get(reverse("detection:backtest", kwargs={"pk": run.pk})).status_code == 404


def test_a_member_of_two_organisations_lists_and_opens_a_run_only_in_its_organisation(
    client, organisation, other_organisation
):
    member = UserFactory(username="dora", roles=[ANALYST], organisations=[organisation, other_organisation])
    run = BacktestRunFactory(organisation=other_organisation, created_by=member, options=OPTIONS)
    client.force_login(member)
    url = reverse("detection:backtest", kwargs={"pk": run.pk})

    work_in(client, organisation)
    assert client.get(url).status_code == 404
    assert list(client.get(INDEX).context["runs"]) == []

    work_in(client, other_organisation)
    assert client.get(url).status_code == 200
    assert list(client.get(INDEX).context["runs"]) == [run]


@pytest.fixture(scope="module")
def labelled_csv_with_extras() -> bytes:
    """The labelled file with the prototype's give-away column, a random split and an honest extra column."""
    frame = labelled_frame()
    rows = len(frame)
    frame["anomaly_type"] = frame["tx_fraud"] * 2
    frame["split"] = ["train", "val", "test", "train"] * (rows // 4) + ["train"] * (rows % 4)
    frame["hour"] = [n % 24 for n in range(rows)]
    return frame.to_csv(index=False).encode()


def test_setup_form_ticks_no_extra_column_as_a_feature(analyst_client, labelled_csv_with_extras):
    response = analyst_client.get(setup_url(analyst_client, labelled_csv_with_extras))

    assert response.context["form"]["attributes"].initial is None
    assert "checked" not in str(response.context["form"]["attributes"])


def test_a_column_that_gives_the_label_away_is_refused_as_a_feature_naming_it(analyst_client, labelled_csv_with_extras):
    url = setup_url(analyst_client, labelled_csv_with_extras)

    response = analyst_client.post(url, form_data(attributes=["anomaly_type", "hour"]))

    assert response.status_code == 200
    (error,) = response.context["form"].errors["attributes"]
    assert error.startswith("Column 'anomaly_type' predicts the label 'tx_fraud' almost perfectly")
    assert "anomaly_type" in response.content.decode()
    assert not BacktestRun.objects.exists()


def test_honest_extra_columns_are_accepted_as_features(analyst_client, labelled_csv_with_extras):
    url = setup_url(analyst_client, labelled_csv_with_extras)

    response = analyst_client.post(url, form_data(attributes=["hour"]))

    assert response.status_code == 302
    assert BacktestRun.objects.get().attributes == ["hour"]
