"""The model-performance PAGE (detection/performance/): its figures, charts, threshold explorer and queries.

These test a page, not speed: the speed figures are bench/'s (docs/benchmarks.md).
"""
