import numpy as np
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
