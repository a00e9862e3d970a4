"""The supervised model's trees, evaluated from flat numpy arrays (no OpenMP, no per-tree Python call).

scikit-learn's HistGradientBoosting predicts tree after tree from Python, about 6 µs per tree for one row, and runs
OpenMP threads whose count has to be limited around every call. Here the fitted trees are one node table that every
row descends at once, one level per step; the leaf values are added tree by tree in scikit-learn's order, so the
probabilities equal ``predict_proba`` exactly, and the result does not depend on threads or on the batch.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier


class CompiledBoosting:
    """The node table of a fitted binary HistGradientBoostingClassifier on numeric features."""

    def __init__(self, model: HistGradientBoostingClassifier):
        if model.n_trees_per_iteration_ != 1:
            raise ValueError("only binary classifiers are compiled")
        tables = [predictors[0].nodes for predictors in model._predictors]
        if any(np.any(nodes["is_categorical"]) for nodes in tables):
            raise ValueError("categorical splits are not compiled")
        sizes = np.array([len(nodes) for nodes in tables])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        nodes = np.concatenate(tables)
        own = np.arange(len(nodes))
        shift = np.repeat(offsets, sizes)
        leaf = nodes["is_leaf"].astype(bool)
        left = np.where(leaf, own, nodes["left"].astype(np.int64) + shift)
        right = np.where(leaf, own, nodes["right"].astype(np.int64) + shift)
        self.feature = np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp)
        self.threshold = np.where(leaf, np.inf, nodes["num_threshold"]).astype(np.float64)
        self.missing_left = nodes["missing_go_to_left"].astype(bool)
        # children[2 * node] is the left child, children[2 * node + 1] the right one; a leaf points to itself.
        self.children = np.stack([left, right], axis=1).ravel().astype(np.intp)
        self.value = nodes["value"].astype(np.float64)
        self.roots = offsets.astype(np.intp)
        self.depth = int(max(nodes["depth"].max(), 0))
        self.baseline = float(np.asarray(model._baseline_prediction).ravel()[0])

    def raw(self, X: np.ndarray, chunk: int = 4096) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        out = np.empty(len(X))
        for lo in range(0, len(X), chunk):
            out[lo : lo + chunk] = self._raw(X[lo : lo + chunk])
        return out

    def _raw(self, X: np.ndarray) -> np.ndarray:
        n = len(X)
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = (np.arange(n) * X.shape[1])[:, None]
        flat, missing = X.ravel(), bool(np.isnan(X).any())
        for _ in range(self.depth):
            x = flat[rows + self.feature[node]]
            go_right = x > self.threshold[node]
            if missing:
                go_right = np.where(np.isnan(x), ~self.missing_left[node], go_right)
            node = self.children[2 * node + go_right]
        # Baseline first, then tree by tree, as scikit-learn adds them (cumsum is sequential, unlike sum).
        terms = np.empty((n, node.shape[1] + 1))
        terms[:, 0], terms[:, 1:] = self.baseline, self.value[node]
        return np.cumsum(terms, axis=1)[:, -1]

    def probability(self, X: np.ndarray) -> np.ndarray:
        return expit(self.raw(X))
