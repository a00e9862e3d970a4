"""What ordinary traffic looks like, feature by feature: robust scaling for the models, rarity for the reasons."""

from __future__ import annotations

import numpy as np

from detection.engine.calibration import QuantileCalibrator, surprise
from detection.engine.kernels import reference_positions

REFERENCE_SIZE = 4096


class FeatureProfile:
    def __init__(self, X: np.ndarray, directions: np.ndarray, *, seed: int):
        X = np.asarray(X, dtype=np.float64)
        self.directions = directions
        self.median = np.median(X, axis=0)
        q25, q75 = np.percentile(X, [25, 75], axis=0)
        scale = (q75 - q25) / 1.349
        std = X.std(axis=0)
        self.scale = np.where(scale > 1e-9, scale, np.where(std > 1e-9, std, 1.0))
        rng = np.random.default_rng(seed)
        sample = X if len(X) <= REFERENCE_SIZE else X[rng.choice(len(X), REFERENCE_SIZE, replace=False)]
        self.reference = np.sort(sample, axis=0)

    def scaled(self, X: np.ndarray, *, one_sided: bool = True, clip: float = 20.0) -> np.ndarray:
        """Robust z-scores; with one_sided, the harmless side of a directed feature is flattened to 0."""
        z = np.asarray(X, dtype=np.float64) - self.median
        z /= self.scale
        low = np.where(one_sided & (self.directions > 0), 0.0, -clip)
        high = np.where(one_sided & (self.directions < 0), 0.0, clip)
        return np.clip(z, low, high, out=z).astype(np.float32)

    def rare_entries(self, X: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, columns, rarity) of the entries whose ``rarity`` is at least ``floor``, in row-major order.

        Equal to filtering ``rarity(X)``, but the searches run only on the few entries beyond a per-feature cut
        (the reference value past which the rarity can reach the floor), not on the whole matrix.
        """
        X = np.asarray(X)
        low_cut, high_cut = self._cuts(floor)
        rows, cols = np.nonzero((high_cut <= X) | (low_cut >= X))
        # Every entry's two searches in one compiled call (a call per column cost most of a single row's reasons).
        left, right = reference_positions(self._reference_columns(), cols, X[rows, cols].astype(np.float64))
        values = self._tail_rarity(left, right, self.directions[cols])
        keep = values >= floor
        return rows[keep], cols[keep], values[keep]

    def _cuts(self, floor: float) -> tuple[np.ndarray, np.ndarray]:
        """Per feature: below low_cut / above high_cut lies every value whose rarity can reach floor (a superset)."""
        cached = getattr(self, "_cut_cache", {})
        if floor not in cached:
            n, ref = len(self.reference), self.reference
            share = np.where(self.directions == 0, np.exp(-floor) / 2, np.exp(-floor))
            high = np.ceil(n + 0.5 - share * (n + 1)).astype(np.int64) - 2  # first index whose successors qualify
            low = np.floor(share * (n + 1) - 0.5).astype(np.int64) + 1
            columns = np.arange(ref.shape[1])
            high_cut = np.where(high >= n, np.inf, ref[np.clip(high, 0, n - 1), columns])
            low_cut = np.where(low < 0, -np.inf, ref[np.clip(low, 0, n - 1), columns])
            high_cut = np.where(self.directions < 0, np.inf, np.where(high < 0, -np.inf, high_cut))
            low_cut = np.where(self.directions > 0, -np.inf, np.where(low >= n, np.inf, low_cut))
            # As float32 (rows are float32), rounded outwards so the cut still keeps every qualifying value.
            high32, low32 = high_cut.astype(np.float32), low_cut.astype(np.float32)
            high32 = np.where(high32 > high_cut, np.nextafter(high32, np.float32(-np.inf)), high32)
            low32 = np.where(low32 < low_cut, np.nextafter(low32, np.float32(np.inf)), low32)
            cached[floor] = (low32.astype(np.float32), high32.astype(np.float32))
            self._cut_cache = cached
        return cached[floor]

    def _tail_rarity(self, left: np.ndarray, right: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """-log of the share of reference rows at least as extreme, in each feature's risky direction, from the
        values' positions in their columns' references (``left`` / ``right``: numpy's searchsorted sides)."""
        n = len(self.reference)
        upper, lower = (n - left + 0.5) / (n + 1), (right + 0.5) / (n + 1)
        both = np.minimum(2 * np.minimum(upper, lower), 1)
        return -np.log(np.where(directions > 0, upper, np.where(directions < 0, lower, both)))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_columns", None)  # a copy of the reference, made again on first use: not stored twice
        return state

    def _reference_columns(self) -> np.ndarray:
        """The reference, one contiguous row per feature (searchsorted copies a strided column on every call); made
        on first use, so profiles pickled before it existed have it too."""
        columns = getattr(self, "_columns", None)
        if columns is None:
            columns = self._columns = np.ascontiguousarray(self.reference.T)
        return columns

    def rarity(self, X: np.ndarray) -> np.ndarray:
        """-log of the share of reference rows at least as extreme, in the feature's risky direction."""
        X = np.asarray(X, dtype=np.float64)
        cols = np.tile(np.arange(X.shape[1]), len(X))
        left, right = reference_positions(self._reference_columns(), cols, X.ravel())
        return self._tail_rarity(left, right, self.directions[cols]).reshape(X.shape)


class TailModel:
    """The rarest directed feature, with tails fitted on the body of the traffic.

    Up to a feature's ``BODY`` quantile its surprise is the empirical -log(share of training rows at least as far
    out); beyond it, an exponential tail fitted on the ``SLOPE_FROM``..``BODY`` quantiles. The top is left out of the
    fit on purpose: unlabelled training traffic holds a few percent of anomalies, exactly that tail, and calibrated on
    them a real anomaly would look no stranger than they do. A feature without spread in its body, or marked
    ``empirical``, keeps the empirical calibration; one marked ``floor`` is never less surprising than that says.
    A row's anomaly is the surprise of its most extreme feature.
    """

    BODY, SLOPE_FROM = 0.95, 0.80

    def __init__(
        self,
        X: np.ndarray,
        directions: np.ndarray,
        empirical: np.ndarray | None = None,
        floor: np.ndarray | None = None,
        two_sided: np.ndarray | None = None,
    ):
        """``empirical`` marks features calibrated on the training rows as they are (counts of known frauds: no
        unlabelled anomaly hides in them); ``floor`` marks features whose fitted tail is floored by that calibration;
        ``two_sided`` marks undirected features read as their distance from the training median (either side is
        rare: signed attributes such as anonymised components)."""
        X = np.asarray(X, dtype=np.float64)
        varying = X.max(axis=0) > X.min(axis=0)
        both = np.zeros(X.shape[1], bool) if two_sided is None else np.asarray(two_sided, bool)
        self.columns = np.flatnonzero(((directions != 0) | both) & varying)
        self.signs = np.where(both[self.columns], 1.0, directions[self.columns]).astype(np.float64)
        median = np.median(X[:, self.columns], axis=0) if len(X) else np.zeros(len(self.columns))
        self.centers = np.where(both[self.columns], median, np.nan)  # NaN: a directed feature, read as it is
        signed = self._oriented(X)
        self.calibrators = [QuantileCalibrator(signed[:, k]) for k in range(len(self.columns))]
        low, self.body = np.quantile(signed, [self.SLOPE_FROM, self.BODY], axis=0)
        spread = (self.body - low) / np.log((1 - self.SLOPE_FROM) / (1 - self.BODY))
        fitted = spread > 1e-9
        if empirical is not None:
            fitted &= ~np.asarray(empirical, bool)[self.columns]
        self.slope = np.where(fitted, 1.0 / np.maximum(spread, 1e-9), 0.0)  # 0: empirical only
        self.floor = np.zeros(len(self.columns), bool) if floor is None else np.asarray(floor, bool)[self.columns]

    def __setstate__(self, state: dict) -> None:
        """A model saved before the fitted tails existed keeps its empirical calibration (slope 0); one saved before
        the floor existed keeps its fitted tails as they were (no floor)."""
        self.__dict__.update(state)
        if "slope" not in state:
            self.slope = self.body = np.zeros(len(self.columns))
        if "floor" not in state:
            self.floor = np.zeros(len(self.columns), bool)
        if "centers" not in state:  # saved before two-sided features existed: every feature directed
            self.centers = np.full(len(self.columns), np.nan)

    def _oriented(self, X: np.ndarray) -> np.ndarray:
        """The read columns, each turned so that higher is riskier: directed ones by their sign, two-sided ones as
        their distance from the training median."""
        values = X[:, self.columns] * self.signs
        both = np.isfinite(self.centers)
        if both.any():
            values[:, both] = np.abs(X[:, self.columns[both]] - self.centers[both])
        return values

    def surprises(self, X: np.ndarray) -> np.ndarray:
        """Per row and directed feature, the surprise -log(tail share) of the row's value."""
        X = np.asarray(X, dtype=np.float64)
        out = np.empty((len(X), len(self.columns)))
        base = -np.log1p(-self.BODY)
        oriented = self._oriented(X)
        for k, calibrate in enumerate(self.calibrators):
            value = oriented[:, k]
            if self.slope[k] > 0:
                q = calibrate(value)
                out[:, k] = surprise(np.minimum(q, self.BODY))
                beyond = value > self.body[k]
                out[beyond, k] = base + (value[beyond] - self.body[k]) * self.slope[k]
                if self.floor[k]:
                    np.maximum(out[:, k], surprise(q), out=out[:, k])
            else:
                out[:, k] = surprise(calibrate(value))
        return out

    def anomaly(self, X: np.ndarray) -> np.ndarray:
        if not len(self.columns):
            return np.zeros(len(X))
        return self.surprises(X).max(axis=1)
