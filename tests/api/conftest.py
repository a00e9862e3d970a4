"""Moved to tests/detection/conftest.py and tests/detection/jobs/conftest.py.

Kept only because tests/e2e/test_e2e_uploads.py still imports these fixtures from here: delete this package once it
imports them from their new places.
"""

from tests.detection.conftest import active_model, history, trained_model  # noqa: F401
from tests.detection.jobs.conftest import celery_worker_process  # noqa: F401
