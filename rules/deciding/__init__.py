"""The decision: each organisation's rules in force, cached per process, run over every scored batch
(`decide_batch`, which detection's scoring calls through `detection.scoring.deciding`), and /metrics' counts."""

from rules.deciding.services import decide_batch

__all__ = ["decide_batch"]
