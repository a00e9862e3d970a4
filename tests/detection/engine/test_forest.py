"""The compiled isolation forest scores as scikit-learn does.

It copies scikit-learn's private tree arrays (`tree_.children_left`, `_decision_path_lengths`, ...), which
requirements/base.txt pins to one minor version: these tests say whether another version still fits.
"""

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from detection.engine.forest import CompiledForest


def test_compiled_forest_scores_equal_scikit_learn():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 6)).astype(np.float32)
    forest = IsolationForest(n_estimators=60, random_state=1).fit(X)
    probe = np.vstack([X[:300], rng.normal(0, 4, size=(200, 6)).astype(np.float32)])
    compiled = CompiledForest(forest, n_features=6)
    np.testing.assert_allclose(compiled.anomaly(probe), -forest.score_samples(probe), rtol=0, atol=1e-9)


def test_compiled_forest_with_feature_subsampling_equals_scikit_learn():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1000, 5)).astype(np.float32)
    forest = IsolationForest(n_estimators=30, max_features=3, random_state=2).fit(X)
    compiled = CompiledForest(forest, n_features=5)
    np.testing.assert_allclose(compiled.anomaly(X[:200]), -forest.score_samples(X[:200]), rtol=0, atol=1e-9)


def test_an_artifact_with_the_earlier_node_table_loads_and_scores_the_same():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1500, 4)).astype(np.float32)
    forest = IsolationForest(n_estimators=20, random_state=3).fit(X)
    compiled = CompiledForest(forest, n_features=4)
    trees = [estimator.tree_ for estimator in forest.estimators_]
    offsets = np.cumsum([0] + [tree.node_count for tree in trees[:-1]])
    leaf = [tree.children_left == -1 for tree in trees]
    own = [np.arange(tree.node_count) + o for tree, o in zip(trees, offsets, strict=True)]
    earlier = {
        "feature": np.concatenate([np.where(lf, 0, t.feature) for t, lf in zip(trees, leaf, strict=True)]),
        "threshold": np.concatenate([np.where(lf, np.inf, t.threshold) for t, lf in zip(trees, leaf, strict=True)]),
        "left": np.concatenate(
            [np.where(lf, i, t.children_left + o) for t, lf, i, o in zip(trees, leaf, own, offsets, strict=True)]
        ),
        "right": np.concatenate(
            [np.where(lf, i, t.children_right + o) for t, lf, i, o in zip(trees, leaf, own, offsets, strict=True)]
        ),
        "value": compiled_values(forest),
        "roots": offsets,
        "depth": compiled.depth,
        "denominator": compiled.denominator,
    }
    restored = CompiledForest.__new__(CompiledForest)
    restored.__setstate__(earlier)
    assert np.array_equal(restored.anomaly(X[:300]), compiled.anomaly(X[:300]))


def compiled_values(forest: IsolationForest) -> np.ndarray:
    return np.concatenate(
        [
            forest._decision_path_lengths[t] + forest._average_path_length_per_tree[t] - 1.0
            for t in range(len(forest.estimators_))
        ]
    )


def test_compiled_forest_scores_do_not_depend_on_the_batch():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3000, 5)).astype(np.float32)
    forest = IsolationForest(n_estimators=40, random_state=4).fit(X)
    compiled = CompiledForest(forest, n_features=5)
    whole = compiled.anomaly(X)
    for lo, hi in ((0, 1), (5, 12), (100, 356), (1999, 3000)):  # a single row, small and large slices
        assert np.array_equal(compiled.anomaly(X[lo:hi]), whole[lo:hi])
    assert np.array_equal(compiled.anomaly(X[::-1]), whole[::-1])
    np.testing.assert_allclose(whole, -forest.score_samples(X), rtol=0, atol=1e-9)


def random_columns(rng: np.random.Generator, rows: int, n_features: int) -> np.ndarray:
    """Columns of different kinds: normal, heavy-tailed, few distinct integers (ties at every threshold), constant."""
    kinds = [
        lambda: rng.normal(rng.uniform(-5, 5), rng.uniform(0.1, 10), rows),
        lambda: rng.lognormal(0, 1.5, rows),
        lambda: rng.integers(0, 4, rows).astype(float),
        lambda: np.full(rows, rng.uniform(-1, 1)),
    ]
    chosen = rng.integers(0, len(kinds), n_features)
    chosen[0] = 0  # one column that varies: a forest of single leaves is test_a_forest_that_cannot_split_...'s case
    return np.column_stack([kinds[int(k)]() for k in chosen]).astype(np.float32)


@pytest.mark.parametrize("n_features", [1, 3, 8, 17])
@pytest.mark.parametrize("seed", range(5))
def test_compiled_forest_scores_equal_score_samples_on_random_data(seed, n_features):
    rng = np.random.default_rng(100 + seed)
    rows = int(rng.integers(60, 3000))
    X = random_columns(rng, rows, n_features)
    forest = IsolationForest(
        n_estimators=int(rng.integers(5, 80)),
        max_samples=int(rng.integers(16, min(rows, 512) + 1)),
        max_features=int(rng.integers(1, n_features + 1)),
        bootstrap=bool(rng.integers(0, 2)),
        random_state=seed,
    ).fit(X)
    outside = (X[rng.integers(0, rows, 200)] * rng.uniform(-3, 3, (200, n_features))).astype(np.float32)
    probe = np.vstack([X[:300], outside, random_columns(rng, 100, n_features)])

    compiled = CompiledForest(forest, n_features=n_features)

    np.testing.assert_allclose(compiled.anomaly(probe), -forest.score_samples(probe), rtol=0, atol=1e-9)


def test_a_forest_that_cannot_split_scores_as_scikit_learn():
    X = np.full((100, 2), 3.0, dtype=np.float32)  # no split is possible: every tree is one leaf
    forest = IsolationForest(n_estimators=5, random_state=0).fit(X)

    compiled = CompiledForest(forest, n_features=2)

    np.testing.assert_allclose(compiled.anomaly(X[:3]), -forest.score_samples(X[:3]), rtol=0, atol=1e-9)
