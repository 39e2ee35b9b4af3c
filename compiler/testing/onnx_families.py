"""The op families ``onnx_models`` draws from: each adds one op (or a short idiom) to a model.

A family is ``fn(draw, builder, x, pool, supported) -> Val | None``: it applies an op to ``x``
(other operands come from ``pool`` or are seeded constants), computes the result's shape, and
returns it — or None when the op does not fit ``x`` (or is not supported), which the
strategy simply skips. ``Val.batch`` is the axis holding the symbolic dim ``N`` (any axis: a
batch, a sequence; None when the value has none); ops keep it consistent: a constant never
meets ``N`` with a dim above 1, and a reduction over ``N`` leaves a static result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from onnx import TensorProto

__all__ = ["FAMILIES", "Val"]


@dataclass(frozen=True)
class Val:
    name: str
    shape: tuple[int, ...]
    batch: int | None = None       # the axis that is the symbolic dim N
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        return len(self.shape)


def _axis(draw, rank: int, *, avoid: int | None = None, label: str = "axis") -> int | None:
    choices = [a for a in range(rank) if a != avoid]
    return draw(st.sampled_from(choices), label=label) if choices else None


def _const_shape_for(draw, x: Val) -> tuple[int, ...]:
    """A constant's shape that broadcasts against ``x`` without changing its shape: a suffix
    of ``x``'s shape with some dims 1 (always 1 at the batch axis)."""
    start = draw(st.integers(0, x.rank), label="constant rank")
    shape = list(x.shape[start:])
    for i in range(len(shape)):
        if start + i == x.batch or draw(st.booleans(), label="broadcast dim"):
            shape[i] = 1
    return tuple(shape)


def _broadcast_partner(x: Val, y: Val) -> tuple[tuple[int, ...], int | None] | None:
    """The broadcast shape and batch axis of ``x`` op ``y``, or None if they do not fit."""
    try:
        out = tuple(np.broadcast_shapes(x.shape, y.shape))
    except ValueError:
        return None
    batch = None
    for v in (x, y):
        if v.batch is not None:
            axis = v.batch + len(out) - v.rank
            if batch is not None and batch != axis:
                return None
            batch = axis
    if batch is not None:               # N meets only N or 1
        for v in (x, y):
            axis = batch - (len(out) - v.rank)
            if axis >= 0 and v.batch is None and v.shape[axis] != 1:
                return None
    return out, batch


UNARY = {"Relu": {}, "Sigmoid": {}, "Tanh": {}, "Abs": {}, "Neg": {}, "Softsign": {}, "Softplus": {},
         "Elu": {"alpha": 0.7}, "Selu": {}, "LeakyRelu": {"alpha": 0.2}, "HardSigmoid": {"alpha": 0.3, "beta": 0.4},
         "HardSwish": {}, "Sin": {}, "Cos": {}, "Erf": {}, "Exp": {}, "Celu": {"alpha": 1.5}, "Mish": {},
         "ThresholdedRelu": {"alpha": 0.5}, "Shrink": {"lambd": 0.3, "bias": 0.1}}


def unary(draw, b, x: Val, pool, supported) -> Val | None:
    ops = [op for op in UNARY if op in supported] + ["Sqrt", "Pow", "Clip"]
    op = draw(st.sampled_from(ops), label="unary op")
    if op not in supported:
        return None
    if op == "Sqrt":                   # of |x|: real results
        if "Abs" not in supported:
            return None
        return Val(b.node("Sqrt", [b.node("Abs", [x.name])]), x.shape, x.batch)
    if op == "Pow":
        e = draw(st.sampled_from([2.0, 3.0, 0.5, 1.5]), label="exponent")
        base = x.name if e in (2.0, 3.0) else b.node("Abs", [x.name])
        return Val(b.node("Pow", [base, b.const(np.array(e, np.float32))]), x.shape, x.batch)
    if op == "Clip":
        lo = b.const(np.array(-draw(st.sampled_from([0.5, 1.0, 0.0])), np.float32))
        hi = b.const(np.array(draw(st.sampled_from([1.0, 0.5, 2.0])), np.float32))
        return Val(b.node("Clip", [x.name, lo, hi]), x.shape, x.batch)
    return Val(b.node(op, [x.name], **UNARY[op]), x.shape, x.batch)


def binary(draw, b, x: Val, pool, supported) -> Val | None:
    op = draw(st.sampled_from(["Add", "Mul", "Sub", "Max", "Min", "Div", "PRelu", "Sum"]), label="binary op")
    if op not in supported:
        return None
    partners = [v for v in pool if v.dtype == "float32" and _broadcast_partner(x, v) is not None]
    use_value = op not in ("Div", "PRelu") and partners and draw(st.booleans(), label="value operand")
    if use_value:
        y = partners[draw(st.integers(0, len(partners) - 1), label="partner")]
        first, second = (x, y) if draw(st.booleans(), label="order") else (y, x)
        shape, batch = _broadcast_partner(first, second)
        names = [first.name, second.name] + ([x.name] if op == "Sum" and draw(st.booleans()) else [])
        return Val(b.node(op, names), shape, batch)
    cshape = _const_shape_for(draw, x)
    if op == "Div":                    # a denominator well away from zero
        c = b.const((b.rng.uniform(0.5, 2.0, cshape) * b.rng.choice([-1, 1], cshape)).astype(np.float32))
    elif op == "PRelu":
        c = b.const(b.rng.uniform(0.0, 0.5, cshape).astype(np.float32))
    else:
        c = b.weights(cshape, scale=1.0)
    swap = op not in ("Div", "PRelu") and draw(st.booleans(), label="constant first")
    return Val(b.node(op, [c, x.name] if swap else [x.name, c]), x.shape, x.batch)


def compare_where(draw, b, x: Val, pool, supported) -> Val | None:
    op = draw(st.sampled_from(["Greater", "Less", "GreaterOrEqual", "LessOrEqual"]), label="compare op")
    if op not in supported or "Where" not in supported:
        return None
    c = b.weights(_const_shape_for(draw, x), scale=0.5)
    cond = b.node(op, [x.name, c])
    other = b.weights(_const_shape_for(draw, x), scale=1.0)
    args = [cond, x.name, other] if draw(st.booleans(), label="where order") else [cond, other, x.name]
    return Val(b.node("Where", args), x.shape, x.batch)


def matmul(draw, b, x: Val, pool, supported) -> Val | None:
    if draw(st.booleans(), label="gemm") and "Gemm" in supported and x.rank == 2 and x.batch in (None, 0):
        return _gemm(draw, b, x)
    if "MatMul" not in supported or x.batch == x.rank - 1:
        return None
    k, n = x.shape[-1], draw(st.integers(1, 6), label="matmul N")
    batched = x.rank == 3 and x.batch is None and draw(st.booleans(), label="batched weight")
    wshape = ((draw(st.sampled_from([x.shape[0], 1])),) if batched else ()) + (k, n)
    w = b.weights(wshape)
    out = (x.shape[:-1] + (n,)) if x.rank >= 2 else (n,)
    return Val(b.node("MatMul", [x.name, w]), out, x.batch)


def _gemm(draw, b, x: Val) -> Val:
    m, k = x.shape
    trans_a = x.batch is None and draw(st.booleans(), label="transA")
    if trans_a:
        m, k = k, m
    n = draw(st.integers(1, 6), label="gemm N")
    trans_b = draw(st.booleans(), label="transB")
    w = b.weights((n, k) if trans_b else (k, n))
    bias_shape = draw(st.sampled_from([(n,), (1, n), (), (m, n)]), label="bias shape")
    if bias_shape == (m, n) and x.batch is not None:
        bias_shape = (n,)
    args = [x.name, w]
    attrs = {"transA": int(trans_a), "transB": int(trans_b)}
    if draw(st.booleans(), label="gemm bias"):
        args.append(b.weights(bias_shape, scale=1.0))
        attrs["beta"] = draw(st.sampled_from([1.0, 0.5]))
    attrs["alpha"] = draw(st.sampled_from([1.0, 2.0]))
    return Val(b.node("Gemm", args, **attrs), (m, n), x.batch)


def _window(draw, size: int, *, pads_below_kernel: bool, label: str):
    """(kernel, stride, dilation, pad_begin, pad_end, out) for one spatial axis, or None."""
    k = draw(st.integers(1, 3), label=f"{label} kernel")
    s = draw(st.integers(1, 2), label=f"{label} stride")
    d = draw(st.integers(1, 2), label=f"{label} dilation")
    top = (k - 1) if pads_below_kernel else 2
    pb, pe = (draw(st.integers(0, top), label=f"{label} pad") for _ in range(2))
    out = (size + pb + pe - d * (k - 1) - 1) // s + 1
    return (k, s, d, pb, pe, out) if out >= 1 else None


def conv(draw, b, x: Val, pool, supported) -> Val | None:
    if "Conv" not in supported or x.rank not in (3, 4) or x.batch not in (None, 0):
        return None
    c = x.shape[1]
    groups = [g for g in range(1, c + 1) if c % g == 0]
    g = draw(st.sampled_from(groups), label="groups")
    m = g * draw(st.integers(1, 3), label="outputs per group")
    wins = [_window(draw, n, pads_below_kernel=False, label="conv") for n in x.shape[2:]]
    if any(w is None for w in wins):
        return None
    w = b.weights((m, c // g) + tuple(w[0] for w in wins))
    args = [x.name, w] + ([b.weights((m,), scale=0.5)] if draw(st.booleans(), label="conv bias") else [])
    y = b.node("Conv", args, kernel_shape=[w[0] for w in wins], strides=[w[1] for w in wins],
               dilations=[w[2] for w in wins], pads=[w[3] for w in wins] + [w[4] for w in wins], group=g)
    return Val(y, (x.shape[0], m) + tuple(w[5] for w in wins), x.batch)


def pool(draw, b, x: Val, pool_, supported) -> Val | None:
    if x.rank not in (3, 4) or x.batch not in (None, 0):
        return None
    op = draw(st.sampled_from(["MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "LRN",
                               "BatchNormalization"]), label="window op")
    if op not in supported:
        return None
    if op.startswith("Global"):
        return Val(b.node(op, [x.name]), x.shape[:2] + (1,) * (x.rank - 2), x.batch)
    if op == "BatchNormalization":
        c = x.shape[1]
        scale, bias = b.const(b.rng.uniform(0.5, 1.5, c).astype(np.float32)), b.weights((c,), scale=0.3)
        mean, var = b.weights((c,), scale=0.3), b.const(b.rng.uniform(0.5, 2.0, c).astype(np.float32))
        return Val(b.node(op, [x.name, scale, bias, mean, var], epsilon=1e-5), x.shape, x.batch)
    if op == "LRN":
        if x.rank != 4:               # onnxruntime implements 4-D only
            return None
        size = draw(st.sampled_from([1, 3, 5]), label="lrn size")
        return Val(b.node(op, [x.name], size=size, alpha=1e-2, beta=0.75, bias=1.0), x.shape, x.batch)
    wins = [_window(draw, n, pads_below_kernel=True, label="pool") for n in x.shape[2:]]
    if any(w is None for w in wins):
        return None
    attrs = {"kernel_shape": [w[0] for w in wins], "strides": [w[1] for w in wins],
             "pads": [w[3] for w in wins] + [w[4] for w in wins]}
    if op == "MaxPool":
        attrs["dilations"] = [w[2] for w in wins]
    elif op == "AveragePool":
        attrs["count_include_pad"] = int(draw(st.booleans(), label="count_include_pad"))
    else:
        attrs["p"] = draw(st.sampled_from([2, 1]), label="lp")
    dil = attrs.get("dilations", [1] * len(wins))
    outs = tuple((n + w[3] + w[4] - d * (w[0] - 1) - 1) // w[1] + 1 for n, w, d in zip(x.shape[2:], wins, dil))
    if any(o < 1 for o in outs):
        return None
    return Val(b.node(op, [x.name], **attrs), x.shape[:2] + outs, x.batch)


REDUCE = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare",
          "ReduceL1", "ReduceProd"]


def rows(draw, b, x: Val, pool, supported) -> Val | None:
    op = draw(st.sampled_from(["Softmax", "LogSoftmax"] + REDUCE), label="row op")
    if op not in supported:
        return None
    if op in ("Softmax", "LogSoftmax"):
        axis = draw(st.integers(-x.rank, x.rank - 1), label="softmax axis")
        return Val(b.node(op, [x.name], axis=axis), x.shape, x.batch)
    axes = sorted(set(draw(st.lists(st.integers(0, x.rank - 1), min_size=1, max_size=x.rank), label="axes")))
    keep = draw(st.booleans(), label="keepdims")
    if not keep and len(axes) == x.rank:    # no rank-0 values: several ops (Pad, MatMul) need a dim
        return None
    shape = tuple(1 if a in axes else d for a, d in enumerate(x.shape)) if keep else \
        tuple(d for a, d in enumerate(x.shape) if a not in axes)
    batch = None if x.batch is None or x.batch in axes else (x.batch if keep else x.batch - sum(a < x.batch for a in axes))
    signed = [a - x.rank if draw(st.booleans(), label="negative axis") else a for a in axes]
    return Val(b.node(op, [x.name, b.ints(signed)], keepdims=int(keep)), shape, batch)   # axes: an input (opset 18)


def _factor(draw, total: int, rank: int) -> list[int]:
    """``total`` as a product of ``rank`` dims, its prime factors dealt out at random."""
    dims = [1] * rank
    n, p = total, 2
    while n > 1:
        while n % p == 0:
            dims[draw(st.integers(0, rank - 1), label="factor slot")] *= p
            n //= p
        p += 1
    return dims


def layout(draw, b, x: Val, pool, supported) -> Val | None:
    op = draw(st.sampled_from(["Transpose", "Reshape", "Flatten", "Unsqueeze", "Squeeze"]), label="layout op")
    return globals()[f"_{op.lower()}"](draw, b, x, pool) if op in supported else None


def pieces(draw, b, x: Val, pool, supported) -> Val | None:
    op = draw(st.sampled_from(["Concat", "Slice", "Pad", "Expand"]), label="pieces op")
    return globals()[f"_{op.lower()}"](draw, b, x, pool) if op in supported else None


def _transpose(draw, b, x, pool):
    perm = draw(st.permutations(list(range(x.rank))), label="perm")
    batch = None if x.batch is None else perm.index(x.batch)
    return Val(b.node("Transpose", [x.name], perm=list(perm)), tuple(x.shape[p] for p in perm), batch)


def _reshape(draw, b, x, pool):
    if x.batch not in (None, 0):
        return None
    fixed = x.shape[1:] if x.batch == 0 else x.shape
    rank = draw(st.integers(1, 4 - (x.batch == 0)), label="reshape rank")
    dims = _factor(draw, math.prod(fixed), rank)
    spec = list(dims)
    if draw(st.booleans(), label="reshape -1"):
        spec[draw(st.integers(0, rank - 1))] = -1
    if x.batch == 0:
        return Val(b.node("Reshape", [x.name, b.ints([0] + spec)]), (x.shape[0],) + tuple(dims), 0)
    return Val(b.node("Reshape", [x.name, b.ints(spec)]), tuple(dims))


def _flatten(draw, b, x, pool):
    axis = draw(st.integers(0, x.rank), label="flatten axis")
    if x.batch is not None and not (x.batch == 0 and axis == 1):
        return None
    shape = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
    return Val(b.node("Flatten", [x.name], axis=axis), shape, x.batch)


def _unsqueeze(draw, b, x, pool):
    if x.rank >= 4:
        return None
    axis = draw(st.integers(0, x.rank), label="unsqueeze axis")
    shape = x.shape[:axis] + (1,) + x.shape[axis:]
    batch = None if x.batch is None else x.batch + (axis <= x.batch)
    return Val(b.node("Unsqueeze", [x.name, b.ints([axis])]), shape, batch)


def _squeeze(draw, b, x, pool):
    ones = [a for a, d in enumerate(x.shape) if d == 1 and a != x.batch]
    if not ones or x.rank == 1:
        return None
    axis = draw(st.sampled_from(ones), label="squeeze axis")
    batch = None if x.batch is None else x.batch - (axis < x.batch)
    return Val(b.node("Squeeze", [x.name, b.ints([axis])]), x.shape[:axis] + x.shape[axis + 1:], batch)


def _concat(draw, b, x, pool):
    axis = _axis(draw, x.rank, avoid=x.batch, label="concat axis")
    if axis is None:
        return None
    fits = [v for v in pool if v.dtype == "float32" and v.rank == x.rank and v.batch == x.batch
            and all(d == e for i, (d, e) in enumerate(zip(v.shape, x.shape)) if i != axis)]
    parts = [x.name]
    size = x.shape[axis]
    for _ in range(draw(st.integers(1, 2), label="concat parts")):
        if x.batch is None and draw(st.booleans(), label="constant part"):
            n = draw(st.integers(1, 3), label="part size")
            parts.append(b.weights(x.shape[:axis] + (n,) + x.shape[axis + 1:], scale=1.0))
            size += n
        else:
            v = fits[draw(st.integers(0, len(fits) - 1), label="part")]
            parts.append(v.name)
            size += v.shape[axis]
    if draw(st.booleans(), label="concat order"):
        parts.reverse()
    return Val(b.node("Concat", parts, axis=axis - (x.rank if draw(st.booleans()) else 0)),
               x.shape[:axis] + (size,) + x.shape[axis + 1:], x.batch)


def _slice(draw, b, x, pool):
    axis = _axis(draw, x.rank, avoid=x.batch, label="slice axis")
    if axis is None:
        return None
    n = x.shape[axis]
    step = draw(st.sampled_from([1, 2, -1, -2]), label="step")
    start = draw(st.integers(-n - 1, n + 1), label="start")
    end = draw(st.integers(-n - 1, n + 1), label="end")
    length = len(range(*slice(start, end, step).indices(n)))
    if length == 0:
        return None
    y = b.node("Slice", [x.name, b.ints([start]), b.ints([end]), b.ints([axis]), b.ints([step])])
    return Val(y, x.shape[:axis] + (length,) + x.shape[axis + 1:], x.batch)


def _pad(draw, b, x, pool):
    mode = draw(st.sampled_from(["constant", "reflect", "edge"]), label="pad mode")
    pads = [0] * (2 * x.rank)
    for a in range(x.rank):
        if a == x.batch:
            continue
        top = x.shape[a] - 1 if mode == "reflect" else 2
        pads[a], pads[a + x.rank] = (draw(st.integers(0, max(top, 0)), label="pad") for _ in range(2))
    args = [x.name, b.ints(pads)]
    if mode == "constant":
        args.append(b.const(np.array(draw(st.sampled_from([0.0, 1.5])), np.float32)))
    shape = tuple(d + pads[a] + pads[a + x.rank] for a, d in enumerate(x.shape))
    return Val(b.node("Pad", args, mode=mode), shape, x.batch)


def _expand(draw, b, x, pool):
    target = list(x.shape)
    for a, d in enumerate(target):
        if d == 1 and a != x.batch and draw(st.booleans(), label="expand dim"):
            target[a] = draw(st.integers(2, 4))
    lead = [] if x.batch is not None or x.rank >= 4 else [draw(st.integers(1, 2))] * draw(st.integers(0, 1))
    spec = lead + [1 if a == x.batch else d for a, d in enumerate(target)]
    batch = None if x.batch is None else x.batch + len(lead)
    return Val(b.node("Expand", [x.name, b.ints(spec)]), tuple(lead + target), batch)


def dynamic(draw, b, x: Val, pool, supported) -> Val | None:
    """A data-dependent size (NonZero, Compress along an axis, Unique) reduced back to a static
    shape by a ReduceSum over the dynamic axis, so later ops see static shapes. The sum over an
    empty selection is 0, as in onnxruntime."""
    op = draw(st.sampled_from(["Compress", "NonZero", "Unique"]), label="dynamic op")
    if op not in supported or "ReduceSum" not in supported:
        return None
    if op == "NonZero":
        idx = b.node("NonZero", [b.node("Relu", [x.name])])               # (rank, count): about half kept
        f = b.node("Cast", [idx], to=TensorProto.FLOAT)
        return Val(b.node("ReduceSum", [f, b.ints([1])], keepdims=1), (x.rank, 1))
    if op == "Unique":
        u = b.node("Unique", [b.node("Round", [x.name])])
        return Val(b.node("ReduceSum", [u, b.ints([0])], keepdims=1), (1,))
    axis = _axis(draw, x.rank, label="compress axis")
    others = [a for a in range(x.rank) if a != axis]
    score = b.node("ReduceMax", [x.name, b.ints(others)], keepdims=0) if others else x.name
    cond = b.node("Greater", [score, b.const(np.float32(draw(st.sampled_from([0.0, 0.5, 9.0]), label="cut")))])
    kept = b.node("Compress", [x.name, cond], axis=axis)
    shape = tuple(1 if a == axis else d for a, d in enumerate(x.shape))
    return Val(b.node("ReduceSum", [kept, b.ints([axis])], keepdims=1), shape,
               None if x.batch == axis else x.batch)


FAMILIES = {"elementwise": unary, "binary": binary, "matmul": matmul, "conv": conv, "pool": pool, "rows": rows,
            "layout": layout, "pieces": pieces, "where": compare_where, "dynamic": dynamic}
