import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anomaly_site.settings")

app = Celery("anomaly_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _load_compiled_loops(**_kwargs) -> None:
    """Each pool process loads the engine's compiled loops (numba, about half a second) as it starts, not in its first
    job chunk's time."""
    from detection.engine import kernels

    kernels.warm_up()
