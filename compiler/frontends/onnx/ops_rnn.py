"""RNN, GRU and LSTM, unrolled over a static sequence length into MatMul and elementwise IR.

The input projection of every step is one MatMul over the whole sequence,
``X @ W^T + Wb + Rb`` ([seq, batch, gates*hidden]); each step then adds ``H @ R^T`` and applies
the gate equations of the ONNX spec (gate orders: LSTM i,o,f,c; GRU z,r,h). Directions run
forward, reverse, or both (outputs stacked on the direction axis). Unrolling needs a static
sequence length; ``sequence_lens`` shorter than it (padded batches) is not supported.
"""

from __future__ import annotations

import numpy as np

from ...ir import Op
from .context import UnsupportedHere
from .registry import onnx_op

_DEFAULTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _activation(ctx, name: str, x, alpha, beta):
    n = name.lower()
    if n == "sigmoid":
        return ctx.op(Op.SIGMOID, [x])
    if n == "tanh":
        return ctx.op(Op.TANH, [x])
    if n == "relu":
        return ctx.op(Op.RELU, [x])
    if n == "leakyrelu":
        return ctx.op(Op.LEAKY_RELU, [x], alpha=0.01 if alpha is None else alpha)
    if n == "thresholdedrelu":
        return ctx.op(Op.THRESHOLDED_RELU, [x], alpha=1.0 if alpha is None else alpha)
    if n == "hardsigmoid":
        return ctx.op(Op.HARD_SIGMOID, [x], alpha=0.2 if alpha is None else alpha, beta=0.5 if beta is None else beta)
    if n == "elu":
        return ctx.op(Op.ELU, [x], alpha=1.0 if alpha is None else alpha)
    if n == "softsign":
        return ctx.op(Op.SOFTSIGN, [x])
    if n == "softplus":
        return ctx.op(Op.SOFTPLUS, [x])
    if n == "affine":
        y = ctx.op(Op.MUL, [x, ctx.const(np.float32(1.0 if alpha is None else alpha), dtype=x.dtype)])
        return ctx.op(Op.ADD, [y, ctx.const(np.float32(0.0 if beta is None else beta), dtype=x.dtype)])
    if n == "scaledtanh":
        inner = ctx.op(Op.MUL, [x, ctx.const(np.float32(1.0 if beta is None else beta), dtype=x.dtype)])
        return ctx.op(Op.MUL, [ctx.op(Op.TANH, [inner]), ctx.const(np.float32(1.0 if alpha is None else alpha),
                                                                      dtype=x.dtype)])
    raise UnsupportedHere(f"activation {name!r} is not supported")


def _cols(ctx, v, start, size):
    """Columns [start, start+size) of a [batch, n] value."""
    return ctx.op(Op.SLICE, [v], starts=(0, start), ends=(v.shape[0], start + size), steps=(1, 1))


def _row(ctx, v, i, cols=None):
    """Row i of a [rows, ...] value, with the leading axis dropped (and optionally a column range)."""
    shape = list(v.shape)
    starts, ends = [0] * len(shape), list(shape)
    starts[0], ends[0] = i, i + 1
    s = ctx.op(Op.SLICE, [v], starts=tuple(starts), ends=tuple(ends), steps=(1,) * len(shape))
    return ctx.op(Op.RESHAPE, [s], shape=tuple(shape[1:]))


def _transpose2(ctx, w):
    return ctx.op(Op.TRANSPOSE, [w], perm=(1, 0))


@onnx_op("RNN", "GRU", "LSTM")
def _recurrent(ctx, node, inputs, attrs):
    kind = node.op_type
    get = lambda i: inputs[i] if len(inputs) > i else None   # noqa: E731
    x, w, r, b, seq_lens, h0 = get(0), get(1), get(2), get(3), get(4), get(5)
    c0, peep = (get(6), get(7)) if kind == "LSTM" else (None, None)
    if not x.dtype.is_float:
        raise UnsupportedHere(f"{kind} of {x.dtype} is not supported")
    layout = int(attrs.get("layout", 0))
    if layout:
        x = ctx.op(Op.TRANSPOSE, [x], perm=(1, 0, 2))
        h0 = ctx.op(Op.TRANSPOSE, [h0], perm=(1, 0, 2)) if h0 is not None else None
        c0 = ctx.op(Op.TRANSPOSE, [c0], perm=(1, 0, 2)) if c0 is not None else None
    seq, batch, _ = x.shape
    if not isinstance(seq, int):
        raise UnsupportedHere(f"{kind} is unrolled and needs a static sequence length")
    if seq > 512:
        raise UnsupportedHere(f"{kind} over {seq} steps would unroll into too many kernels")
    if seq_lens is not None:
        lens = ctx.ints(seq_lens, f"{kind}'s sequence_lens")
        if any(v != seq for v in lens):
            raise UnsupportedHere(f"{kind} with sequence_lens shorter than the sequence is not supported")
    hidden = int(attrs.get("hidden_size", r.shape[-1]))
    direction = attrs.get("direction", "forward")
    dirs = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}.get(direction)
    if dirs is None:
        raise UnsupportedHere(f"direction {direction!r} is not supported")
    acts = list(attrs.get("activations", ())) or _DEFAULTS[kind] * len(dirs)
    per = len(_DEFAULTS[kind])
    if len(acts) != per * len(dirs):
        raise UnsupportedHere(f"{kind} needs {per * len(dirs)} activations, got {acts}")
    alphas = list(attrs.get("activation_alpha", ()))
    betas = list(attrs.get("activation_beta", ()))
    clip = attrs.get("clip")
    lbr = int(attrs.get("linear_before_reset", 0))
    input_forget = int(attrs.get("input_forget", 0))
    G = _GATES[kind]
    dt = x.dtype

    def act(d, k, v):
        j = d * per + k
        return _activation(ctx, acts[j], v, alphas[j] if j < len(alphas) else None, betas[j] if j < len(betas) else None)

    def clipped(v):
        if clip is None:
            return v
        return ctx.op(Op.CLIP, [v, ctx.const(np.float32(-clip), dtype=dt), ctx.const(np.float32(clip), dtype=dt)])

    ys, hs, cs = [], [], []
    for d, backward in enumerate(dirs):
        wd, rd = _row(ctx, w, d), _row(ctx, r, d)                      # [G*H, I], [G*H, H]
        proj = ctx.op(Op.MATMUL, [x, _transpose2(ctx, wd)])           # [S, B, G*H]
        rb = None
        if b is not None:
            bd = _row(ctx, b, d)                                       # [2*G*H]
            wb = ctx.op(Op.SLICE, [bd], starts=(0,), ends=(G * hidden,), steps=(1,))
            rb = ctx.op(Op.SLICE, [bd], starts=(G * hidden,), ends=(2 * G * hidden,), steps=(1,))
            bias = ctx.op(Op.ADD, [wb, rb])
            if kind == "GRU" and lbr:
                # with linear_before_reset, Rbh goes inside the reset product (added per step)
                zr = ctx.op(Op.SLICE, [bias], starts=(0,), ends=(2 * hidden,), steps=(1,))
                wh = ctx.op(Op.SLICE, [wb], starts=(2 * hidden,), ends=(3 * hidden,), steps=(1,))
                bias = ctx.op(Op.CONCAT, [zr, wh], axis=0)
            proj = ctx.op(Op.ADD, [proj, bias])
        rt = _transpose2(ctx, rd)                                      # [H, G*H]
        h = _row(ctx, h0, d) if h0 is not None else ctx.const(np.zeros((batch, hidden), dt.numpy))
        c = _row(ctx, c0, d) if c0 is not None else ctx.const(np.zeros((batch, hidden), dt.numpy))
        pd = _row(ctx, peep, d) if peep is not None else None
        outs = []
        for t in (range(seq - 1, -1, -1) if backward else range(seq)):
            xt = _row(ctx, proj, t)                                    # [B, G*H]
            if kind == "RNN":
                h = act(d, 0, clipped(ctx.op(Op.ADD, [xt, ctx.op(Op.MATMUL, [h, rt])])))
            elif kind == "GRU":
                hr = ctx.op(Op.MATMUL, [h, rt])                        # [B, 3H]
                z = act(d, 0, clipped(ctx.op(Op.ADD, [_cols(ctx, xt, 0, hidden), _cols(ctx, hr, 0, hidden)])))
                rg = act(d, 0, clipped(ctx.op(Op.ADD, [_cols(ctx, xt, hidden, hidden),
                                                       _cols(ctx, hr, hidden, hidden)])))
                if lbr:
                    inner = _cols(ctx, hr, 2 * hidden, hidden)
                    if rb is not None:
                        inner = ctx.op(Op.ADD, [inner, ctx.op(Op.SLICE, [rb], starts=(2 * hidden,),
                                                              ends=(3 * hidden,), steps=(1,))])
                    cand = ctx.op(Op.MUL, [rg, inner])
                else:
                    rh = ctx.op(Op.SLICE, [rt], starts=(0, 2 * hidden), ends=(hidden, 3 * hidden), steps=(1, 1))
                    cand = ctx.op(Op.MATMUL, [ctx.op(Op.MUL, [rg, h]), rh])
                hc = act(d, 1, clipped(ctx.op(Op.ADD, [_cols(ctx, xt, 2 * hidden, hidden), cand])))
                one = ctx.const(np.ones((), dt.numpy))
                h = ctx.op(Op.ADD, [ctx.op(Op.MUL, [ctx.op(Op.SUB, [one, z]), hc]), ctx.op(Op.MUL, [z, h])])
            else:
                g = ctx.op(Op.ADD, [xt, ctx.op(Op.MATMUL, [h, rt])])   # [B, 4H]: i, o, f, c
                gi, go, gf, gc = (_cols(ctx, g, k * hidden, hidden) for k in range(4))
                if pd is not None:
                    pi, po, pf = (ctx.op(Op.SLICE, [pd], starts=(k * hidden,), ends=((k + 1) * hidden,), steps=(1,))
                                  for k in range(3))
                    gi = ctx.op(Op.ADD, [gi, ctx.op(Op.MUL, [pi, c])])
                    gf = ctx.op(Op.ADD, [gf, ctx.op(Op.MUL, [pf, c])])
                i_t = act(d, 0, clipped(gi))
                f_t = ctx.op(Op.SUB, [ctx.const(np.ones((), dt.numpy)), i_t]) if input_forget \
                    else act(d, 0, clipped(gf))
                c_t = act(d, 1, clipped(gc))
                c = ctx.op(Op.ADD, [ctx.op(Op.MUL, [f_t, c]), ctx.op(Op.MUL, [i_t, c_t])])
                if pd is not None:
                    go = ctx.op(Op.ADD, [go, ctx.op(Op.MUL, [po, c])])
                o_t = act(d, 0, clipped(go))
                h = ctx.op(Op.MUL, [o_t, act(d, 2, c)])
            outs.append(h)
        if backward:
            outs.reverse()
        ys.append(ctx.op(Op.CONCAT, [ctx.op(Op.RESHAPE, [o], shape=(1, 1, batch, hidden)) for o in outs], axis=0))
        hs.append(ctx.op(Op.RESHAPE, [h], shape=(1, batch, hidden)))
        cs.append(ctx.op(Op.RESHAPE, [c], shape=(1, batch, hidden)))
    y = ys[0] if len(ys) == 1 else ctx.op(Op.CONCAT, ys, axis=1)      # [S, D, B, H]
    yh = hs[0] if len(hs) == 1 else ctx.op(Op.CONCAT, hs, axis=0)     # [D, B, H]
    yc = cs[0] if len(cs) == 1 else ctx.op(Op.CONCAT, cs, axis=0)
    if layout:
        y = ctx.op(Op.TRANSPOSE, [y], perm=(2, 0, 1, 3))
        yh = ctx.op(Op.TRANSPOSE, [yh], perm=(1, 0, 2))
        yc = ctx.op(Op.TRANSPOSE, [yc], perm=(1, 0, 2))
    return [y, yh, yc] if kind == "LSTM" else [y, yh]
