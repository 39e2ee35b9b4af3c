"""What the interpreter device changes around a launch (one BLAS thread, no int32 overflow
sanitizer) holds only for the launch: both are back as they were afterwards."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado import ops
from cortado.ir import Graph, TensorType
from cortado.runtime.devices import blas_threads
from cortado.runtime.devices.interpreter import _without_overflow_checks

triton_interpreter = pytest.importorskip("triton.runtime.interpreter")


def test_one_blas_thread_inside_and_the_old_count_after():
    funcs = blas_threads._openblas()
    if funcs is None:
        pytest.skip("numpy here does not use an OpenBLAS this module can find")
    get, set_ = funcs
    before = get()
    set_(2)
    try:
        with blas_threads.one_blas_thread():
            assert get() == 1
        assert get() == 2
    finally:
        set_(before)


def test_overflow_checks_are_off_inside_and_restored_after():
    builder = triton_interpreter.interpreter_builder
    old = builder.options
    with _without_overflow_checks():
        assert builder.options.sanitize_overflow is False
    assert builder.options is old


def test_a_run_leaves_the_interpreter_as_it_found_it(rng):
    g = Graph()
    x = g.add_input("x", TensorType((2, 16, 4, 4), "float32"))
    w = g.add_constant(rng.standard_normal((4, 16, 3, 3)).astype(np.float32))
    g.add_output(ops.apply(g, "Conv", [x, w], kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1),
                           dilations=(1, 1), group=1).output, "y")
    m = cortado.compile(g, target="interpreter", opt_level=0)
    options = triton_interpreter.interpreter_builder.options
    feeds = {"x": rng.standard_normal((2, 16, 4, 4)).astype(np.float32)}
    np.testing.assert_allclose(m.run(feeds)["y"], ops.evaluate(g, feeds)["y"], rtol=1e-4, atol=1e-4)
    assert triton_interpreter.interpreter_builder.options is options
    assert options.sanitize_overflow is True
