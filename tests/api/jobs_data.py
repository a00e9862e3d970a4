"""Moved to tests/detection/jobs/jobs_data.py; kept only for tests/e2e/test_e2e_uploads.py's import until it changes."""

from tests.detection.jobs.jobs_data import job_frame  # noqa: F401
