"""The population stability index of a batch's features against a training sample."""

import numpy as np

from detection.engine.drift import features_psi, psi


def test_a_sample_of_the_same_distribution_is_near_zero():
    rng = np.random.default_rng(0)

    assert psi(rng.normal(0, 1, 4096), rng.normal(0, 1, 2000)) < 0.02


def test_a_shifted_distribution_is_far():
    rng = np.random.default_rng(0)

    assert psi(rng.normal(0, 1, 4096), rng.normal(2, 1, 2000)) > 1.0


def test_a_flag_whose_share_changes_is_far_and_one_that_keeps_it_is_not():
    rng = np.random.default_rng(0)
    reference = (rng.random(4096) < 0.1).astype(float)

    assert psi(reference, (rng.random(2000) < 0.1).astype(float)) < 0.01
    assert psi(reference, (rng.random(2000) < 0.6).astype(float)) > 0.25


def test_a_constant_feature_that_stays_constant_is_zero():
    assert psi(np.zeros(100), np.zeros(50)) == 0.0


def test_missing_values_are_left_out_and_nothing_left_is_zero():
    assert psi(np.array([np.nan, np.nan]), np.array([1.0])) == 0.0


def test_each_feature_is_measured_against_its_own_column():
    rng = np.random.default_rng(1)
    reference = np.column_stack([rng.normal(0, 1, 2000), rng.normal(0, 1, 2000)])
    batch = np.column_stack([rng.normal(0, 1, 800), rng.normal(3, 1, 800)])

    found = features_psi(reference, batch, ["same", "moved"])

    assert found["same"] < 0.05 and found["moved"] > 1.0
