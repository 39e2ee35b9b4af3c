"""Mixed precision: store a float32 model's tensors in float16 or bfloat16.

Kernels already compute in float32 registers whatever the storage type: loads upcast, stores
round once, ``tl.dot`` takes half tiles with a float32 accumulator, and reductions and
normalization statistics accumulate in float32. So this pass only changes what lives in
memory — weights, activations between kernels — which halves the bytes every kernel moves.

Decisions (each is what mainstream mixed-precision inference does):

* **The model boundary stays float32.** Graph inputs keep their float32 type and each consumer
  reads them through a ``Cast`` to the half type; every float32 graph output gets a ``Cast``
  back to float32.
  A compiled model therefore takes and returns the same arrays whatever ``dtype`` it was
  compiled with (the casts fuse into the first and last kernels at O2, so they cost one
  float32 read of the input and one float32 write of the output).
* **Constants** (weights) are rounded once, at compile time, to the half type.
* **BatchNormalization parameters stay float32** (scale, bias, mean, variance: per channel,
  so their bytes do not matter, while ``var + eps`` and its reciprocal square root do; ONNX
  allows float32 parameters on a half input). At O2 batch norms are folded into the
  convolution before this pass runs, so the folded weights are rounded once, not twice.
* **Ops listed in ``keep_float32``** run on float32 inputs and produce float32 results; their
  consumers read a cast-down copy. Under float16 the default list holds the reductions whose
  results grow with the reduced size (sums, sums of squares, products, cumulative sums) and
  may leave float16's range (65504); bfloat16 has float32's range and needs none.
* Integer, bool and float64 tensors are never touched, nor are attributes (Resize scales,
  Reshape shapes, Clip bounds given as attributes): they are not float32 tensors.
* A ``Cast(to=float32)`` or ``ConstantOfShape(dtype=float32)`` inside the model produces the
  half type instead: the model's float32 is the half type now. A Cast's own input is never
  converted (it reads any type; rounding first would round twice, e.g. before a float->int).

Run it after the graph passes of the opt level: constant and batch-norm folding then happen in
float32 and their results are rounded once, and common-subexpression elimination cannot merge
the per-consumer input casts back into one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cortado.ir import DType, Graph, Node, Op, Value
from cortado.ops import Category, apply, get_op, infer_types
from cortado.runtime.errors import CortadoError, ShapeError

HALF_TYPES = (DType.FLOAT16, DType.BFLOAT16)

# Results that grow with the reduced size: float32 storage under float16.
FLOAT16_KEEP_FLOAT32 = frozenset({Op.REDUCE_SUM, Op.REDUCE_SUM_SQUARE, Op.REDUCE_PROD, Op.CUM_SUM})

# op -> {input position} whose float32 tensors stay float32 (per-channel statistics)
_FLOAT32_INPUTS = {Op.BATCH_NORMALIZATION: frozenset({1, 2, 3, 4})}

# op -> the attribute naming the op's output element type
_DTYPE_ATTRS = {Op.CAST: "to", Op.CONSTANT_OF_SHAPE: "dtype"}


@dataclass(frozen=True)
class PrecisionConfig:
    """What ``convert_precision`` does. ``dtype``: the storage type of float32 tensors;
    ``keep_float32``: ops whose inputs and results stay float32 (None: the default list)."""

    dtype: DType = DType.FLOAT16
    keep_float32: frozenset | None = None

    def __post_init__(self):
        object.__setattr__(self, "dtype", DType(self.dtype))
        if self.dtype not in HALF_TYPES + (DType.FLOAT32,):
            raise ValueError(f"mixed precision stores float16 or bfloat16 (or float32: no change), "
                             f"not {self.dtype}")
        if self.keep_float32 is not None:
            object.__setattr__(self, "keep_float32", frozenset(Op(o) for o in self.keep_float32))

    @property
    def kept(self) -> frozenset:
        if self.keep_float32 is not None:
            return self.keep_float32
        return FLOAT16_KEEP_FLOAT32 if self.dtype is DType.FLOAT16 else frozenset()


class _Converter:
    def __init__(self, graph: Graph, config: PrecisionConfig):
        self.graph = graph
        self.half = config.dtype
        self.kept = config.kept
        self._converted: dict[tuple, Value] = {}   # (value id, dtype, consumer id or None)

    def convert(self, value: Value, dtype: DType, before: Node | None) -> Value:
        """``value`` as ``dtype``: a rounded constant, or a Cast node — one per value, except
        for graph inputs, which get one per consumer: each then fuses into its consumer's
        kernel (a GEMM operand prologue, say) instead of being written out in half once."""
        if value.dtype is dtype:
            return value
        key = (id(value), dtype, id(before) if value.is_graph_input else None)
        found = self._converted.get(key)
        if found is not None:
            return found
        if value.is_constant:
            new = self.graph.add_constant(value.const.astype(dtype.numpy), name=f"{value.name}_{dtype.value}")
        else:
            new = apply(self.graph, Op.CAST, [value], to=dtype, before=before,
                        name=f"{value.name}_to_{dtype.value}").output
        self._converted[key] = new
        return new

    def node(self, node: Node) -> None:
        storage = DType.FLOAT32 if node.op in self.kept else self.half
        keep32 = _FLOAT32_INPUTS.get(node.op, frozenset())
        for i, v in enumerate(node.inputs):
            if v is None or node.op is Op.CAST:
                continue        # a Cast reads any type: rounding its input first would round twice
            want = DType.FLOAT32 if i in keep32 else storage
            # float32 goes down to the storage type; values this pass made half go back up
            # where float32 is wanted. Other types (ints, float64, a model's own float16
            # under bfloat16) are left as the model has them.
            if (v.dtype, want) in ((DType.FLOAT32, self.half), (self.half, DType.FLOAT32)):
                node.replace_input(i, self.convert(v, want, node))
        field = _DTYPE_ATTRS.get(node.op)
        if field is not None and DType(getattr(node.attrs, field)) is DType.FLOAT32 and storage is not DType.FLOAT32:
            node.attrs = dataclasses.replace(node.attrs, **{field: storage})
        try:
            types = infer_types(node.op, node.attrs, [None if v is None else v.type for v in node.inputs])
        except CortadoError as e:
            raise ShapeError(f"{node.op.value} node {node.name!r} does not accept {self.half} storage: {e.message}",
                             hint="compile with dtype='float32', or keep this op in float32 "
                                  "(PrecisionConfig.keep_float32)") from None
        for out, t in zip(node.outputs, types):
            out.type = t

    def outputs(self, original: list[DType]) -> None:
        """Cast results back to float32 where the graph returned float32.

        The cast goes above trailing views (a Reshape after a Softmax) that feed nothing but
        the output: there it is an epilogue of the kernel that computes the value, where
        after the view it would be a kernel of its own."""
        for i, (v, was) in enumerate(zip(self.graph.outputs, original)):
            if was is not DType.FLOAT32 or v.dtype is DType.FLOAT32:
                continue
            views = self._trailing_views(v)
            if not views:
                self.graph.set_output(i, self.convert(v, DType.FLOAT32, None))
                continue
            views[-1].replace_input(0, self.convert(views[-1].inputs[0], DType.FLOAT32, views[-1]))
            for view in reversed(views):
                (out,) = view.outputs
                out.type = out.type.with_dtype(DType.FLOAT32)

    def _trailing_views(self, v: Value) -> list[Node]:
        """The single-input views producing ``v`` whose results feed only the next view (or,
        for ``v``, only the graph output), nearest first."""
        chain: list[Node] = []
        while True:
            p = v.producer
            if (p is None or get_op(p.op).category is not Category.VIEW or len(p.inputs) != 1
                    or p.inputs[0] is None or p.inputs[0].dtype is not v.dtype):
                return chain
            if chain and (v.users != [chain[-1]] or v.is_graph_output):
                return chain
            if not chain and (v.users or sum(o is v for o in self.graph.outputs) != 1):
                return chain
            chain.append(p)
            v = p.inputs[0]


def convert_precision(graph: Graph, config: PrecisionConfig) -> bool:
    """Store float32 tensors as ``config.dtype`` (see the module docstring); True if changed.

    Handles every registered op: each node's float inputs are converted to its storage type,
    dtype attributes follow, and output types are re-inferred in topological order."""
    if config.dtype is DType.FLOAT32 or graph.meta.get("storage_dtype") == config.dtype.value:
        return False    # nothing to do, or already converted (its boundary casts stay float32)
    if not any(v.dtype is DType.FLOAT32 for v in graph.values()):
        return False
    original = [v.dtype for v in graph.outputs]
    conv = _Converter(graph, config)
    for node in graph.nodes:
        conv.node(node)
    conv.outputs(original)
    # one float32 cast can serve two output view chains; it was placed before the first chain
    # converted, which may come after another reader of it
    graph.toposort()
    for name, c in list(graph.constants.items()):
        if not c.uses and not c.is_graph_output:
            del graph.constants[name]
    graph.meta["storage_dtype"] = config.dtype.value
    return True
