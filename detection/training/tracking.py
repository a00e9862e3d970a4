"""MLflow tracking of training runs, when MLFLOW_TRACKING_URI is set: each trained version is one run, in the
experiment of its organisation, with its parameters, metrics, training window and artifact. PostgreSQL stays the
registry of record: the version only keeps the run's id and link.

Nothing needs MLflow: the import is guarded (requirements/mlflow.txt installs it), and a tracking server that does
not answer costs a warning and a few seconds (MLflow's own retries are shortened unless MLFLOW_HTTP_REQUEST_* are
set), never the training.
"""

import json
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from detection.models import ModelVersion

logger = logging.getLogger(__name__)

# MLflow retries an unanswered request 7 times with a doubling backoff (minutes); a training waits this instead.
MLFLOW_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
PARAM_VALUE_CHARS = 6000  # MLflow's limit for one parameter's value


@dataclass(frozen=True)
class TrackedRun:
    run_id: str
    experiment_id: str
    url: str


def tracking_enabled() -> bool:
    return bool(settings.MLFLOW_TRACKING_URI)


def training_run_log(*, version: ModelVersion, requested: dict | None = None) -> TrackedRun | None:
    """Log a trained (not yet saved) version as an MLflow run; None when tracking is off or MLflow fails."""
    if not tracking_enabled():
        return None
    try:
        return _log(version, requested or {})
    except ImportError as exc:
        logger.warning(
            "MLFLOW_TRACKING_URI is set but MLflow is not installed (pip install -r requirements/mlflow.txt)",
            extra={"version": version.version, "error": f"{type(exc).__name__}: {exc}"[:500]},
        )
        return None
    except Exception as exc:  # noqa: BLE001 - tracking is a copy for data scientists; training must go on
        logger.warning(
            "MLflow tracking failed; the version is saved without a run",
            extra={"version": version.version, "error": f"{type(exc).__name__}: {exc}"[:500]},
        )
        return None


def _log(version: ModelVersion, requested: dict) -> TrackedRun:
    for name, value in MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=settings.MLFLOW_TRACKING_URI)
    experiment_id = _experiment_id(client, experiment_name(version))
    run = client.create_run(experiment_id, run_name=f"v{version.version}", tags=run_tags(version))
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        params=[Param(key, value) for key, value in run_params(version, requested).items()],
        metrics=[Metric(key, value, now, 0) for key, value in run_metrics(version).items()],
        tags=[RunTag("sentinel.training_window", _window(version))],
    )
    with tempfile.TemporaryDirectory() as folder:
        _artifact_files(version, Path(folder))
        client.log_artifacts(run_id, folder, artifact_path="model")
    client.set_terminated(run_id, "FINISHED")
    return TrackedRun(run_id=run_id, experiment_id=experiment_id, url=run_url(experiment_id, run_id))


def experiment_name(version: ModelVersion) -> str:
    """One experiment per organisation: organisations share nothing, their runs neither."""
    return f"{settings.MLFLOW_EXPERIMENT_PREFIX}/{version.organisation.name}"


def _experiment_id(client, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    return experiment.experiment_id if experiment is not None else client.create_experiment(name)


def run_tags(version: ModelVersion) -> dict[str, str]:
    return {
        "sentinel.organisation": version.organisation.name,
        "sentinel.model_version": str(version.version),
        "sentinel.artifact_format": str(version.artifact_format),
        "mlflow.source.name": "sentinel",
    }


def run_params(version: ModelVersion, requested: dict) -> dict[str, str]:
    """The detector's parameters, its algorithms and features, and the training window (asked for and found)."""
    params = {f"detector.{key}": value for key, value in version.parameters.items()}
    params |= {
        "algorithms": ",".join(version.algorithms),
        "feature_count": len(version.feature_names),
        "training_start": version.training_start.isoformat() if version.training_start else "",
        "training_end": version.training_end.isoformat() if version.training_end else "",
        "training_rows": version.training_rows,
        "labelled_rows": version.labelled_rows,
    }
    params |= {f"requested.{key}": value for key, value in requested.items() if value is not None}
    return {key: _text(value)[:PARAM_VALUE_CHARS] for key, value in params.items()}


def run_metrics(version: ModelVersion) -> dict[str, float]:
    """The version's numeric metrics, nested ones named by their path (`quality.auc`)."""
    metrics: dict[str, float] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            metrics[prefix] = float(value)

    walk("", version.metrics)
    return metrics


def run_url(experiment_id: str, run_id: str) -> str:
    """The run's page in the MLflow UI (MLFLOW_UI_URL, else the tracking URI when it is a server); "" for none."""
    base = settings.MLFLOW_UI_URL or settings.MLFLOW_TRACKING_URI
    if not base.startswith(("http://", "https://")):
        return ""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def _window(version: ModelVersion) -> str:
    start = version.training_start.isoformat() if version.training_start else "?"
    end = version.training_end.isoformat() if version.training_end else "?"
    return f"{start} – {end}"


def _artifact_files(version: ModelVersion, folder: Path) -> None:
    """The artifact as Sentinel stores it, and a description to read it by."""
    (folder / "detector.bin").write_bytes(bytes(version.artifact or b""))
    description = {
        "organisation": version.organisation.name,
        "version": version.version,
        "artifact_format": version.artifact_format,
        "algorithms": version.algorithms,
        "feature_names": version.feature_names,
        "parameters": version.parameters,
        "metrics": version.metrics,
        "training_start": version.training_start.isoformat() if version.training_start else None,
        "training_end": version.training_end.isoformat() if version.training_end else None,
        "training_rows": version.training_rows,
        "labelled_rows": version.labelled_rows,
    }
    (folder / "model_version.json").write_text(json.dumps(description, indent=2, default=str))


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return json.dumps(value, default=str)
