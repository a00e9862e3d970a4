"""Isolation forest: trained with scikit-learn, evaluated from flat numpy arrays.

scikit-learn walks its trees one at a time in Python, slow for the single row a request scores. Here the fitted
trees are copied into one flat table of complete trees that a compiled loop descends (``kernels``), and the scores
equal scikit-learn's ``score_samples`` (to 1e-9).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length

from detection.engine.kernels import forest_path_lengths


class CompiledForest:
    """The node table of a fitted IsolationForest; ``anomaly`` returns -score_samples (higher = stranger)."""

    def __init__(self, forest: IsolationForest, n_features: int):
        features, thresholds, lefts, rights, values, roots = [], [], [], [], [], []
        offset, depth = 0, 0
        subsample = forest._max_features != n_features
        for t, estimator in enumerate(forest.estimators_):
            tree = estimator.tree_
            leaf = tree.children_left == -1
            used = np.asarray(forest.estimators_features_[t]) if subsample else np.arange(n_features)
            features.append(np.where(leaf, 0, used[np.maximum(tree.feature, 0)]))
            thresholds.append(np.where(leaf, np.inf, tree.threshold))
            index = np.arange(tree.node_count) + offset
            lefts.append(np.where(leaf, index, tree.children_left + offset))
            rights.append(np.where(leaf, index, tree.children_right + offset))
            values.append(forest._decision_path_lengths[t] + forest._average_path_length_per_tree[t] - 1.0)
            roots.append(offset)
            offset += tree.node_count
            depth = max(depth, int(tree.max_depth))
        feature, threshold = np.concatenate(features), np.concatenate(thresholds)
        children = np.stack([np.concatenate(lefts), np.concatenate(rights)])
        self.depth = depth
        self._as_complete_trees(
            np.asarray(roots), feature, _float32_at_most(threshold), children, np.concatenate(values)
        )
        self.denominator = len(forest.estimators_) * float(_average_path_length([forest._max_samples])[0])

    def _as_complete_trees(self, roots, feature, threshold, children, value) -> None:
        """Every tree as a complete binary tree of the forest's depth, in heap order (children of h: 2h+1, 2h+2).

        A leaf above the last level is repeated down to it (threshold +inf: always left), so a row descends by
        arithmetic alone, with no table of children to read.
        """
        inner = (1 << self.depth) - 1
        node = roots[:, None]
        feature_levels, threshold_levels = [], []
        for _ in range(self.depth):
            feature_levels.append(feature[node])
            threshold_levels.append(threshold[node])
            node = np.stack([children[0][node], children[1][node]], axis=2).reshape(len(roots), -1)
        if not feature_levels:  # no tree could split (constant data): every tree is its root leaf
            feature_levels, threshold_levels = [np.zeros((len(roots), 0), np.int32)], [np.zeros((len(roots), 0))]
        self.feature = np.concatenate(feature_levels, axis=1).astype(np.int32).ravel()  # (trees, inner) flat
        self.threshold = np.concatenate(threshold_levels, axis=1).astype(np.float32).ravel()
        self.value = value[node].astype(np.float64).ravel()  # (trees, 2**depth) flat
        self.inner = inner

    def __setstate__(self, state: dict) -> None:
        """Artifacts saved with the earlier node-table layouts are converted on load."""
        self.__dict__.update(state)
        if "inner" in state:
            return
        if "left" in state:
            children, threshold = np.stack([state["left"], state["right"]]), _float32_at_most(state["threshold"])
        else:
            children, threshold = state["children"].reshape(-1, 2).T, state["threshold"]
        for name in ("left", "right", "children", "roots"):
            self.__dict__.pop(name, None)
        self._as_complete_trees(np.asarray(state["roots"]), state["feature"], threshold, children, state["value"])

    def anomaly(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        lengths = forest_path_lengths(X, self.feature, self.threshold, self.value, self.depth, self.inner)
        return 2.0 ** (-lengths / self.denominator)


def _float32_at_most(threshold: np.ndarray) -> np.ndarray:
    """Rows are float32: x <= t (float64) exactly when x <= the largest float32 not above t."""
    rounded = threshold.astype(np.float32)
    too_high = rounded.astype(np.float64) > threshold
    rounded[too_high] = np.nextafter(rounded[too_high], np.float32(-np.inf))
    return rounded


def fit_forest(X: np.ndarray, *, seed: int, n_estimators: int = 200, max_samples: int = 256) -> CompiledForest:
    forest = IsolationForest(
        n_estimators=n_estimators, max_samples=min(max_samples, len(X)), random_state=seed, n_jobs=1
    ).fit(np.asarray(X, dtype=np.float32))
    return CompiledForest(forest, X.shape[1])
