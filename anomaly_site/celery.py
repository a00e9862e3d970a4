import logging
import os
import time

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anomaly_site.settings")

app = Celery("anomaly_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
logger = logging.getLogger(__name__)


@worker_process_init.connect
def _load_compiled_loops(**_kwargs) -> None:
    """Each pool process loads the engine's compiled loops (numba, about half a second) as it starts, not in its first
    job chunk's time."""
    from detection.engine import kernels

    kernels.warm_up()


# Metrics (core/metrics.py; deploy/grafana/): tasks by name and state with their run time, the queues' lengths, and
# with METRICS_PORT set a worker's own /metrics for Prometheus to scrape.

_task_started: dict[str, float] = {}


@task_prerun.connect
def _task_started_at(task_id=None, **_kwargs) -> None:
    _task_started[task_id] = time.perf_counter()


@task_postrun.connect
def _task_recorded(task_id=None, task=None, state=None, **_kwargs) -> None:
    from core import metrics

    started = _task_started.pop(task_id, None)
    seconds = time.perf_counter() - started if started is not None else None
    metrics.task_recorded(task=getattr(task, "name", "unknown"), state=(state or "unknown").lower(), seconds=seconds)


@worker_init.connect
def _serve_worker_metrics(**_kwargs) -> None:
    """METRICS_PORT: the worker serves /metrics on this port (set PROMETHEUS_MULTIPROC_DIR too, or the pool
    processes' counts are not in it)."""
    port = os.environ.get("METRICS_PORT")
    if port:
        from core.metrics import metrics_server_start

        metrics_server_start(int(port))


def celery_queues_gauge():
    """/metrics: the tasks waiting in each queue this project sends to, read from a Redis broker at scrape time."""
    import redis
    from django.conf import settings
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily("anomaly_celery_queue_length", "Tasks waiting in each Celery queue.", labels=["queue"])
    queues = sorted({app.conf.task_default_queue, *(q.name for q in app.conf.task_queues or ())})
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        timeout = settings.REDIS_TIMEOUT_SECONDS
        try:
            client = redis.Redis.from_url(
                settings.CELERY_BROKER_URL, socket_connect_timeout=timeout, socket_timeout=timeout
            )
            for queue in queues:
                family.add_metric([queue], client.llen(queue))
        except redis.RedisError as exc:
            logger.warning("could not read the Celery queues' lengths: %s", exc)
    yield family
