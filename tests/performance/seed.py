"""Moved to tests/detection/performance/seed.py; kept only for tests/e2e/test_e2e_performance.py's import."""

from tests.detection.performance.seed import seed_performance  # noqa: F401
