import numpy as np

from detection.engine.calibration import surprise
from detection.engine.explain import MIN_RARITY
from detection.engine.profile import FeatureProfile, TailModel


def test_tail_model_ranks_a_contaminating_cluster_above_every_ordinary_row():
    rng = np.random.default_rng(0)
    ordinary = rng.normal(size=(9700, 3))
    anomalies = rng.normal(size=(300, 3))
    anomalies[:, 0] = rng.normal(8.0, 0.2, len(anomalies))  # 3% of the training rows, far out on one feature
    model = TailModel(np.vstack([ordinary, anomalies]), np.array([1, 1, -1]))
    # Calibrated on the training rows alone, the cluster would look like the top 3% (surprise about 3.5).
    assert model.anomaly(anomalies).min() > model.anomaly(ordinary).max() > 3.5


def test_tail_model_keeps_the_empirical_calibration_for_a_feature_without_spread():
    X = np.zeros((1000, 1))
    X[:10, 0] = 1.0  # a flag set on 1% of the rows
    surprise = TailModel(X, np.array([1])).anomaly(np.array([[0.0], [1.0]]))
    assert surprise[0] < 0.1 and 4.0 < surprise[1] < 6.0


def test_rare_entries_are_the_entries_of_the_rarity_matrix_above_the_floor():
    rng = np.random.default_rng(2)
    X = rng.standard_t(3, size=(5000, 4)).astype(np.float32)
    profile = FeatureProfile(X, np.array([1, -1, 0, 1]), seed=0)
    probe = rng.standard_t(3, size=(3000, 4)).astype(np.float32)
    dense = profile.rarity(probe)
    rows, cols, values = profile.rare_entries(probe, MIN_RARITY)
    expected_rows, expected_cols = np.nonzero(dense >= MIN_RARITY)
    assert np.array_equal(rows, expected_rows) and np.array_equal(cols, expected_cols)
    assert np.array_equal(values, dense[expected_rows, expected_cols])


def test_a_tail_model_saved_before_fitted_tails_existed_keeps_its_empirical_calibration():
    X = np.random.default_rng(3).normal(size=(2000, 2))
    model = TailModel(X, np.array([1, -1]))
    earlier = {k: v for k, v in model.__dict__.items() if k not in ("slope", "body")}
    restored = TailModel.__new__(TailModel)
    restored.__setstate__(earlier)
    probe = np.array([[5.0, 0.0], [0.0, -5.0], [0.1, 0.1]])
    pairs = zip(model.columns, model.signs, model.calibrators, strict=True)
    empirical = np.column_stack([surprise(calibrate(sign * probe[:, j])) for j, sign, calibrate in pairs])
    assert np.array_equal(restored.anomaly(probe), empirical.max(axis=1))


def test_features_marked_empirical_are_calibrated_on_the_training_rows_as_they_are():
    X = np.random.default_rng(4).normal(size=(2000, 1))
    probe = np.array([[4.0], [6.0]])
    marked = TailModel(X, np.array([1]), empirical=np.array([True]))
    expected = surprise(marked.calibrators[0](probe[:, 0]))
    assert np.array_equal(marked.anomaly(probe), expected)
    assert not np.array_equal(TailModel(X, np.array([1])).anomaly(probe), expected)


def test_a_floored_feature_is_at_least_as_surprising_as_its_observed_rarity():
    rng = np.random.default_rng(5)
    X = rng.uniform(0.0, 1.0, size=(4000, 1))  # a tail that ends: faster than any exponential
    probe = np.array([[0.5], [0.97], [0.999], [2.0]])
    fitted = TailModel(X, np.array([1]))
    floored = TailModel(X, np.array([1]), floor=np.array([True]))
    empirical = surprise(floored.calibrators[0](probe[:, 0]))
    assert np.array_equal(floored.anomaly(probe), np.maximum(fitted.anomaly(probe), empirical))
    assert floored.anomaly(probe)[2] > fitted.anomaly(probe)[2]  # rarer than the fitted tail says


def test_a_tail_model_saved_before_the_floor_existed_keeps_its_fitted_tails():
    X = np.random.default_rng(6).uniform(0.0, 1.0, size=(4000, 1))
    model = TailModel(X, np.array([1]))
    restored = TailModel.__new__(TailModel)
    restored.__setstate__({k: v for k, v in model.__dict__.items() if k != "floor"})
    probe = np.array([[0.5], [0.999], [2.0]])
    assert np.array_equal(restored.anomaly(probe), model.anomaly(probe))
    assert not restored.floor.any()


def test_a_profile_pickled_after_use_stores_its_reference_once_and_reads_the_same():
    import pickle

    rng = np.random.default_rng(5)
    X = rng.normal(size=(2000, 3)).astype(np.float32)
    profile = FeatureProfile(X, np.array([1, -1, 0]), seed=0)
    before = profile.rare_entries(X, 2.0)  # makes the profile's column-major copy of its reference
    blob = pickle.dumps(profile)
    assert len(blob) < 1.5 * profile.reference.nbytes
    after = pickle.loads(blob).rare_entries(X, 2.0)  # noqa: S301 - our own bytes
    for made, read in zip(before, after, strict=True):
        np.testing.assert_array_equal(made, read)
