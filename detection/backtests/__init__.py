"""Backtests: a labelled file replayed through the engine, its report and its pages."""
