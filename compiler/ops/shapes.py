"""Shape arithmetic shared by the ops' inference rules (broadcasting, axes, windows)."""

from __future__ import annotations

from typing import Sequence

from ..ir import Op, TensorType
from ..ir.dims import Dim, SymExpr, at_least, compare
from cortado.runtime.errors import ShapeError


def broadcast_shapes(*shapes: Sequence[Dim]) -> tuple[Dim, ...]:
    """numpy broadcasting over static and symbolic dims.

    A symbolic dim against 1 gives the symbolic dim; two different symbolic dims, or a
    symbolic dim against a static one other than 1, cannot be proven compatible and are
    refused (the model should make them equal).
    """
    rank = max((len(s) for s in shapes), default=0)
    out: list[Dim] = []
    for axis in range(rank):
        dims = [s[len(s) - rank + axis] for s in shapes if len(s) - rank + axis >= 0]
        result: Dim = 1
        for d in dims:
            if d == 1 or d == result:
                continue
            if result == 1:
                result = d
                continue
            raise ShapeError(f"cannot broadcast shapes {' and '.join(str(tuple(map(str, s))) for s in shapes)}: "
                             f"dims {result} and {d} differ at axis {axis - rank}")
        out.append(result)
    return tuple(out)


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"{what} {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def normalize_axes(axes: Sequence[int], rank: int, what: str = "axes") -> tuple[int, ...]:
    out = tuple(sorted(normalize_axis(a, rank, what) for a in axes))
    if len(set(out)) != len(out):
        raise ShapeError(f"{what} {tuple(axes)} repeat an axis")
    return out


def same_dtype(op: str, *types: TensorType | None):
    present = [t for t in types if t is not None]
    dtypes = {t.dtype for t in present}
    if len(dtypes) > 1:
        raise ShapeError(f"{op} inputs must share one element type, got {', '.join(sorted(map(str, dtypes)))}")
    return present[0].dtype


def window_output(size: Dim, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int = 1,
                  ceil_mode: bool = False) -> Dim:
    """Output length of a sliding window (conv/pool), ONNX rules; ceil_mode drops windows that
    would start inside the end padding."""
    eff = (kernel - 1) * dilation + 1
    span = size + pad_begin + pad_end - eff
    if isinstance(span, int) and span < 0:
        raise ShapeError(f"window of {eff} does not fit input length {size} with padding {pad_begin}+{pad_end}")
    if not ceil_mode:
        return span // stride + 1
    out = (span + stride - 1) // stride + 1
    if isinstance(out, int) and isinstance(size, int) and (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


def auto_pads(auto_pad: str, sizes: Sequence[Dim], kernel: Sequence[int], strides: Sequence[int],
              dilations: Sequence[int]) -> tuple[int, ...]:
    """Explicit [begins..., ends...] pads for SAME_UPPER / SAME_LOWER / VALID."""
    n = len(kernel)
    if auto_pad in ("", "NOTSET"):
        raise ValueError("explicit pads expected")
    if auto_pad == "VALID":
        return (0,) * (2 * n)
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations):
        if isinstance(size, SymExpr):
            raise ShapeError(f"auto_pad={auto_pad} needs static spatial sizes, got {size}")
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        if auto_pad == "SAME_UPPER":
            begins.append(small)
            ends.append(big)
        else:
            begins.append(big)
            ends.append(small)
    return tuple(begins + ends)


# comparisons on shape values: the outcomes of ``compare(a, b)`` (-1, 0, 1) that make each true
_COMPARE = {Op.EQUAL: {0}, Op.LESS: {-1}, Op.LESS_OR_EQUAL: {-1, 0}, Op.GREATER: {1},
            Op.GREATER_OR_EQUAL: {0, 1}}
DECIDABLE = frozenset(_COMPARE) | {Op.MAX, Op.MIN}


def decide(op: Op, x: Dim, y: Dim):
    """One element of Max/Min or a comparison (``DECIDABLE``) of two dims, when the answer is
    the same for every binding of their symbols (sizes, each at least 0): ``N == -1`` is
    False, ``max(N, 0)`` is N, ``max(N, N)`` is N. None when it depends (``N == 1``)."""
    if op in (Op.MAX, Op.MIN):
        if at_least(x, y):
            return x if op is Op.MAX else y
        if at_least(y, x):
            return y if op is Op.MAX else x
        return None
    c = compare(x, y)
    return None if c is None else c in _COMPARE[op]
