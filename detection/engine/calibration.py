"""Quantile calibration: a raw model output becomes the share of training traffic it is stranger than.

A calibrated 0.99 means "more unusual than 99% of the transactions the model was trained on", for every model,
so scores of different models are comparable and risk thresholds keep their meaning across model versions.
Beyond the training maximum the score keeps rising (exponentially towards 1) so the top stays ordered.
"""

from __future__ import annotations

import numpy as np

_BODY = np.linspace(0.0, 0.99, 991)
_TAIL = 1.0 - np.logspace(-2, -5, 61)[1:]


class QuantileCalibrator:
    def __init__(self, reference: np.ndarray):
        reference = np.asarray(reference, dtype=np.float64)
        levels = np.concatenate([_BODY, _TAIL])
        levels = levels[levels <= 1.0 - 0.5 / len(reference)]
        knots = np.quantile(reference, levels)
        keep = np.concatenate([[True], np.diff(knots) > 0])
        self.knots, self.levels = knots[keep], levels[keep]
        top = self.knots[-1]
        below = self.knots[np.searchsorted(self.levels, 0.99, side="right") - 1]
        self.tail_scale = max(top - below, 1e-12)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        q = np.interp(raw, self.knots, self.levels)
        top_level = self.levels[-1]
        beyond = raw > self.knots[-1]
        q[beyond] = 1.0 - (1.0 - top_level) * np.exp(-(raw[beyond] - self.knots[-1]) / self.tail_scale)
        return q


def surprise(q: np.ndarray) -> np.ndarray:
    """-log(1 - q): 0 for ordinary traffic, 4.6 at the 99th percentile, 9.2 at 1 in 10,000."""
    return -np.log1p(-np.minimum(q, 1.0 - 1e-15))
