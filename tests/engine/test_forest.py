import numpy as np
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
