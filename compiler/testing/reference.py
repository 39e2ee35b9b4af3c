"""Independent references for numerics: onnxruntime first, ``onnx.reference`` as fallback."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import onnx

# The targets that run without a GPU, each checked on the same models by the suite's model
# tests (parametrize over this tuple rather than naming one): "cpu" runs the plan's numpy
# kernels, "interpreter" the Triton kernels themselves on Triton's CPU interpreter.
HOST_TARGETS = ("interpreter", "cpu")

# rtol, atol per dtype: fp32 tight; half types loose enough for one rounding per op chain
TOLERANCES = {"float32": (1e-3, 1e-4), "float64": (1e-7, 1e-9), "float16": (2e-2, 2e-3), "bfloat16": (5e-2, 1e-2)}

# Whole networks compiled with dtype=float16/bfloat16 against the float32 reference: every
# stored activation and weight is rounded (unit roundoff 2^-11 and 2^-8), and a deep network
# adds and amplifies those roundings, so the bound is a fraction of the output's scale (its
# largest magnitude) rather than of each element, which may be near zero. Measured errors on
# the model set are 4-10x below these (see tests/models/test_mixed_precision.py).
SCALE_TOLERANCES = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 5e-2}


def run_onnxruntime(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, dict(feeds))


def run_onnx_reference(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    return list(ReferenceEvaluator(model).run(None, dict(feeds)))


def overflow_at_range_edge(actual, expected, dtype) -> np.ndarray:
    """Where one side overflowed to an infinity and the other is a finite value of that sign
    within a factor 16 of the dtype's largest: the same result, rounded on either side of the
    edge of the range (a reordered product overflows one step earlier or later). Elementwise,
    broadcast like the operands; a dtype numpy has no ``finfo`` for (bfloat16, a name it does
    not know) is taken as float32."""
    a = np.asarray(actual, np.float64)
    e = np.asarray(expected, np.float64)
    try:
        edge = float(np.finfo(np.dtype(dtype)).max) / 16
    except (TypeError, ValueError):
        edge = float(np.finfo(np.float32).max) / 16
    with np.errstate(invalid="ignore"):
        def one_way(inf, fin):
            return np.isinf(inf) & np.isfinite(fin) & (np.sign(inf) == np.sign(fin)) & (np.abs(fin) >= edge)
        return one_way(a, e) | one_way(e, a)


def assert_close(actual, expected, dtype: str = "float32", what: str = "output") -> None:
    """Elementwise closeness at the dtype's ``TOLERANCES``; NaN matches NaN, and an infinity
    matches a same-signed finite value at the edge of the dtype's range."""
    rtol, atol = TOLERANCES.get(dtype, (1e-3, 1e-4))
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    if actual.dtype.kind in "biu" or expected.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    a64, e64 = actual.astype(np.float64), expected.astype(np.float64)
    a64 = np.where(overflow_at_range_edge(a64, e64, dtype), e64, a64)
    np.testing.assert_allclose(a64, e64, rtol=rtol, atol=atol, err_msg=what)


def assert_close_to_scale(actual, expected, dtype: str = "float32", what: str = "output",
                          fraction: float | None = None) -> float:
    """max |actual - expected| <= fraction * max |expected| (default: ``SCALE_TOLERANCES``).

    For results of half-precision compiles compared with a float32 reference; returns the
    measured fraction so tests can report it."""
    frac = SCALE_TOLERANCES[dtype] if fraction is None else fraction
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: {np.sum(~np.isfinite(actual))} non-finite values"
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    err = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
    measured = err / scale if scale > 0 else err
    assert err <= frac * scale or err == 0.0, (
        f"{what}: max error {err:.4g} is {measured:.3g} of the output scale {scale:.4g}; "
        f"{dtype} allows {frac:g}")
    return measured
