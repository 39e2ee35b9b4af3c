"""Hypothesis strategies for random *valid* ONNX models, for differential testing.

``onnx_models()`` draws a small DAG: one or two float inputs (optionally with one symbolic
dim ``N`` at any axis: a batch, a sequence length, a reduced axis; bound to 0-3, so empty
tensors too), then a few ops from the families below, each applied to a value drawn so far with
operands (other values or seeded constants) whose shapes fit, and one or two outputs. Every
shape is computed here, so a model is valid by construction; onnxruntime is the judge of that.

Families (``onnx_families``): elementwise (unary, binary with broadcasting, compare + Where),
contraction (MatMul, Gemm), windows (Conv, pooling, BatchNormalization, LRN), rows (Softmax,
LogSoftmax, Reduce*), layout (Transpose, Reshape, Flatten, Squeeze/Unsqueeze) and pieces
(Concat, Slice, Pad, Expand) and dynamic (NonZero, Compress, Unique: a data-dependent size,
summed back to a static shape). Ops the ONNX frontend
does not import are never drawn, so the strategy grows with the frontend.

Shrinking works on the draws: fewer ops, lower ranks, smaller dims, earlier family and op
choices, the first input, data seed 0 — a failure shrinks to a model a person can read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from .onnx_families import FAMILIES, Val

__all__ = ["FuzzCase", "ModelBuilder", "Val", "feeds_for", "onnx_models"]

OPSET = 18
SEED_KEY = "cortado.fuzz.data_seed"
BATCH_KEY = "cortado.fuzz.batch"


@dataclass
class FuzzCase:
    """A drawn model, the inputs to run it on, and the op types it uses (for summaries)."""

    model: onnx.ModelProto
    feeds: dict[str, np.ndarray]
    ops: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.feeds.items())
        return f"FuzzCase({' -> '.join(self.ops)}; inputs {shapes})"


class ModelBuilder:
    """Collects nodes and seeded constant initializers; names are fresh and readable."""

    def __init__(self, seed: int):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def const(self, array, prefix: str = "c") -> str:
        name = self.fresh(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weights(self, shape, scale: float | None = None) -> str:
        """Seeded normal float32 weights scaled by fan-in, so activations stay near unit size."""
        fan = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        std = scale if scale is not None else 1.0 / np.sqrt(max(fan, 1))
        return self.const((self.rng.standard_normal(shape) * std).astype(np.float32), "w")

    def ints(self, values) -> str:
        return self.const(np.asarray(values, dtype=np.int64), "i")

    def node(self, op: str, inputs, **attrs) -> str:
        out = self.fresh(op[:1].lower() + op[1:3].lower())
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=f"{op.lower()}_{self.count}", **attrs))
        return out


def feeds_for(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The inputs a fuzzed model runs on: seeded standard normal data, from the seed and batch
    recorded in the model's metadata (so a saved model reproduces its own failure)."""
    meta = {p.key: p.value for p in model.metadata_props}
    rng = np.random.default_rng(int(meta.get(SEED_KEY, 0)))
    batch = int(meta.get(BATCH_KEY, 1))
    feeds = {}
    for vi in model.graph.input:
        dims = [d.dim_value if d.HasField("dim_value") else batch for d in vi.type.tensor_type.shape.dim]
        feeds[vi.name] = rng.standard_normal(dims).astype(np.float32)
    return feeds


def supported_ops() -> set[str]:
    from ..frontends.onnx.registry import supported_onnx_ops

    return set(supported_onnx_ops())


@st.composite
def onnx_models(draw, max_ops: int = 6, families: tuple[str, ...] | None = None, symbolic: bool = True) -> FuzzCase:
    """A random valid ONNX model (see the module docstring) with its inputs."""
    supported = supported_ops()
    names = [f for f in FAMILIES if families is None or f in families]
    data_seed = draw(st.integers(0, 2**16), label="data seed")
    b = ModelBuilder(data_seed + 1)
    sym = symbolic and draw(st.booleans(), label="symbolic batch")
    batch = draw(st.integers(0, 3), label="batch") if sym else 1
    rank = draw(st.sampled_from([2, 4, 3, 1]), label="input rank")
    shape = [draw(st.integers(1, 5)) for _ in range(rank)]
    axis = draw(st.integers(0, rank - 1), label="symbolic axis") if sym else None   # shrinks to the batch
    if sym:
        shape[axis] = batch
    pool = [Val("x", tuple(shape), axis)]
    if draw(st.booleans(), label="second input"):
        other = list(shape[draw(st.integers(0, rank - 1)):])      # a suffix: broadcasts against x
        for i in range(len(other)):
            if draw(st.booleans()):
                other[i] = 1
        j = None if axis is None else axis - (rank - len(other))   # x's symbolic axis in x2
        batch_axis = j if j is not None and j >= 0 and other[j] == batch else None
        if j is not None and j >= 0 and batch_axis is None:
            other[j] = 1           # N meets only N or 1
        pool.append(Val("x2", tuple(other), batch_axis))
    n_inputs = len(pool)
    used: list[str] = []
    for step in range(max_ops):
        # one "more?" draw per op (as st.lists does): the shrinker can delete any op whole
        if step and not draw(st.integers(0, 3), label="more ops"):
            break
        x = pool[len(pool) - 1 - draw(st.integers(0, len(pool) - 1), label="operand")]
        fam = draw(st.sampled_from(names), label="family")
        made = FAMILIES[fam](draw, b, x, pool, supported)
        if made is not None:
            pool.append(made)
            used.append(b.nodes[-1].op_type)
    produced = pool[n_inputs:] or [_identity(b, pool[0])]
    if not used:
        used.append("Identity")
    outs = [produced[-1]]
    if len(produced) > 1 and draw(st.booleans(), label="second output"):
        extra = produced[draw(st.integers(0, len(produced) - 2))]
        if extra.name != outs[0].name:
            outs.append(extra)
    outs = [_identity(b, v) if v.dtype != "float32" else v for v in outs]
    def info(v: Val):
        return helper.make_tensor_value_info(v.name, TensorProto.FLOAT,
                                             ["N" if v.batch == i else d for i, d in enumerate(v.shape)])
    inputs = [info(v) for v in pool[:n_inputs]]
    outputs = [info(v) for v in outs]
    graph = helper.make_graph(b.nodes, "fuzz", inputs, outputs, initializer=b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cortado.fuzz")
    model.ir_version = 8
    helper.set_model_props(model, {SEED_KEY: str(data_seed), BATCH_KEY: str(batch)})
    return FuzzCase(model, feeds_for(model), used)


def _identity(b: ModelBuilder, v: Val) -> Val:
    if v.dtype != "float32":
        return Val(b.node("Cast", [v.name], to=TensorProto.FLOAT), v.shape, v.batch)
    return Val(b.node("Identity", [v.name]), v.shape, v.batch)
