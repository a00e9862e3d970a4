"""The web server every way of running Sentinel starts (`make run`, `make web`, docker-compose, the browser tests):
gunicorn managing uvicorn workers on the one ASGI application (pages, the partner API and websockets), one worker
per core, each with a pool of open database connections. Chosen by measurement against daphne, uvicorn's own
process manager and granian (bench/api_bench.py; docs/benchmarks.md)."""

import os
import shutil
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def default_workers() -> int:
    """WEB_WORKERS, else one per core this process may run on."""
    configured = os.environ.get("WEB_WORKERS")
    if configured:
        return max(1, int(configured))
    return max(1, len(os.sched_getaffinity(0)))


def web_command(*, host: str, port: int, workers: int | None = None) -> list[str]:
    """The command line of the web server, with this interpreter's gunicorn."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    access_log = os.environ.get("WEB_ACCESS_LOG")  # "-" for stdout; none by default (the app logs requests itself)
    return [
        *(str(gunicorn), "anomaly_site.asgi:application"),
        *("--worker-class", "uvicorn_worker.UvicornWorker"),
        *("--workers", str(workers or default_workers())),
        *("--bind", f"{host}:{port}"),
        # A worker busy with a large batch or a model load must not be killed as stuck; websockets stay open.
        *("--timeout", os.environ.get("WEB_TIMEOUT", "120")),
        *("--graceful-timeout", "20"),
        *("--log-level", os.environ.get("WEB_LOG_LEVEL", "warning")),
        *(("--access-logfile", access_log) if access_log else ()),
        "--no-control-socket",  # gunicorn's one per user at a fixed path: several servers on a machine would share it
    ]


def web_environment(environ: dict[str, str] | None = None, *, workers: int = 1) -> dict[str, str]:
    """The server's environment: a pool of database connections in each worker unless DB_POOL says otherwise; with
    several workers, a fresh PROMETHEUS_MULTIPROC_DIR (var/metrics-web/) unless one is set, so that /metrics, whichever
    worker answers, counts the requests of them all."""
    environ = dict(os.environ if environ is None else environ)
    environ.setdefault("DB_POOL", "1")
    if workers > 1 and not environ.get("PROMETHEUS_MULTIPROC_DIR"):
        directory = BASE_DIR / "var" / "metrics-web"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return environ
