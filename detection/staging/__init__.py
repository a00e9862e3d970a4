"""Staging for the upload pages: a file kept for its person while its columns are mapped, then handed to a scoring
job (detection.jobs) or a backtest (detection.backtests)."""
