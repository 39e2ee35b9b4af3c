"""The op registry: every IR operator defined once, with its attributes, shape and dtype
inference, numpy reference, and kernel category side by side.

An op is a class decorated with ``@register_op``::

    @register_op(Op.RELU, Category.ELEMENTWISE, inputs=("X",))
    class Relu:
        Attrs = NoAttrs
        def infer(attrs, x): return [x]
        def reference(attrs, x): return np.maximum(x, 0)

``Attrs`` is a frozen dataclass (the typed attribute record of the node), ``infer`` maps input
``TensorType``s to output types, ``reference`` maps numpy arrays to arrays. The Triton lowering
lives in ``codegen`` (which may import triton; this package may not) and a test checks that
every registered op has one. Registering an op twice is an error.
"""

from __future__ import annotations

import dataclasses
import inspect
from enum import Enum
from typing import Any, Callable, Sequence

import numpy as np

from ..ir import Op, TensorType
from ..ir.graph import Graph, Node, Value
from cortado.runtime.errors import ModelFormatError, ShapeError
from cortado.runtime.limits import check_elements

__all__ = ["Category", "OpDef", "NoAttrs", "register_op", "get_op", "all_ops", "make_attrs",
           "infer_types", "run_reference", "apply"]


class Category(str, Enum):
    """Which kernel family an op lowers to; fusion rules are written over these."""

    ELEMENTWISE = "elementwise"   # one output element from the same-index input elements
    VIEW = "view"                 # pure index arithmetic (reshape, transpose, slice, gather...)
    REDUCTION = "reduction"       # reduces axes to a smaller output (ReduceSum, ArgMax, ...)
    NORMALIZATION = "normalization"  # row statistics then an elementwise output (Softmax, LayerNorm)
    CONTRACTION = "contraction"   # MatMul, Gemm
    CONV = "conv"                 # Conv, ConvTranspose
    WINDOW = "window"             # pooling and LRN: a small window per output element
    SCAN = "scan"                 # CumSum, TopK: sequential along one axis
    SCATTER = "scatter"           # ScatterND / ScatterElements: copy, then scattered writes
    SHAPE = "shape"               # Shape, Size: values from the shape alone
    HOST = "host"                 # NonZero, NonMaxSuppression, Unique: sizes from the data, run on the host


@dataclasses.dataclass(frozen=True)
class NoAttrs:
    pass


@dataclasses.dataclass(frozen=True)
class OpDef:
    op: Op
    category: Category
    attrs: type
    inputs: tuple[str, ...]       # "X", optional "B?", variadic "inputs*"
    outputs: tuple[str, ...]
    infer: Callable[..., list[TensorType]]
    reference: Callable[..., Any]
    doc: str

    @property
    def min_inputs(self) -> int:
        return sum(1 for n in self.inputs if not n.endswith(("?", "*")))

    @property
    def max_inputs(self) -> int | None:
        return None if any(n.endswith("*") for n in self.inputs) else len(self.inputs)


_REGISTRY: dict[Op, OpDef] = {}


def register_op(op: Op | str, category: Category, *, inputs: Sequence[str], outputs: Sequence[str] = ("Y",)):
    op = Op(op)

    def decorate(cls):
        if op in _REGISTRY:
            raise RuntimeError(f"op {op.value} is registered twice")
        attrs = getattr(cls, "Attrs", NoAttrs)
        if not (dataclasses.is_dataclass(attrs) and attrs.__dataclass_params__.frozen):
            raise TypeError(f"{cls.__name__}.Attrs must be a frozen dataclass")
        _REGISTRY[op] = OpDef(op, category, attrs, tuple(inputs), tuple(outputs),
                              _plain(cls, "infer"), _plain(cls, "reference"), inspect.getdoc(cls) or "")
        return cls

    return decorate


def _plain(cls, name: str) -> Callable:
    fn = inspect.getattr_static(cls, name)
    return fn.__func__ if isinstance(fn, staticmethod) else fn


def get_op(op: Op | str) -> OpDef:
    try:
        return _REGISTRY[Op(op)]
    except (KeyError, ValueError):
        raise KeyError(f"no IR op named {op!r}") from None


def all_ops() -> list[OpDef]:
    return [_REGISTRY[o] for o in Op if o in _REGISTRY]


def _coerce(value, ftype):
    if isinstance(value, list):
        return tuple(_coerce(v, None) for v in value)
    if isinstance(value, np.ndarray):
        return tuple(value.tolist()) if value.ndim else value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def make_attrs(op: Op | str, **values) -> Any:
    """The typed attribute record for ``op``; unknown names are an error that lists the known."""
    d = get_op(op)
    fields = {f.name: f for f in dataclasses.fields(d.attrs)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ModelFormatError(f"{d.op.value} has no attribute(s) {', '.join(unknown)}; "
                               f"known: {', '.join(fields) or 'none'}")
    return d.attrs(**{k: _coerce(v, fields[k].type) for k, v in values.items()})


def infer_types(op: Op | str, attrs, in_types: Sequence[TensorType | None]) -> list[TensorType]:
    d = get_op(op)
    if len(in_types) < d.min_inputs or (d.max_inputs is not None and len(in_types) > d.max_inputs):
        raise ShapeError(f"{d.op.value} takes {d.min_inputs}..{d.max_inputs or 'many'} inputs, got {len(in_types)}")
    return list(d.infer(attrs, *in_types))


def run_reference(node: Node, arrays: Sequence[np.ndarray | None]) -> list[np.ndarray]:
    """Evaluate one node with the numpy reference; results cast to the node's output dtypes."""
    d = get_op(node.op)
    result = d.reference(node.attrs, *arrays)
    if not isinstance(result, (tuple, list)):
        result = (result,)
    out = []
    for r, v in zip(result, node.outputs):
        r = np.asarray(r)
        if r.dtype != v.dtype.numpy:
            r = r.astype(v.dtype.numpy)
        out.append(r)
    return out


def apply(graph: Graph, op: Op | str, inputs: Sequence[Value | None], *, name: str = "",
          before: Node | None = None, output_names: Sequence[str] | None = None, **attrs) -> Node:
    """Add a node with inferred output types. The usual way passes and frontends build IR.

    A graph whose ``meta["max_elements"]`` is set (frontends set it from the compile's limit)
    refuses a node whose output would exceed it, before anything computes or allocates it."""
    a = make_attrs(op, **attrs)
    types = infer_types(op, a, [None if v is None else v.type for v in inputs])
    limit = graph.meta.get("max_elements")
    if limit is not None:
        for i, t in enumerate(types):
            check_elements(t.shape, f"the output of {Op(op).value}" + (f" #{i}" if len(types) > 1 else ""), limit)
    return graph.add_node(op, inputs, types, a, name=name, before=before, output_names=output_names)
