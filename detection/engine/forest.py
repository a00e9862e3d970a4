"""Isolation forest: trained with scikit-learn, evaluated from flat numpy arrays.

scikit-learn walks its trees one at a time in Python, which costs about 6 ms for a single row. Here the fitted
trees are copied into one flat node table and every row descends all trees at once, one level per step, so a
single row takes tens of microseconds and the scores equal scikit-learn's ``score_samples`` (to 1e-9).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length


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
        self.feature = np.concatenate(features).astype(np.int32)
        # Rows are float32: x <= t (float64) exactly when x <= the largest float32 not above t.
        threshold = np.concatenate(thresholds)
        rounded = threshold.astype(np.float32)
        too_high = rounded.astype(np.float64) > threshold
        rounded[too_high] = np.nextafter(rounded[too_high], np.float32(-np.inf))
        self.threshold = rounded
        # children[2 * node] is the left child, children[2 * node + 1] the right one; a leaf points to itself.
        self.children = np.stack([np.concatenate(lefts), np.concatenate(rights)], axis=1).ravel().astype(np.int32)
        self.value = np.concatenate(values).astype(np.float64)
        self.roots = np.asarray(roots, dtype=np.intp)
        self.depth = depth
        self.denominator = len(forest.estimators_) * float(_average_path_length([forest._max_samples])[0])

    def anomaly(self, X: np.ndarray, chunk: int = 1024) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        out = np.empty(len(X))
        for lo in range(0, len(X), chunk):
            out[lo : lo + chunk] = self._anomaly(X[lo : lo + chunk])
        return out

    def _anomaly(self, X: np.ndarray) -> np.ndarray:
        n = len(X)
        node = np.broadcast_to(self.roots.astype(np.int32), (n, len(self.roots))).copy()
        rows = (np.arange(n, dtype=np.int32) * X.shape[1])[:, None]
        flat = X.ravel()
        for _ in range(self.depth):
            go_right = flat[rows + self.feature[node]] > self.threshold[node]
            node = self.children[2 * node + go_right]
        depths = self.value[node].sum(axis=1)
        return 2.0 ** (-depths / self.denominator)


def fit_forest(X: np.ndarray, *, seed: int, n_estimators: int = 200, max_samples: int = 256) -> CompiledForest:
    forest = IsolationForest(
        n_estimators=n_estimators, max_samples=min(max_samples, len(X)), random_state=seed, n_jobs=1
    ).fit(np.asarray(X, dtype=np.float32))
    return CompiledForest(forest, X.shape[1])
