"""Control flow whose path is known at compile time: If, Loop and Scan, inlined or unrolled
(when it is not, ``ops_control_runtime`` compiles the bodies once as sub-plans).

Kernels are straight-line code, so a branch or a loop is imported by deciding it now:

- ``If`` with a condition known at compile time (a constant, or computed from static shapes)
  imports the taken branch in place;
- ``Loop`` with a known trip count and a continuation condition that stays known unrolls its
  body (at most ``MAX_UNROLL`` times); scan outputs are stacked;
- ``Scan`` (opset 9+) over a static scan length unrolls likewise.

Bodies see the enclosing scope's values by name. Each unrolled copy renames the names the body
defines, so the copies stay apart. A condition or trip count that depends on tensor data makes
the node a run-time one (``ops_control_runtime``).
"""

from __future__ import annotations

import numpy as np

from ...ir import Op
from .context import UnsupportedHere
from .ops_control_runtime import runtime_if, runtime_loop, runtime_scan
from .registry import onnx_op

MAX_UNROLL = 256


def _prefix(ctx, node, tag: str) -> str:
    return f"{node.name or node.op_type}__{tag}{len(ctx.graph.nodes)}__"


@onnx_op("If")
def _if(ctx, node, inputs, attrs):
    if inputs[0] is not None and inputs[0].const is None:

        return runtime_if(ctx, node, inputs, attrs)        # the condition is data: both branches compiled
    cond = bool(ctx.scalar(inputs[0], "If's condition"))
    branch = attrs["then_branch" if cond else "else_branch"]
    return ctx.import_subgraph(branch, ctx.values, ctx.blocked, [], _prefix(ctx, node, "then" if cond else "else"),
                               f"the {'then' if cond else 'else'} branch of If")


def _stack(ctx, parts, axis: int = 0):
    ups = []
    for p in parts:
        shape = list(p.shape)
        shape.insert(axis, 1)
        ups.append(ctx.op(Op.RESHAPE, [p], shape=tuple(shape)))
    return ups[0] if len(ups) == 1 else ctx.op(Op.CONCAT, ups, axis=axis)


@onnx_op("Loop")
def _loop(ctx, node, inputs, attrs):
    try:
        return _unrolled_loop(ctx, node, inputs, attrs)
    except UnsupportedHere:

        return runtime_loop(ctx, node, inputs, attrs)      # a data trip count or condition: a sub-plan


def _unrolled_loop(ctx, node, inputs, attrs):
    body = attrs["body"]
    trip = inputs[0] if inputs else None
    cond_in = inputs[1] if len(inputs) > 1 else None
    state = list(inputs[2:])
    m = ctx.ints(trip, "Loop's trip count")[0] if trip is not None else None
    cond = bool(ctx.scalar(cond_in, "Loop's condition")) if cond_in is not None else True
    if m is not None and not isinstance(m, int):
        raise UnsupportedHere("Loop's trip count must be a static number")
    limit = MAX_UNROLL if m is None else m
    if limit > MAX_UNROLL:
        raise UnsupportedHere(f"Loop of {limit} iterations is more than the {MAX_UNROLL} Cortado unrolls")
    n_state = len(state)
    scans: list[list] = []
    i = 0
    while i < limit and cond:
        bind = [ctx.const(np.array(i, np.int64)), ctx.const(np.array(cond))] + state
        outs = ctx.import_subgraph(body, ctx.values, ctx.blocked, bind, _prefix(ctx, node, f"it{i}_"),
                                   f"iteration {i} of Loop")
        cond = bool(ctx.scalar(outs[0], "Loop's continuation condition"))
        state = outs[1:1 + n_state]
        if not scans:
            scans = [[] for _ in outs[1 + n_state:]]
        for k, v in enumerate(outs[1 + n_state:]):
            scans[k].append(v)
        i += 1
    if m is None and cond:
        raise UnsupportedHere(f"Loop still runs after {MAX_UNROLL} iterations")
    n_scan = len(node.output) - n_state
    if n_scan and i == 0:
        raise UnsupportedHere("a Loop that runs no iteration has empty scan outputs")
    return state + [_stack(ctx, s) for s in scans[:n_scan]]


@onnx_op("Scan")
def _scan(ctx, node, inputs, attrs):
    if ctx.opset < 9:
        raise UnsupportedHere("Scan before opset 9 (with sequence_lens) is not supported")
    body = attrs["body"]
    n_in = int(attrs["num_scan_inputs"])
    state, xs = list(inputs[:len(inputs) - n_in]), list(inputs[len(inputs) - n_in:])
    in_axes = list(attrs.get("scan_input_axes", [0] * n_in))
    in_dirs = list(attrs.get("scan_input_directions", [0] * n_in))
    n_out = len(node.output) - len(state)
    out_axes = list(attrs.get("scan_output_axes", [0] * n_out))
    out_dirs = list(attrs.get("scan_output_directions", [0] * n_out))
    axes = [a % x.type.rank for a, x in zip(in_axes, xs)]
    lengths = {x.shape[a] for x, a in zip(xs, axes)}
    if len(lengths) == 1 and not isinstance(next(iter(lengths)), int):

        return runtime_scan(ctx, node, inputs, attrs, state, xs, axes, in_dirs, out_axes, out_dirs)  # a sub-plan
    if len(lengths) != 1 or not isinstance(next(iter(lengths)), int):
        raise UnsupportedHere("Scan needs one static scan length")
    steps = next(iter(lengths))
    if steps > MAX_UNROLL:
        raise UnsupportedHere(f"Scan of {steps} steps is more than the {MAX_UNROLL} Cortado unrolls")
    outs_t: list[list] = [[] for _ in range(n_out)]
    for t in range(steps):
        parts = []
        for x, a, d in zip(xs, axes, in_dirs):
            k = steps - 1 - t if d else t
            starts = [0] * x.type.rank
            ends = list(x.shape)
            starts[a], ends[a] = k, k + 1
            sl = ctx.op(Op.SLICE, [x], starts=tuple(starts), ends=tuple(ends), steps=(1,) * x.type.rank)
            parts.append(ctx.op(Op.RESHAPE, [sl], shape=tuple(d_ for j, d_ in enumerate(x.shape) if j != a)))
        res = ctx.import_subgraph(body, ctx.values, ctx.blocked, state + parts, _prefix(ctx, node, f"step{t}_"),
                                  f"step {t} of Scan")
        state = res[:len(state)]
        for j, v in enumerate(res[len(state):]):
            outs_t[j].append(v)
    results = []
    for j, seq in enumerate(outs_t):
        if out_dirs[j] if j < len(out_dirs) else 0:
            seq = seq[::-1]
        axis = out_axes[j] % (seq[0].type.rank + 1) if j < len(out_axes) else 0
        results.append(_stack(ctx, seq, axis))
    return state + results
