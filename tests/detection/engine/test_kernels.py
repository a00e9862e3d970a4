import numpy as np

from detection.engine import kernels


def test_reference_positions_are_numpys_searches_with_ties_infinities_and_nan():
    rng = np.random.default_rng(1)
    reference = np.sort(rng.integers(0, 50, (7, 300)).astype(np.float64), axis=1)  # many ties
    reference[3, -5:] = np.nan  # numpy sorts NaN last
    reference[5, :3] = -np.inf
    columns = rng.integers(0, 7, 5000)
    values = rng.integers(-2, 53, 5000).astype(np.float64)
    values[::97], values[::89], values[::83] = np.nan, np.inf, -np.inf
    left, right = kernels.reference_positions(np.ascontiguousarray(reference), columns, values)
    for side, found in (("left", left), ("right", right)):
        expected = [np.searchsorted(reference[c], v, side=side) for c, v in zip(columns, values, strict=True)]
        np.testing.assert_array_equal(found, expected)


def test_warm_up_compiles_every_kernel():
    kernels.warm_up()
    compiled = (kernels.forest_path_lengths, kernels.boosting_raw, kernels.known_counts, kernels.reference_positions)
    for kernel in compiled:
        assert kernel.signatures  # compiled (or loaded from numba's cache) for the types the models pass
