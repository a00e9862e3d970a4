"""Promotion switches the active version in every process within a second: a second process, scoring as a web or
worker process does, sees a promotion made in this one."""

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from detection.models import ModelVersion
from detection.training.services import model_version_challenge, model_version_promote
from tests.factories import default_organisation

ROOT = Path(__file__).resolve().parents[3]
# A scoring process: asks the registry for the organisation's models as every score does (here every 5 ms), says when
# it holds the active version and the challenger, then when the active version changed, and when (wall clock).
WATCHER = """
import sys, time
import django
django.setup()
from detection.scoring import registry
organisation_id = int(sys.argv[1])
loaded, challenger = registry.models_in_force(organisation_id=organisation_id)
first = loaded.version.version
print("ready", first, challenger.version.version if challenger else None, flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    now = registry.active_model(organisation_id=organisation_id).version.version
    if now != first:
        print("switched", now, repr(time.time()), flush=True)
        break
    time.sleep(0.005)
"""


def this_runs_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def read_line(process: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"the watching process said nothing in {timeout} s"
    return process.stdout.readline().strip()


@pytest.mark.django_db(transaction=True)
def test_a_promotion_switches_the_active_version_of_another_process_within_a_second(trained_model):
    organisation = default_organisation()
    ModelVersion.objects.create(organisation=organisation, version=7, status="active", **trained_model)
    candidate = ModelVersion.objects.create(organisation=organisation, version=8, status="ready", **trained_model)
    model_version_challenge(version=candidate)
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "anomaly_site.test_settings",
        "DATABASE_URL": this_runs_database_url(),
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "LOG_LEVEL": "WARNING",
    }
    watcher = subprocess.Popen(
        [sys.executable, "-c", WATCHER, str(organisation.pk)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert read_line(watcher, timeout=180) == "ready 7 8"

        promoted_at = time.time()
        model_version_promote(version=candidate)  # commits at once here: the stamp is written after the commit
        switched = read_line(watcher, timeout=30).split()
    finally:
        watcher.kill()
        watcher.wait()

    assert switched[:2] == ["switched", "8"]
    assert float(switched[2]) - promoted_at < 1.0
