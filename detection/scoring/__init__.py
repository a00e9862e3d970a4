"""Scoring: rows to arrays and back, the history cache, the model registry, the scoring services and the partner
API's transaction endpoints (score, batch, labels, reads)."""
