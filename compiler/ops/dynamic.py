"""Ops whose output size depends on the data: NonZero, NonMaxSuppression, Unique, TopK with a
run-time K (``TopKRuntime``) and SSD's DetectionOutput (the Caffe layer after its box decoding).

Each data-dependent dim is a fresh symbol, named in the node's attributes (``count``) so that
shape inference stays a pure function of the attributes and input types; the frontend picks the
name with ``fresh_symbol``. Nothing binds such a symbol from the inputs: the runtime binds it
when the op has run (``runtime/segments.py``), and every later kernel takes it as a size
argument. These ops run on the host between segments, and their numpy reference *is* the
runtime's host op (``runtime/hostops.py``), so the compiler's reference evaluator and the
runtime compute the same thing.
"""

from __future__ import annotations

import dataclasses

from ..ir import DType, Graph, Op, SymExpr, TensorType
from ..ir.dims import sanitize_symbol
from .registry import Category, register_op
from cortado.runtime.errors import ShapeError
from cortado.runtime.hostops import run_host_op

__all__ = ["HOST_OPS", "fresh_symbol", "host_attrs"]

HOST_OPS = (Op.NON_ZERO, Op.NON_MAX_SUPPRESSION, Op.UNIQUE, Op.TOP_K_RUNTIME, Op.DETECTION_OUTPUT)


def fresh_symbol(graph: Graph, stem: str) -> str:
    """A symbol name no value of ``graph`` uses yet (``nonzero0``, ``nonzero1``, ...), recorded
    in ``graph.meta["dynamic_symbols"]`` so two ops never share one."""
    taken = set(graph.meta.setdefault("dynamic_symbols", []))
    for v in graph.values():
        for d in v.shape:
            if isinstance(d, SymExpr):
                taken |= d.symbols()
    stem = sanitize_symbol(stem)
    i = 0
    while f"{stem}{i}" in taken:
        i += 1
    name = f"{stem}{i}"
    graph.meta["dynamic_symbols"].append(name)
    return name


def host_attrs(node) -> dict:
    """The node's attributes as the runtime's host op takes them (JSON; no ``count``)."""
    return host_attrs_of(node.attrs)


def _sym(name: str) -> SymExpr:
    if not name or not name.isidentifier():
        raise ShapeError(f"a data-dependent size needs a symbol name, got {name!r} (use ops.dynamic.fresh_symbol)")
    return SymExpr.symbol(name)


def _ref(name: str):
    def reference(a, *arrays):
        return run_host_op(name, host_attrs_of(a), arrays)
    return reference


def host_attrs_of(attrs) -> dict:
    """Attribute record -> the host op's attributes (everything but the size symbol)."""
    return {f.name: getattr(attrs, f.name) for f in dataclasses.fields(attrs) if f.name != "count"}


@dataclasses.dataclass(frozen=True)
class CountAttrs:
    count: str = ""      # the symbol of the data-dependent size


@register_op(Op.NON_ZERO, Category.HOST, inputs=("X",))
class NonZero:
    """Indices of the non-zero elements, ``(rank, count)`` int64, in row-major order."""

    Attrs = CountAttrs

    def infer(a, x):
        if x.rank == 0:
            raise ShapeError("NonZero of a scalar is not supported; reshape it to (1,) first")
        return [TensorType((x.rank, _sym(a.count)), DType.INT64)]

    reference = _ref("NonZero")


@dataclasses.dataclass(frozen=True)
class NmsAttrs:
    count: str = ""
    center_point_box: int = 0


@register_op(Op.NON_MAX_SUPPRESSION, Category.HOST,
             inputs=("boxes", "scores", "max_output_boxes_per_class?", "iou_threshold?", "score_threshold?"),
             outputs=("selected_indices",))
class NonMaxSuppression:
    """Greedy per-class NMS (onnxruntime's order): ``(count, 3)`` rows ``[batch, class, box]``."""

    Attrs = NmsAttrs

    def infer(a, boxes, scores, *rest):
        if boxes.rank != 3 or scores.rank != 3 or boxes.shape[2] != 4:
            raise ShapeError(f"NonMaxSuppression takes boxes (B, N, 4) and scores (B, C, N), got {boxes} and {scores}")
        return [TensorType((_sym(a.count), 3), DType.INT64)]

    reference = _ref("NonMaxSuppression")


@dataclasses.dataclass(frozen=True)
class UniqueAttrs:
    count: str = ""
    axis: int | None = None      # resolved: non-negative, or None for the flattened input
    sorted: int = 1


@register_op(Op.UNIQUE, Category.HOST, inputs=("X",), outputs=("Y", "indices", "inverse_indices", "counts"))
class Unique:
    """Distinct elements (or slices along ``axis``) with first indices, inverse map and counts."""

    Attrs = UniqueAttrs

    def infer(a, x):
        u = _sym(a.count)
        if a.axis is None:
            n = x.numel
            y = (u,)
        else:
            if not 0 <= a.axis < x.rank:
                raise ShapeError(f"Unique axis {a.axis} must be resolved into [0, {x.rank})")
            n = x.shape[a.axis]
            y = tuple(u if i == a.axis else d for i, d in enumerate(x.shape))
        return [TensorType(y, x.dtype), TensorType((u,), DType.INT64), TensorType((n,), DType.INT64),
                TensorType((u,), DType.INT64)]

    reference = _ref("Unique")


@dataclasses.dataclass(frozen=True)
class TopKRuntimeAttrs:
    count: str = ""
    axis: int = -1       # resolved: non-negative
    largest: int = 1
    sorted: int = 1


@register_op(Op.TOP_K_RUNTIME, Category.HOST, inputs=("X", "K"), outputs=("Values", "Indices"))
class TopKRuntime:
    """TopK whose K is data: the K best along ``axis`` (best first, ties lower index first)."""

    Attrs = TopKRuntimeAttrs

    def infer(a, x, k):
        if not 0 <= a.axis < x.rank:
            raise ShapeError(f"TopK axis {a.axis} must be resolved into [0, {x.rank})")
        shape = tuple(_sym(a.count) if i == a.axis else d for i, d in enumerate(x.shape))
        return [TensorType(shape, x.dtype), TensorType(shape, DType.INT64)]

    reference = _ref("TopK")


@dataclasses.dataclass(frozen=True)
class DetectionOutputAttrs:
    count: str = ""
    background_label_id: int = 0
    nms_threshold: float = 0.3
    top_k: int = -1                 # candidates per class before NMS (-1: all)
    keep_top_k: int = -1            # rows per image after NMS (-1: all)
    confidence_threshold: float = -3.4028234663852886e38   # Caffe's -FLT_MAX when not given


@register_op(Op.DETECTION_OUTPUT, Category.HOST, inputs=("boxes", "scores"), outputs=("detections",))
class DetectionOutput:
    """SSD's per-class NMS and keep_top_k on decoded boxes ``(N, P, 4)`` (or ``(N, P, C, 4)``
    per class) and scores ``(N, P, C)``: ``(count, 7)`` rows ``[image, label, score, xmin, ymin,
    xmax, ymax]`` (``runtime.hostops.detection_output``)."""

    Attrs = DetectionOutputAttrs

    def infer(a, boxes, scores):
        ok = (scores.rank == 3 and boxes.rank in (3, 4) and boxes.shape[-1] == 4
              and tuple(boxes.shape[:2]) == tuple(scores.shape[:2])
              and (boxes.rank == 3 or boxes.shape[2] == scores.shape[2]))
        if not ok:
            raise ShapeError(f"DetectionOutput takes boxes (N, P, 4) or (N, P, C, 4) and scores (N, P, C), "
                             f"got {boxes} and {scores}")
        return [TensorType((_sym(a.count), 7), scores.dtype)]

    reference = _ref("DetectionOutput")
