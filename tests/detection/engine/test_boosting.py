"""The compiled gradient-boosting model gives scikit-learn's probabilities exactly.

It reads scikit-learn's private predictor nodes (`_predictors`), pinned to one minor version in
requirements/base.txt: these tests say whether another version still fits.
"""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from detection.engine.boosting import CompiledBoosting


def _fitted(seed: int) -> tuple[HistGradientBoostingClassifier, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3000, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 + rng.normal(0, 0.5, len(X)) > 1.0).astype(int)
    return HistGradientBoostingClassifier(max_iter=40, random_state=seed).fit(X, y), X


def test_compiled_boosting_probabilities_equal_scikit_learn_exactly():
    model, X = _fitted(5)
    probe = np.vstack([X[:500], np.random.default_rng(1).normal(0, 3, size=(200, 5)).astype(np.float32)])
    assert np.array_equal(CompiledBoosting(model).probability(probe), model.predict_proba(probe)[:, 1])


def test_compiled_boosting_sends_missing_values_where_scikit_learn_does():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3000, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) > 0.3).astype(int)
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    assert np.array_equal(CompiledBoosting(model).probability(X[:400]), model.predict_proba(X[:400])[:, 1])


def test_one_row_scores_as_in_its_batch():
    model, X = _fitted(7)
    compiled = CompiledBoosting(model)
    batch = compiled.probability(X[:300])
    assert all(compiled.probability(X[i : i + 1])[0] == batch[i] for i in range(0, 300, 37))


@pytest.mark.parametrize("n_features", [1, 4, 12])
@pytest.mark.parametrize("seed", range(3))
def test_compiled_boosting_equals_predict_proba_on_random_data(seed, n_features):
    rng = np.random.default_rng(200 + seed)
    rows = int(rng.integers(200, 3000))
    X = rng.normal(0, rng.uniform(0.1, 10, n_features), size=(rows, n_features))
    X[:, -1] = rng.integers(0, 3, rows)  # few distinct values: ties at the thresholds
    if seed % 2:
        X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, 0]) + rng.normal(0, 1, rows) > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=int(rng.integers(5, 40)), random_state=seed).fit(X, y)
    probe = np.vstack([X[:300], rng.normal(0, 20, size=(100, n_features))])

    assert np.array_equal(CompiledBoosting(model).probability(probe), model.predict_proba(probe)[:, 1])
