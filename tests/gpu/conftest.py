"""GPU tests skip cleanly (and visibly) without a usable CUDA device."""

import pytest

from cortado.runtime.devices import cuda_available


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="no usable CUDA GPU (needs an NVIDIA GPU, its driver and cuda-core)")
    for item in items:
        if "tests/gpu" in str(item.fspath):
            item.add_marker(skip)
