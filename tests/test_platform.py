import pytest
from django.urls import reverse

from accounts.models import PartnerToken
from accounts.services import partner_token_authenticate, partner_token_revoke


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Log in" in response.content


@pytest.mark.django_db
def test_partner_token_is_stored_hashed_and_revocable(partner_token):
    token, secret = partner_token
    stored = PartnerToken.objects.get(pk=token.pk)
    assert secret not in (stored.key_hash, stored.key_prefix)
    assert partner_token_authenticate(secret) == stored
    partner_token_revoke(token=stored)
    assert partner_token_authenticate(secret) is None


@pytest.mark.django_db
def test_healthz_reports_each_dependency(client):
    response = client.get("/healthz")
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert set(body["checks"]) == {"database", "redis", "model"}


def test_docker_compose_runs_the_steps_make_run_runs():
    """No Docker engine runs here: the compose file is checked against the Makefile's `make run` instead."""
    import re
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    makefile = (root / "Makefile").read_text()
    recipes = {m[1]: m[2] for m in re.finditer(r"^([\w-]+):[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M)}
    steps = re.findall(r"manage\.py (\w+)", recipes["db"] + recipes["run"])
    assert steps == ["migrate", "collectstatic", "demo_setup", "runstack"]

    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    web = services["web"]["command"]
    assert re.findall(r"manage\.py (\w+)", web) == steps[:-1]  # runstack's two processes are the two services
    assert "daphne" in web and "anomaly_site.asgi:application" in web
    worker = services["worker"]["command"].split()
    assert worker[:4] == ["celery", "-A", "anomaly_site", "worker"] and "-B" in worker
    assert {"db", "redis"} <= set(services)
