"""The supervised model's trees, evaluated from one flat node table (no OpenMP, no per-tree Python call).

scikit-learn's HistGradientBoosting predicts tree after tree from Python, a Python step per tree, and runs
OpenMP threads whose count has to be limited around every call. Here the fitted trees are one node table that a
compiled loop descends (``kernels``); the leaf values are added tree by tree in scikit-learn's order, so the
probabilities equal ``predict_proba`` exactly, and the result does not depend on threads or on the batch.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier

from detection.engine.kernels import boosting_raw


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

    def raw(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)  # as scikit-learn reads it: the thresholds are float64
        args = (self.roots, self.feature, self.threshold, self.missing_left, self.children, self.value)
        return boosting_raw(X, *args, self.depth, self.baseline)

    def probability(self, X: np.ndarray) -> np.ndarray:
        return expit(self.raw(X))
