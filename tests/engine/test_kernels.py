from detection.engine import kernels


def test_warm_up_compiles_every_kernel():
    kernels.warm_up()
    for kernel in (kernels.forest_path_lengths, kernels.boosting_raw):
        assert kernel.signatures  # compiled (or loaded from numba's cache) for the types the models pass
