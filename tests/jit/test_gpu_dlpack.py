"""On a GPU: CUDA tensors from torch or cupy go in without copies and come back as the same
kind of tensor on the same device. Skips (visibly) without a GPU or without either library."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado.runtime.devices import cuda_available

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not cuda_available(), reason="no usable CUDA GPU (needs an NVIDIA GPU, its driver "
                                                              "and cuda-core)")]


def _framework():
    for name in ("torch", "cupy"):
        try:
            return __import__(name)
        except ImportError:
            continue
    pytest.skip("neither torch nor cupy is installed")


def mlp(x, w, b):
    return np.maximum(x @ w + b, 0), x * 2


def test_cuda_tensors_round_trip():
    lib = _framework()
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s).astype(np.float32) for s in ((8, 16), (16, 32), (32,))]
    if lib.__name__ == "torch":
        dev = [lib.from_numpy(a).cuda() for a in xs]

        def to_host(t):
            return t.cpu().numpy()
    else:
        dev = [lib.asarray(a) for a in xs]
        to_host = lib.asnumpy
    f = cortado.jit(mlp, target="cuda", allow_tf32=False, dynamic=True)
    y, z = f(*dev)
    assert type(y) is type(dev[0])
    if lib.__name__ == "torch":
        assert y.is_cuda and y.device == dev[0].device
    np.testing.assert_allclose(to_host(y), np.maximum(xs[0] @ xs[1] + xs[2], 0), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(to_host(z), xs[0] * 2)
    host = f(*xs)                                   # numpy in: numpy out, same compiled kernels
    assert isinstance(host[0], np.ndarray) and f.cache_info().misses == 1
