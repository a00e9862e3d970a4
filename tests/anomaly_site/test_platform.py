"""The site around the apps: its health check, and docker-compose running what `make run` runs."""

import pytest


@pytest.mark.django_db
def test_healthz_reports_each_dependency(client):
    response = client.get("/healthz")
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert set(body["checks"]) == {"database", "redis", "model", "streaming"}


def test_docker_compose_runs_the_steps_make_run_runs():
    """No Docker engine runs here: the compose file is checked against the Makefile's `make run` instead."""
    import re
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    makefile = (root / "Makefile").read_text()
    recipes = {m[1]: m[2] for m in re.finditer(r"^([\w-]+):[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M)}
    steps = re.findall(r"manage\.py (\w+)", recipes["db"] + recipes["run"])
    assert steps == ["migrate", "collectstatic", "demo_setup", "runstack"]

    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    web = services["web"]["command"]
    # runstack's two processes are the two services: the web server `manage.py serve` starts, and the worker
    assert re.findall(r"manage\.py (\w+)", web) == [*steps[:-1], "serve"]
    worker = services["worker"]["command"].split()
    assert worker[:4] == ["celery", "-A", "anomaly_site", "worker"] and "-B" in worker
    assert {"db", "redis"} <= set(services)
