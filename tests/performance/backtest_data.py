"""Moved to tests/detection/backtests/backtest_data.py; kept only for tests/e2e/test_e2e_uploads.py's import."""

from tests.detection.backtests.backtest_data import labelled_frame  # noqa: F401
