"""Data movement by index arithmetic: Slice, Expand, Tile, Pad, Trilu, Range.

Attributes are canonical and full-rank: the frontend resolves negative and out-of-range
starts/ends, omitted axes, and shape-like inputs, so ``reference`` and codegen read the
numbers as they are. Sizes may be symbolic (a Slice to the end of a dynamic batch).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import DType, Op, TensorType
from ..ir.dims import Dim
from .registry import Category, register_op
from .shapes import broadcast_shapes
from cortado.runtime.errors import ShapeError


@dataclasses.dataclass(frozen=True)
class SliceAttrs:
    starts: tuple[Dim, ...] = ()     # per axis, in [0, dim] (step > 0) or [0, dim - 1] (step < 0)
    ends: tuple[Dim, ...] = ()       # per axis, in [0, dim] (step > 0) or [-1, dim - 1] (step < 0)
    steps: tuple[int, ...] = ()      # per axis, non-zero


def slice_length(start: Dim, end: Dim, step: int) -> Dim:
    if step > 0:
        n = (end - start + step - 1) // step
    else:
        n = (start - end - step - 1) // (-step)
    return max(n, 0) if isinstance(n, int) else n


@register_op(Op.SLICE, Category.VIEW, inputs=("data",))
class Slice:
    """out[i] = data[start + i * step] on every axis (Split imports as several Slices)."""

    Attrs = SliceAttrs

    def infer(a, x):
        r = x.rank
        if not (len(a.starts) == len(a.ends) == len(a.steps) == r):
            raise ShapeError(f"Slice starts/ends/steps must have one entry per axis ({r}), got {a}")
        if any(s == 0 for s in a.steps):
            raise ShapeError("Slice steps must be non-zero")
        shape = []
        for d, s, e, st in zip(x.shape, a.starts, a.ends, a.steps):
            if isinstance(d, int) and isinstance(s, int) and isinstance(e, int):
                lo, hi = (0, d) if st > 0 else (0, d - 1)
                if not (lo <= s <= max(hi, lo) and (-1 if st < 0 else 0) <= e <= d):
                    raise ShapeError(f"Slice bounds {a.starts}..{a.ends} must be resolved within {x.shape}")
            shape.append(slice_length(s, e, st))
        return [TensorType(tuple(shape), x.dtype)]

    def reference(a, x):
        index = tuple(slice(s, (None if e < 0 else e), st) for s, e, st in zip(a.starts, a.ends, a.steps))
        return x[index].copy()


@dataclasses.dataclass(frozen=True)
class ExpandAttrs:
    shape: tuple[Dim, ...] = ()      # the output shape (already broadcast with the input's)


@register_op(Op.EXPAND, Category.VIEW, inputs=("input",))
class Expand:
    """Broadcast to ``shape`` (numpy rules; the frontend stores the broadcast result)."""

    Attrs = ExpandAttrs

    def infer(a, x):
        if broadcast_shapes(x.shape, a.shape) != tuple(a.shape):
            raise ShapeError(f"Expand target {a.shape} is not the broadcast of {x.shape} with it")
        return [TensorType(a.shape, x.dtype)]

    def reference(a, x):
        return np.broadcast_to(x, a.shape).copy()


@dataclasses.dataclass(frozen=True)
class TileAttrs:
    repeats: tuple[int, ...] = ()


@register_op(Op.TILE, Category.VIEW, inputs=("input",))
class Tile:
    """Repeat the whole tensor ``repeats[i]`` times along axis i."""

    Attrs = TileAttrs

    def infer(a, x):
        if len(a.repeats) != x.rank or any(r < 1 for r in a.repeats):
            raise ShapeError(f"Tile repeats {a.repeats} must be positive, one per axis of {x.shape}")
        return [TensorType(tuple(d * r for d, r in zip(x.shape, a.repeats)), x.dtype)]

    def reference(a, x):
        return np.tile(x, a.repeats)


@dataclasses.dataclass(frozen=True)
class PadAttrs:
    pads: tuple[int, ...] = ()       # begins..., ends... for every axis; negative crops
    mode: str = "constant"           # constant | reflect | edge | wrap
    value: float = 0.0


@register_op(Op.PAD, Category.VIEW, inputs=("data",))
class Pad:
    """Pad (or, with negative pads, crop) every axis; padding is a constant, a reflection
    without the edge, a copy of the edge, or a wrap-around."""

    Attrs = PadAttrs

    def infer(a, x):
        r = x.rank
        if len(a.pads) != 2 * r:
            raise ShapeError(f"Pad pads {a.pads} must have {2 * r} entries")
        if a.mode not in ("constant", "reflect", "edge", "wrap"):
            raise ShapeError(f"Pad mode {a.mode!r} is not constant, reflect, edge or wrap")
        shape = []
        for i, d in enumerate(x.shape):
            n = d + a.pads[i] + a.pads[r + i]
            if isinstance(n, int) and n < 0:
                raise ShapeError(f"Pad {a.pads} crops axis {i} of size {d} below zero")
            if a.mode == "reflect" and isinstance(d, int) and max(a.pads[i], a.pads[r + i]) >= d and d > 0:
                raise ShapeError(f"reflect Pad of {max(a.pads[i], a.pads[r + i])} needs an axis longer than {d}")
            shape.append(n)
        return [TensorType(tuple(shape), x.dtype)]

    def reference(a, x):
        r = x.ndim
        begins, ends = a.pads[:r], a.pads[r:]
        grow = [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)]
        if a.mode == "constant":
            y = np.pad(x, grow, mode="constant", constant_values=np.asarray(a.value).astype(x.dtype))
        else:
            y = np.pad(x, grow, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[a.mode])
        crop = tuple(slice(-min(b, 0), y.shape[i] + min(e, 0)) for i, (b, e) in enumerate(zip(begins, ends)))
        return y[crop].copy()


@dataclasses.dataclass(frozen=True)
class TriluAttrs:
    upper: int = 1
    k: int = 0


@register_op(Op.TRILU, Category.VIEW, inputs=("input",))
class Trilu:
    """Keep the upper (or lower) triangle of the last two axes, from diagonal ``k``; zero the rest."""

    Attrs = TriluAttrs

    def infer(a, x):
        if x.rank < 2:
            raise ShapeError(f"Trilu needs rank >= 2, got {x.shape}")
        return [x]

    def reference(a, x):
        return (np.triu(x, a.k) if a.upper else np.tril(x, a.k)).copy()


@dataclasses.dataclass(frozen=True)
class RangeAttrs:
    start: float = 0
    delta: float = 1
    size: Dim = 0
    dtype: DType = DType.INT64


@register_op(Op.RANGE, Category.VIEW, inputs=())
class Range:
    """start + i * delta for i < size (the frontend computes size from start, limit, delta)."""

    Attrs = RangeAttrs

    def infer(a):
        if isinstance(a.size, int) and a.size < 0:
            raise ShapeError(f"Range size {a.size} is negative")
        return [TensorType((a.size,), a.dtype)]

    def reference(a):
        dt = DType(a.dtype).numpy
        return (np.asarray(a.start, dtype=dt) + np.arange(a.size).astype(dt) * np.asarray(a.delta, dtype=dt)).astype(dt)


@dataclasses.dataclass(frozen=True)
class BlockAttrs:
    blocksize: int = 1
    mode: str = "DCR"         # DCR (depth-column-row) or CRD


@register_op(Op.DEPTH_TO_SPACE, Category.VIEW, inputs=("input",))
class DepthToSpace:
    """Move blocks of channels into b x b spatial blocks: (N, C*b*b, H, W) -> (N, C, H*b, W*b)."""

    Attrs = BlockAttrs

    def infer(a, x):
        b = a.blocksize
        if x.rank != 4 or b < 1 or a.mode not in ("DCR", "CRD") or \
                (isinstance(x.shape[1], int) and x.shape[1] % (b * b)):
            raise ShapeError(f"DepthToSpace needs NCHW with C divisible by {b}*{b}, got {x.shape} mode {a.mode}")
        n, c, h, w = x.shape
        return [TensorType((n, c // (b * b), h * b, w * b), x.dtype)]

    def reference(a, x):
        n, c, h, w = x.shape
        b = a.blocksize
        if a.mode == "DCR":
            t = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
        else:
            t = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
        return t.reshape(n, c // (b * b), h * b, w * b)


@register_op(Op.SPACE_TO_DEPTH, Category.VIEW, inputs=("input",))
class SpaceToDepth:
    """Move b x b spatial blocks into channels: (N, C, H*b, W*b) -> (N, C*b*b, H, W); the block
    offset is the outer (DCR) or inner (CRD) part of the new channel."""

    Attrs = BlockAttrs

    def infer(a, x):
        b = a.blocksize
        if x.rank != 4 or b < 1 or a.mode not in ("DCR", "CRD") or \
                any(isinstance(d, int) and d % b for d in x.shape[2:]):
            raise ShapeError(f"SpaceToDepth needs NCHW with H and W divisible by {b}, got {x.shape}")
        n, c, h, w = x.shape
        return [TensorType((n, c * b * b, h // b, w // b), x.dtype)]

    def reference(a, x):
        n, c, h, w = x.shape
        b = a.blocksize
        perm = (0, 3, 5, 1, 2, 4) if a.mode == "DCR" else (0, 1, 3, 5, 2, 4)
        t = x.reshape(n, c, h // b, b, w // b, b).transpose(perm)
        return t.reshape(n, c * b * b, h // b, w // b)
