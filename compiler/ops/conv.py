"""Convolutions (Conv, ConvTranspose) over 1-, 2- and 3-D spatial axes, NC[D]HW layout.

Attributes are canonical: frontends resolve ``auto_pad`` and ``output_shape`` into explicit
``pads`` and fill every default, so passes and codegen never re-derive them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ir import TensorType
from .registry import Category, register_op
from .shapes import same_dtype, window_output
from cortado.runtime.errors import ShapeError
from ..ir import Op


@dataclasses.dataclass(frozen=True)
class ConvAttrs:
    kernel_shape: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    pads: tuple[int, ...] = ()       # begins..., ends...
    dilations: tuple[int, ...] = ()
    group: int = 1


@dataclasses.dataclass(frozen=True)
class ConvTransposeAttrs:
    kernel_shape: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    pads: tuple[int, ...] = ()
    dilations: tuple[int, ...] = ()
    group: int = 1
    output_padding: tuple[int, ...] = ()


def _check_spatial(op: str, a, x: TensorType, w: TensorType) -> int:
    sp = x.rank - 2
    if sp < 1 or w.rank != x.rank:
        raise ShapeError(f"{op} needs input and weight of the same rank >= 3, got {x.shape} and {w.shape}")
    for name in ("kernel_shape", "strides", "dilations"):
        if len(getattr(a, name)) != sp:
            raise ShapeError(f"{op} {name} {getattr(a, name)} must have {sp} entries")
    if len(a.pads) != 2 * sp:
        raise ShapeError(f"{op} pads {a.pads} must have {2 * sp} entries")
    if tuple(w.shape[2:]) != tuple(a.kernel_shape):
        raise ShapeError(f"{op} kernel_shape {a.kernel_shape} does not match weight shape {w.shape}")
    if a.group < 1 or any(s < 1 for s in a.strides) or any(d < 1 for d in a.dilations) or min(a.pads) < 0:
        raise ShapeError(f"{op} needs group, strides and dilations >= 1 and pads >= 0")
    return sp


def pad_spatial(x: np.ndarray, begins, ends, value=0.0) -> np.ndarray:
    sp = len(begins)
    return np.pad(x, [(0, 0)] * (x.ndim - sp) + list(zip(begins, ends)), constant_values=value)


def windows(x: np.ndarray, kernel, strides, dilations) -> np.ndarray:
    """(N, C, out..., k...) views of the (already padded) input's sliding windows."""
    sp = len(kernel)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    v = sliding_window_view(x, eff, axis=tuple(range(2, 2 + sp)))
    index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides) \
        + tuple(slice(None, None, d) for d in dilations)
    return v[index]


@register_op(Op.CONV, Category.CONV, inputs=("X", "W", "B?"))
class Conv:
    """Grouped, strided, dilated convolution; lowered to an implicit-GEMM Triton template."""

    Attrs = ConvAttrs

    def infer(a, x, w, b=None):
        sp = _check_spatial("Conv", a, x, w)
        same_dtype("Conv", x, w, b)
        cin = x.shape[1]
        if isinstance(cin, int) and cin != w.shape[1] * a.group:
            raise ShapeError(f"Conv input has {cin} channels but weight {w.shape} with group={a.group} "
                             f"expects {w.shape[1] * a.group}")
        if w.shape[0] % a.group:
            raise ShapeError(f"Conv output channels {w.shape[0]} are not divisible by group={a.group}")
        if b is not None and tuple(b.shape) != (w.shape[0],):
            raise ShapeError(f"Conv bias must have shape ({w.shape[0]},), got {b.shape}")
        out = [window_output(x.shape[2 + i], a.kernel_shape[i], a.strides[i], a.pads[i], a.pads[sp + i],
                             a.dilations[i]) for i in range(sp)]
        return [TensorType((x.shape[0], w.shape[0], *out), x.dtype)]

    def reference(a, x, w, b=None):
        sp = x.ndim - 2
        xp = pad_spatial(x, a.pads[:sp], a.pads[sp:])
        win = windows(xp, a.kernel_shape, a.strides, a.dilations)  # N, C, O..., K...
        g = a.group
        n, c = x.shape[:2]
        m = w.shape[0]
        out_sp = win.shape[2:2 + sp]
        win = win.reshape(n, g, c // g, *out_sp, *a.kernel_shape)
        wg = w.reshape(g, m // g, c // g, *a.kernel_shape)
        k_axes_x = [2] + list(range(3 + sp, 3 + 2 * sp))
        k_axes_w = [2] + list(range(3, 3 + sp))
        outs = [np.tensordot(win[:, i], wg[i], axes=([a_ - 1 for a_ in k_axes_x], [a_ - 1 for a_ in k_axes_w]))
                for i in range(g)]  # each: N, O..., M/g
        y = np.concatenate(outs, axis=-1)
        y = np.moveaxis(y, -1, 1)
        if b is not None:
            y = y + b.reshape((1, -1) + (1,) * sp)
        return y.astype(x.dtype)


@register_op(Op.CONV_TRANSPOSE, Category.CONV, inputs=("X", "W", "B?"))
class ConvTranspose:
    """Transposed (fractionally strided) convolution; weight is (C_in, C_out/group, k...)."""

    Attrs = ConvTransposeAttrs

    def infer(a, x, w, b=None):
        sp = _check_spatial("ConvTranspose", a, x, w)
        same_dtype("ConvTranspose", x, w, b)
        if len(a.output_padding) != sp:
            raise ShapeError(f"ConvTranspose output_padding {a.output_padding} must have {sp} entries")
        if isinstance(x.shape[1], int) and x.shape[1] != w.shape[0]:
            raise ShapeError(f"ConvTranspose input has {x.shape[1]} channels, weight expects {w.shape[0]}")
        cout = w.shape[1] * a.group
        if b is not None and tuple(b.shape) != (cout,):
            raise ShapeError(f"ConvTranspose bias must have shape ({cout},), got {b.shape}")
        out = []
        for i in range(sp):
            size = (x.shape[2 + i] - 1) * a.strides[i] + a.output_padding[i] \
                + (a.kernel_shape[i] - 1) * a.dilations[i] + 1 - a.pads[i] - a.pads[sp + i]
            if isinstance(size, int) and size <= 0:
                raise ShapeError(f"ConvTranspose output size along spatial axis {i} would be {size}")
            out.append(size)
        return [TensorType((x.shape[0], cout, *out), x.dtype)]

    def reference(a, x, w, b=None):
        sp = x.ndim - 2
        n, cin = x.shape[:2]
        g = a.group
        cout_g = w.shape[1]
        full = [(x.shape[2 + i] - 1) * a.strides[i] + (a.kernel_shape[i] - 1) * a.dilations[i] + 1
                + a.output_padding[i] for i in range(sp)]
        y = np.zeros((n, cout_g * g, *full), dtype=np.float64)
        xg = x.reshape(n, g, cin // g, *x.shape[2:]).astype(np.float64)
        wg = w.reshape(g, cin // g, cout_g, *a.kernel_shape).astype(np.float64)
        for kidx in np.ndindex(*a.kernel_shape):
            # contribution of kernel tap kidx: y[..., o*s + k*d] += x[..., o] * w[..., k]
            contrib = np.einsum("ngc...,gcm->ngm...", xg, wg[(slice(None),) * 3 + kidx])
            contrib = contrib.reshape(n, g * cout_g, *x.shape[2:])
            index = (slice(None), slice(None)) + tuple(
                slice(k * d, k * d + (x.shape[2 + i] - 1) * s + 1, s)
                for i, (k, d, s) in enumerate(zip(kidx, a.dilations, a.strides)))
            y[index] += contrib
        crop = (slice(None), slice(None)) + tuple(slice(a.pads[i], full[i] - a.pads[sp + i]) for i in range(sp))
        y = y[crop]
        if b is not None:
            y = y + b.reshape((1, -1) + (1,) * sp)
        return y.astype(x.dtype)
