"""The graph builder that the random-graph strategies drive, one hypothesis draw at a time.

Every choice goes through ``draw`` so hypothesis can shrink a failing graph: fewer nodes,
smaller shapes, simpler ops, the most recent operand. Constant *values* come from a seeded
numpy generator (one drawn integer per constant) because drawing each element would make
graphs slow to build and no easier to read.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from hypothesis import strategies as st

from cortado.ir import DType, Graph, Op, TensorType, Value
from cortado.ops import apply
from cortado.ops.shapes import broadcast_shapes
from cortado.runtime.errors import CortadoError

F32 = DType.FLOAT32


class GraphBuilder:
    """A graph under construction plus the pool of values new nodes may read."""

    def __init__(self, draw, *, max_dim: int = 4, max_spatial: int = 6, name: str = "random"):
        self.draw = draw
        self.graph = Graph(name)
        self.pool: list[Value] = []
        # values a targeted step is about (the latest result, the graph inputs): picked before
        # the rest of the pool, which stays for constants to share
        self.focus: set[int] = set()
        # ops the draw is weighted toward (the pass's targets): a motif choosing among several
        # ops prefers these, so a pass that rewrites ``Relu(x*c)`` meets Relu, not Elu
        self.wanted: frozenset[Op] = frozenset()
        self.max_dim = max_dim
        self.max_spatial = max_spatial

    # -- drawing -------------------------------------------------------------------------
    def choice(self, options: Sequence):
        """One of ``options``; shrinks toward the first."""
        return self.draw(st.sampled_from(list(options)))

    def prefer(self, options: Sequence):
        """One of ``options``, among those in ``wanted`` when any is (else any of them)."""
        liked = [o for o in options if o in self.wanted]
        return self.choice(liked or options)

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def flag(self) -> bool:
        return self.draw(st.booleans())

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.draw(st.integers(0, 2**16)))

    # -- operands ------------------------------------------------------------------------
    def pick(self, pred: Callable[[Value], bool] = lambda v: True) -> Value | None:
        """A pool value satisfying ``pred`` (one of ``focus`` if any fits); shrinks toward the most
        recent one (deep chains)."""
        cands = [v for v in self.pool if pred(v)]
        if not cands:
            return None
        focused = [v for v in cands if id(v) in self.focus]
        cands = focused or cands
        return cands[-1 - self.integer(0, len(cands) - 1)]

    def pick_float(self, pred: Callable[[Value], bool] = lambda v: True) -> Value | None:
        return self.pick(lambda v: v.dtype is F32 and pred(v))

    # -- constants -----------------------------------------------------------------------
    def constant(self, shape: Sequence[int], kind: str = "normal", *, scale: float = 1.0,
                 dtype: DType = F32, reuse: bool = True) -> Value:
        """A constant of ``shape``: ``normal`` values, ``away`` from zero (divisors), ``positive``
        (variances), or filled with ``zeros``/``ones``/``minus_ones``. With ``reuse`` an existing constant of the
        same shape and kind may be shared (so passes meet constants with several users)."""
        shape = tuple(int(d) for d in shape)
        if reuse and kind == "normal":
            shared = [v for v in self.pool if v.is_constant and tuple(v.shape) == shape and v.dtype is dtype
                      and v.name.startswith("w")]
            if shared and self.flag():
                return self.choice(shared)
        if kind == "zeros":
            arr = np.zeros(shape)
        elif kind == "ones":
            arr = np.ones(shape)
        elif kind == "minus_ones":
            arr = -np.ones(shape)
        else:
            r = self.rng()
            if kind == "positive":
                arr = r.uniform(0.5, 1.5, shape)
            elif kind == "away":
                arr = r.uniform(0.5, 2.0, shape) * r.choice([-1.0, 1.0], shape)
            else:
                arr = r.standard_normal(shape) * scale
        v = self.graph.add_constant(arr.astype(dtype.numpy), name="w" if kind == "normal" else kind)
        self.pool.append(v)
        return v

    def broadcast_shape_for(self, shape: Sequence, *, allow_grow: bool = True) -> tuple[int, ...]:
        """A static shape that broadcasts against ``shape``: a suffix with some dims set to 1,
        sometimes with extra leading dims that grow the result (a broadcast a pass must keep)."""
        rank = len(shape)
        k = self.integer(0, rank)
        grow = allow_grow and self.integer(0, 3) == 3
        out = []
        for d in shape[rank - k:]:
            if d == 1 and grow:
                out.append(self.integer(1, 2))
            else:
                out.append(d if isinstance(d, int) and self.flag() else 1)
        if grow and k == rank and rank < 4 and self.flag():
            out = [self.integer(2, 3)] + out
        return tuple(out)

    # -- nodes ---------------------------------------------------------------------------
    def add(self, op: Op | str, inputs: Sequence[Value | None], **attrs) -> Value | None:
        """Apply ``op``; None (and no node) when its shape rules refuse these operands."""
        try:
            node = apply(self.graph, op, inputs, **attrs)
        except CortadoError:
            return None
        if any(d == 0 for o in node.outputs for d in o.shape):
            self.graph.remove(node)       # Cortado needs non-empty tensors
            return None
        self.pool.extend(node.outputs)
        return node.outputs[0]

    def add_input(self, shape: Sequence, dtype: DType = F32) -> Value:
        v = self.graph.add_input(f"x{len(self.graph.inputs)}", TensorType(tuple(shape), dtype))
        self.pool.append(v)
        return v

    def broadcastable(self, a: Value, b: Value) -> bool:
        try:
            broadcast_shapes(a.shape, b.shape)
        except CortadoError:
            return False
        return True
