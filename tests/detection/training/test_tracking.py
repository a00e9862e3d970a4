"""MLflow tracking of training runs against a local file store (tmp_path): what a run holds, the version's link to
it, and that training never needs MLflow (off, not installed, or not answering)."""

import logging
import socket
import sys

import pytest
from django.urls import reverse

from detection.models import ModelVersion
from detection.training import services as training
from tests.detection.conftest import store_history
from tests.factories import ModelVersionFactory, default_organisation

UI = "http://mlflow.example:5000"


@pytest.fixture
def history(db):
    """Enough to train on (the training tests' larger history is not needed here)."""
    return store_history(accounts=12, days=8)


@pytest.fixture
def tracking_store(tmp_path, settings, monkeypatch):
    """A file store under tmp_path (MLflow 3 asks to be told that a file store is meant)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    settings.MLFLOW_TRACKING_URI = (tmp_path / "mlruns").as_uri()
    settings.MLFLOW_UI_URL = UI
    return settings.MLFLOW_TRACKING_URI


def _train() -> ModelVersion:
    return training.model_version_train(organisation=default_organisation(), seed=0)


def _client(uri):
    from mlflow.tracking import MlflowClient  # requirements/mlflow.txt, part of requirements/dev.txt

    return MlflowClient(tracking_uri=uri)


def test_a_training_run_logs_parameters_metrics_window_and_artifact(history, tracking_store):
    version = _train()

    run = _client(tracking_store).get_run(version.mlflow_run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == f"v{version.version}"
    assert run.data.params["detector.n_estimators"] == str(version.parameters["n_estimators"])
    assert run.data.params["training_start"] == version.training_start.isoformat()
    assert run.data.params["training_end"] == version.training_end.isoformat()
    assert run.data.params["training_rows"] == str(version.training_rows)
    assert run.data.metrics["training_seconds"] == pytest.approx(version.metrics["training_seconds"])
    assert run.data.tags["sentinel.organisation"] == default_organisation().name


def test_the_run_holds_the_artifact_as_stored(history, tracking_store, tmp_path):
    version = _train()

    client = _client(tracking_store)
    path = client.download_artifacts(version.mlflow_run_id, "model/detector.bin", str(tmp_path / "down"))
    with open(path, "rb") as artifact:
        assert artifact.read() == bytes(version.artifact)


def test_the_version_records_the_run_and_links_to_its_page(history, tracking_store):
    version = ModelVersion.objects.get(pk=_train().pk)

    run = _client(tracking_store).get_run(version.mlflow_run_id)
    experiment = _client(tracking_store).get_experiment(run.info.experiment_id)
    assert experiment.name == f"sentinel/{default_organisation().name}"
    assert version.mlflow_run_url == f"{UI}/#/experiments/{run.info.experiment_id}/runs/{version.mlflow_run_id}"


def test_without_a_tracking_uri_nothing_is_logged(history, settings):
    settings.MLFLOW_TRACKING_URI = ""

    version = _train()

    assert (version.status, version.mlflow_run_id, version.mlflow_run_url) == ("ready", "", "")


def test_a_tracking_server_that_does_not_answer_costs_a_warning_not_the_training(
    history, settings, monkeypatch, caplog
):
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.MLFLOW_TRACKING_URI = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    with caplog.at_level(logging.WARNING, logger="detection.training.tracking"):
        version = _train()

    assert ModelVersion.objects.get(pk=version.pk).status == "ready"
    assert version.mlflow_run_id == ""
    assert "MLflow tracking failed" in caplog.text


def test_without_mlflow_installed_training_goes_on(history, tracking_store, monkeypatch, caplog):
    for name in ("mlflow", "mlflow.entities", "mlflow.tracking"):
        monkeypatch.setitem(sys.modules, name, None)

    with caplog.at_level(logging.WARNING, logger="detection.training.tracking"):
        version = _train()

    assert (version.status, version.mlflow_run_id) == ("ready", "")
    assert "MLflow is not installed" in caplog.text


def test_the_performance_page_links_each_version_to_its_run(analyst_client):
    url = f"{UI}/#/experiments/1/runs/abc123"
    ModelVersionFactory(mlflow_run_id="abc123", mlflow_run_url=url)

    response = analyst_client.get(reverse("detection:performance"))

    assert response.status_code == 200
    assert f'href="{url}"' in response.content.decode()


def test_the_admin_links_a_version_to_its_run(client, admin_user):
    url = f"{UI}/#/experiments/1/runs/abc123"
    version = ModelVersionFactory(mlflow_run_id="abc123", mlflow_run_url=url)
    client.force_login(admin_user)

    page = client.get(reverse("admin:detection_modelversion_change", args=[version.pk])).content.decode()

    assert f'href="{url}"' in page
