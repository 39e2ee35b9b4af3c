"""bfloat16 in Triton's interpreter, made to behave as on a GPU.

The interpreter keeps bfloat16 tensors as their ``uint16`` bit patterns. Generated kernels
never do arithmetic on bfloat16 (loads upcast to float32, stores round once), but two
interpreter operations still touch the bits:

* ``tl.dot`` on bfloat16 tiles (the GEMM and conv templates feed half tiles to the dot, as
  tensor cores want) runs ``np.matmul`` on the bit patterns, giving values around 1e10
  (triton-lang/triton#11584; upstream does not support it yet).
* float32 -> bfloat16 conversion (every store of a bfloat16 value) truncates the mantissa,
  where GPUs round to nearest even: results drift towards zero by up to one bfloat16 ulp.

``install()`` wraps the interpreter builder's ``create_dot`` (bfloat16 operands become their
exact float32 values first) and its float32 <-> bfloat16 casts (through ``ml_dtypes``, which
rounds to nearest even). The wrappers only act on bfloat16; every other type takes the
interpreter's own path. Installing twice is harmless; install under the interpreter device's
``INTERPRETER_LOCK`` (as ``InterpreterDevice.load_kernels`` does), so that no kernel is
running while the builder's methods are swapped and two installs cannot interleave.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

_BF16 = np.dtype(ml_dtypes.bfloat16)


def _bits_to_f32(data: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(data).view(_BF16).astype(np.float32)


def _f32_to_bits(data: np.ndarray) -> np.ndarray:
    return np.asarray(data, dtype=np.float32).astype(_BF16).view(np.uint16)


def install() -> bool:
    """Patch the interpreter once; False when this Triton lacks the expected hooks."""
    try:
        import triton.language as tl
        from triton.runtime import interpreter as ti
    except ImportError:
        return False
    builder = getattr(ti, "InterpreterBuilder", None)
    handle = getattr(ti, "TensorHandle", None)
    if builder is None or handle is None or not hasattr(builder, "create_dot") or not hasattr(builder, "cast_impl"):
        return False
    if getattr(builder.create_dot, "_cortado_bf16", False):
        return True
    dot, cast = builder.create_dot, builder.cast_impl

    def create_dot(self, a, b, d, *args, **kwargs):
        if a.dtype.scalar == tl.bfloat16:
            a = handle(_bits_to_f32(a.data), tl.float32)
        if b.dtype.scalar == tl.bfloat16:
            b = handle(_bits_to_f32(b.data), tl.float32)
        return dot(self, a, b, d, *args, **kwargs)

    def cast_impl(self, src, dst_type):
        s, t = src.dtype.scalar, dst_type.scalar
        if s == tl.float32 and t == tl.bfloat16:
            return handle(_f32_to_bits(src.data), tl.bfloat16)
        if s == tl.bfloat16 and t == tl.float32:
            return handle(_bits_to_f32(src.data), tl.float32)
        return cast(self, src, dst_type)

    create_dot._cortado_bf16 = True
    builder.create_dot = create_dot
    builder.cast_impl = cast_impl
    # the fp_ext / fp_trunc entry points are lambdas that call self.cast_impl: patched with it
    return True
