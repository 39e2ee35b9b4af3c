"""Run-time control flow: ``If`` whose condition is data and ``Loop`` whose trip count or
condition is data. (Control flow decided at compile time is inlined or unrolled by the ONNX
frontend and never reaches the IR.)

Bodies are IR graphs of their own, held in the node's attributes, whose inputs are the values
the body reads: for If the enclosing values it captures; for Loop the iteration number, the
condition, the loop-carried values, then the captured values. The compiler compiles each body
once into a sub-plan; the runtime runs the taken branch, or the body as many times as the
data says, as a host step (``runtime/control.py``). Output dims that differ between branches,
and a Loop's scan length, are fresh size symbols (``counts``) bound when the step has run.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..ir import DType, Op, TensorType
from .registry import Category, register_op
from cortado.runtime.errors import ShapeError


def _run_body(graph, arrays) -> list[np.ndarray]:
    from .evaluate import evaluate

    outs = evaluate(graph, {v.name: a for v, a in zip(graph.inputs, arrays)})
    return [outs[n] for n in graph.output_names]


@dataclasses.dataclass(frozen=True)
class IfAttrs:
    then_graph: Any = None           # cortado.ir.Graph
    else_graph: Any = None
    out_types: tuple = ()            # the outputs' TensorTypes (fresh symbols where branches differ)
    counts: tuple = ()               # those fresh symbols


@register_op(Op.IF, Category.HOST, inputs=("cond", "captured*"), outputs=("outputs*",))
class If:
    """The then- or else-branch graph on the captured values, chosen by ``cond`` at run time."""

    Attrs = IfAttrs

    def infer(a, cond, *captured):
        if cond.numel != 1:
            raise ShapeError(f"If's condition must hold one element, got {cond}")
        return list(a.out_types)

    def reference(a, cond, *captured):
        return _run_body(a.then_graph if bool(np.asarray(cond).reshape(-1)[0]) else a.else_graph, captured)


@dataclasses.dataclass(frozen=True)
class LoopAttrs:
    body: Any = None                 # inputs: iteration, condition, carried..., captured...
    carried: int = 0
    out_types: tuple = ()            # carried types, then (trips, *scan element) types
    counts: tuple = ()               # the trip-count symbol first, then other fresh dims


@register_op(Op.LOOP, Category.HOST, inputs=("M", "cond", "inputs*"), outputs=("outputs*",))
class Loop:
    """ONNX Loop: run ``body`` while ``iteration < M`` and the condition holds; carried values
    flow from one iteration to the next and scan outputs are stacked along a new first axis."""

    Attrs = LoopAttrs

    def infer(a, m, cond, *rest):
        if m.numel != 1 or cond.numel != 1 or cond.dtype is not DType.BOOL:
            raise ShapeError(f"Loop takes a one-element trip count and bool condition, got {m} and {cond}")
        return list(a.out_types)

    def reference(a, m, cond, *rest):
        from cortado.runtime.control import loop

        def body(arrays):
            return _run_body(a.body, arrays)
        shapes = [tuple(int(d) for d in t.shape[1:]) if all(isinstance(d, int) for d in t.shape[1:]) else None
                  for t in a.out_types[a.carried:]]
        return loop(body, m, cond, rest, a.carried, [t.dtype.numpy for t in a.out_types[a.carried:]], shapes)


@dataclasses.dataclass(frozen=True)
class ScanAttrs:
    body: Any = None                 # inputs: state..., one slice per scan input..., captured...
    state: int = 0
    scan_inputs: int = 0
    in_axes: tuple = ()              # resolved: non-negative
    in_dirs: tuple = ()
    out_axes: tuple = ()
    out_dirs: tuple = ()
    out_types: tuple = ()            # the final states, then the stacked scan outputs
    counts: tuple = ()


@register_op(Op.SCAN, Category.HOST, inputs=("inputs*",), outputs=("outputs*",))
class Scan:
    """ONNX Scan (opset 9+) over a length known only at run time: ``body`` runs once per slice
    of the scan inputs, carrying the state; its scan outputs are stacked."""

    Attrs = ScanAttrs

    def infer(a, *inputs):
        if len(inputs) < a.state + a.scan_inputs:
            raise ShapeError(f"Scan takes {a.state} states and {a.scan_inputs} scan inputs, got {len(inputs)} inputs")
        return list(a.out_types)

    def reference(a, *arrays):
        from cortado.runtime.control import scan

        def body(xs):
            return _run_body(a.body, xs)
        return scan(body, arrays, a.state, a.scan_inputs, a.in_axes, a.in_dirs, a.out_axes, a.out_dirs,
                    [t.dtype.numpy for t in a.out_types[a.state:]], [None] * (len(a.out_types) - a.state))


__all__ = ["If", "Loop", "Scan", "TensorType"]
