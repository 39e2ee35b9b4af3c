"""Row-wise normalizations: statistics over some axes, then an output of the input's shape."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import Op, TensorType
from .registry import Category, register_op
from .shapes import normalize_axis
from cortado.runtime.errors import ShapeError


@dataclasses.dataclass(frozen=True)
class AxisAttrs:
    axis: int = -1


def _float_input(op: str, x: TensorType):
    if not x.dtype.is_float:
        raise ShapeError(f"{op} needs a floating-point input, got {x.dtype}")
    if x.rank == 0:
        raise ShapeError(f"{op} needs rank >= 1")


def _softmax64(x: np.ndarray, axis: int) -> np.ndarray:
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@register_op(Op.SOFTMAX, Category.NORMALIZATION, inputs=("X",))
class Softmax:
    """exp(x - max) / sum(exp(x - max)) along one axis (opset-13 semantics; older opsets'
    flatten-to-2-D form is rewritten by the frontend into Reshape + Softmax + Reshape)."""

    Attrs = AxisAttrs

    def infer(a, x):
        _float_input("Softmax", x)
        normalize_axis(a.axis, x.rank)
        return [x]

    def reference(a, x):
        return _softmax64(x, normalize_axis(a.axis, x.ndim)).astype(x.dtype)


@register_op(Op.LOG_SOFTMAX, Category.NORMALIZATION, inputs=("X",))
class LogSoftmax:
    """x - max - log(sum(exp(x - max))) along one axis."""

    Attrs = AxisAttrs

    def infer(a, x):
        _float_input("LogSoftmax", x)
        normalize_axis(a.axis, x.rank)
        return [x]

    def reference(a, x):
        axis = normalize_axis(a.axis, x.ndim)
        x64 = x.astype(np.float64)
        s = x64 - x64.max(axis=axis, keepdims=True)
        return (s - np.log(np.exp(s).sum(axis=axis, keepdims=True))).astype(x.dtype)


@register_op(Op.HARDMAX, Category.NORMALIZATION, inputs=("X",))
class Hardmax:
    """1 at the first maximum along ``axis``, 0 elsewhere (opset-13 semantics)."""

    Attrs = AxisAttrs

    def infer(a, x):
        if x.rank == 0:
            raise ShapeError("Hardmax needs rank >= 1")
        normalize_axis(a.axis, x.rank)
        return [x]

    def reference(a, x):
        axis = normalize_axis(a.axis, x.ndim)
        idx = np.expand_dims(np.argmax(x, axis=axis), axis)
        out = np.zeros_like(x)
        np.put_along_axis(out, idx, 1, axis=axis)
        return out


def _moments(x64: np.ndarray, axes: tuple[int, ...]):
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    return mean, var


@dataclasses.dataclass(frozen=True)
class LayerNormAttrs:
    axis: int = -1          # resolved: non-negative; normalizes axes [axis, rank)
    epsilon: float = 1e-5


@register_op(Op.LAYER_NORMALIZATION, Category.NORMALIZATION, inputs=("X", "Scale", "B?"))
class LayerNormalization:
    """(x - mean) / sqrt(var + eps) * Scale + B over the trailing axes from ``axis``; Scale and B
    broadcast against those axes. Statistics are computed in float32 (float64 for float64)."""

    Attrs = LayerNormAttrs

    def infer(a, x, scale, b=None):
        _float_input("LayerNormalization", x)
        if not 0 <= a.axis < x.rank:
            raise ShapeError(f"LayerNormalization axis {a.axis} must be resolved into [0, {x.rank})")
        norm = tuple(x.shape[a.axis:])
        for name, t in (("Scale", scale), ("B", b)):
            if t is None:
                continue
            if t.dtype != x.dtype:
                raise ShapeError(f"LayerNormalization {name} is {t.dtype}, X is {x.dtype}")
            if t.rank > len(norm) or any(d != 1 and d != n for d, n in zip(t.shape[::-1], norm[::-1])):
                raise ShapeError(f"LayerNormalization {name} {t.shape} does not broadcast to the normalized "
                                 f"shape {norm}")
        return [x]

    def reference(a, x, scale, b=None):
        x64 = x.astype(np.float64)
        mean, var = _moments(x64, tuple(range(a.axis, x.ndim)))
        y = (x64 - mean) / np.sqrt(var + a.epsilon) * scale
        if b is not None:
            y = y + b
        return y.astype(x.dtype)


@dataclasses.dataclass(frozen=True)
class EpsAttrs:
    epsilon: float = 1e-5


def _per_channel(op, x, *params):
    _float_input(op, x)
    if x.rank < 2:
        raise ShapeError(f"{op} needs rank >= 2, got {x.shape}")
    for t in params:
        if t.rank != 1 or t.shape[0] != x.shape[1] or t.dtype != x.dtype:
            raise ShapeError(f"{op} scale and bias must be {x.dtype}[{x.shape[1]}], got {t}")


def _channel(t, ndim):
    return t.reshape((1, -1) + (1,) * (ndim - 2))


@register_op(Op.INSTANCE_NORMALIZATION, Category.NORMALIZATION, inputs=("input", "scale", "B"))
class InstanceNormalization:
    """Normalize each (sample, channel) over the spatial axes, then a per-channel affine."""

    Attrs = EpsAttrs

    def infer(a, x, scale, b):
        _per_channel("InstanceNormalization", x, scale, b)
        return [x]

    def reference(a, x, scale, b):
        x64 = x.astype(np.float64)
        mean, var = _moments(x64, tuple(range(2, x.ndim)))
        y = (x64 - mean) / np.sqrt(var + a.epsilon) * _channel(scale, x.ndim) + _channel(b, x.ndim)
        return y.astype(x.dtype)


@dataclasses.dataclass(frozen=True)
class GroupNormAttrs:
    num_groups: int = 1
    epsilon: float = 1e-5


@register_op(Op.GROUP_NORMALIZATION, Category.NORMALIZATION, inputs=("X", "scale", "bias"))
class GroupNormalization:
    """Normalize each (sample, group of C/num_groups channels) over those channels and the
    spatial axes, then a per-channel affine (opset-21 form; the frontend converts opset 18's
    per-group scale)."""

    Attrs = GroupNormAttrs

    def infer(a, x, scale, b):
        _per_channel("GroupNormalization", x, scale, b)
        c = x.shape[1]
        if a.num_groups < 1 or (isinstance(c, int) and c % a.num_groups):
            raise ShapeError(f"GroupNormalization: {c} channels do not split into {a.num_groups} groups")
        return [x]

    def reference(a, x, scale, b):
        n, c = x.shape[:2]
        g = x.astype(np.float64).reshape(n, a.num_groups, -1)
        mean, var = _moments(g, (2,))
        y = ((g - mean) / np.sqrt(var + a.epsilon)).reshape(x.shape)
        return (y * _channel(scale, x.ndim) + _channel(b, x.ndim)).astype(x.dtype)


@dataclasses.dataclass(frozen=True)
class LpNormAttrs:
    axis: int = -1
    p: int = 2


@register_op(Op.LP_NORMALIZATION, Category.NORMALIZATION, inputs=("input",))
class LpNormalization:
    """x / ||x||_p along ``axis`` (p is 1 or 2); a zero norm gives zero."""

    Attrs = LpNormAttrs

    def infer(a, x):
        _float_input("LpNormalization", x)
        normalize_axis(a.axis, x.rank)
        if a.p not in (1, 2):
            raise ShapeError(f"LpNormalization p must be 1 or 2, got {a.p}")
        return [x]

    def reference(a, x):
        axis = normalize_axis(a.axis, x.ndim)
        x64 = x.astype(np.float64)
        norm = np.abs(x64).sum(axis=axis, keepdims=True) if a.p == 1 else \
            np.sqrt((x64 ** 2).sum(axis=axis, keepdims=True))
        with np.errstate(all="ignore"):
            return np.where(norm == 0, 0.0, x64 / norm).astype(x.dtype)


@dataclasses.dataclass(frozen=True)
class MVNAttrs:
    axes: tuple[int, ...] = (0, 2, 3)


@register_op(Op.MEAN_VARIANCE_NORMALIZATION, Category.NORMALIZATION, inputs=("X",))
class MeanVarianceNormalization:
    """(x - mean) / (std + 1e-9) over ``axes`` (ONNX's function body: the std is added to,
    not the variance)."""

    Attrs = MVNAttrs

    def infer(a, x):
        _float_input("MeanVarianceNormalization", x)
        if list(a.axes) != sorted(set(a.axes)) or any(not 0 <= ax < x.rank for ax in a.axes) or not a.axes:
            raise ShapeError(f"MeanVarianceNormalization axes {a.axes} must be resolved, sorted and in range")
        return [x]

    def reference(a, x):
        x64 = x.astype(np.float64)
        mean, var = _moments(x64, tuple(a.axes))
        return ((x64 - mean) / (np.sqrt(var) + 1e-9)).astype(x.dtype)
