"""DLPack in and out, checked on CPU capsules (the same structs a CUDA capsule uses): reading
a framework tensor's shape and dtype, exporting results without copies, and returning results
as the framework the inputs came from."""

from __future__ import annotations

import gc
import sys
import types

import numpy as np
import pytest

import cortado
from cortado.jit import JitError
from cortado.jit.dlpack import DeviceArray, Exported, to_framework


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int64, np.int8, np.uint8, np.bool_])
def test_reads_shape_dtype_and_pointer_from_a_capsule(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    arr = DeviceArray.from_capsule(a.__dlpack__(), owner=a)
    assert arr.shape == (2, 3, 4) and arr.dtype == np.dtype(dtype)
    assert arr.ptr == a.ctypes.data and arr.on_host


def test_byte_offset_and_strides():
    a = np.arange(20, dtype=np.float32).reshape(4, 5)
    arr = DeviceArray.from_capsule(a[1:].__dlpack__(), owner=a)
    assert arr.ptr == a[1:].ctypes.data and arr.shape == (3, 5)
    with pytest.raises(JitError, match="not contiguous"):
        DeviceArray.from_capsule(a[:, ::2].__dlpack__(), owner=a)


def test_exported_buffers_are_shared_not_copied():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    before = Exported.live_count()
    view = np.from_dlpack(Exported.from_numpy(a))
    assert view.shape == (2, 3) and view.dtype == np.float32
    a[0, 0] = 42.0
    assert view[0, 0] == 42.0
    assert Exported.live_count() == before + 1
    del view
    gc.collect()
    assert Exported.live_count() == before          # the consumer called our deleter


def test_an_unconsumed_capsule_releases_its_buffer():
    before = Exported.live_count()
    capsule = Exported.from_numpy(np.ones(3, np.int32)).__dlpack__()
    assert Exported.live_count() == before + 1
    del capsule
    gc.collect()
    assert Exported.live_count() == before


def test_device_type_comes_from_the_object():
    class OnGpu:
        def __dlpack_device__(self):
            return (2, 0)

        def __dlpack__(self, stream=None):
            return np.zeros((4, 2), np.float16).__dlpack__()

    arr = DeviceArray.from_object(OnGpu())
    assert arr.on_cuda and arr.shape == (4, 2) and arr.dtype == np.float16


@pytest.fixture
def fake_framework():
    """A tiny array library with DLPack, standing in for torch/cupy/jax CPU tensors."""
    mod = types.ModuleType("fakeframe")

    class Tensor:
        def __init__(self, array):
            self.array = np.asarray(array)

        def __dlpack__(self, stream=None, **kw):
            return self.array.__dlpack__()

        def __dlpack_device__(self):
            return (1, 0)

    Tensor.__module__ = "fakeframe"
    mod.Tensor = Tensor
    mod.from_dlpack = lambda obj: Tensor(np.from_dlpack(obj).copy())
    sys.modules["fakeframe"] = mod
    yield mod
    del sys.modules["fakeframe"]


def test_framework_tensors_in_give_framework_tensors_out(fake_framework):
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    f = cortado.jit(lambda a, b: (np.tanh(a) + b, a * 2), target="interpreter")
    y, z = f(fake_framework.Tensor(x), x)
    assert isinstance(y, fake_framework.Tensor) and isinstance(z, fake_framework.Tensor)
    np.testing.assert_allclose(y.array, np.tanh(x) + x, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(z.array, x * 2)


def test_to_framework_needs_a_from_dlpack():
    class Orphan:
        pass
    Orphan.__module__ = "no_such_framework_here"
    with pytest.raises(JitError, match="from_dlpack"):
        to_framework(Orphan(), Exported.from_numpy(np.ones(2, np.float32)))
