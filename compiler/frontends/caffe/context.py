"""What a layer converter works with: the graph, its layer, weights, and notices.

:class:`WeightSource` hands out each layer's learned blobs — from a ``.caffemodel`` (matched
by layer name, checked against the shape the layer needs) or, when asked for, seeded random
values scaled so activations stay finite through deep nets. Problems (a layer missing from the
weights file, an empty blob, a wrong shape, no weights at all) are collected and reported
together once every layer has been seen.
"""

from __future__ import annotations

import zlib
from typing import Sequence

import numpy as np

from ...ir import Graph, Op, Value
from ...ops import apply, get_op
from cortado.runtime.errors import ModelFormatError, WeightsError
from cortado.runtime.limits import INDEX_LIMIT, check_elements

from .net import LayerDef
from .textformat import Message
from .weights import Blob, fit_blob

__all__ = ["LayerContext", "UnsupportedHere", "WeightSource"]


class UnsupportedHere(Exception):
    """Raised by a converter: this layer cannot be imported (the message says why)."""


def _random(init: str, shape: tuple[int, ...], rng: np.random.Generator, fan_in: int | None) -> np.ndarray:
    """Seeded values that keep activations finite through deep nets (drawn in float32:
    AlexNet alone has 60M weights)."""
    normal = lambda std, mean=0.0: rng.standard_normal(shape, dtype=np.float32) * np.float32(std) + np.float32(mean)
    uniform = lambda lo, hi: rng.random(shape, dtype=np.float32) * np.float32(hi - lo) + np.float32(lo)
    if init == "weight":
        fan = fan_in or (int(np.prod(shape[1:])) if len(shape) > 1 else 1)
        return normal(np.sqrt(2.0 / max(fan, 1)))
    if init == "variance":
        return uniform(0.5, 1.5)
    if init == "factor":            # BatchNorm's moving-average scale factor
        return uniform(0.5, 2.0)
    if init == "scale":
        return uniform(0.8, 1.2)
    if init == "slope":
        return uniform(0.1, 0.3)
    if init in ("bias", "mean", "shift"):
        return normal(0.1)
    if init == "normal":
        return normal(1.0)
    raise ValueError(f"unknown random init {init!r}")


class WeightSource:
    """Blobs by layer name from a weights file, or seeded random blobs, with checks."""

    def __init__(self, blobs: dict[str, list[Blob]] | None, *, random: bool, seed: int, where: str,
                 max_elements: int = INDEX_LIMIT):
        self.blobs = blobs
        self.max_elements = max_elements
        self.random = random
        self.seed = seed
        self.where = where
        self.problems: list[str] = []
        self.needed: list[str] = []          # layers that need weights (when none were given)
        self.requested: dict[str, int] = {}  # layer -> number of blobs its converter asked for
        self.random_count = 0
        self._absent: set[str] = set()

    def get(self, layer: LayerDef, index: int, shape: Sequence[int], init: str, *, fan_in: int | None = None,
            what: str = "") -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        self.requested[layer.name] = max(self.requested.get(layer.name, 0), index + 1)
        label = f"blob {index}{f' ({what})' if what else ''} of {layer.where}"
        blob = f"blob {index}{f' ({what})' if what else ''}"   # the importer prefixes the layer
        if any(d < 0 for d in shape):
            raise ModelFormatError(f"{blob} would have the negative shape {shape}")
        check_elements(shape, blob, self.max_elements)   # before drawing or allocating it
        if self.blobs is not None and not self.random:
            blobs = self.blobs.get(layer.name)
            if blobs is None:
                if layer.name not in self._absent:
                    self._absent.add(layer.name)
                    self.problems.append(f"{layer.where} has no blobs in the weights file")
                return np.zeros(shape, np.float32)
            if index >= len(blobs):
                self.problems.append(f"{label}: the weights file has only {len(blobs)} blob(s) for this layer")
                return np.zeros(shape, np.float32)
            if blobs[index].empty:
                self.problems.append(f"{label} is empty in the weights file")
                return np.zeros(shape, np.float32)
            try:
                return fit_blob(blobs[index], shape, label, self.where)
            except WeightsError as e:   # collect, keep going: every problem is reported at once
                self.problems.append(e.message)
                return np.zeros(shape, np.float32)
        if not self.random:
            if layer.name not in self.needed:
                self.needed.append(layer.name)
            return np.zeros(shape, np.float32)
        share = layer.param_names[index] if index < len(layer.param_names) else ""
        key = f"param:{share}" if share else f"{layer.name}#{index}"
        rng = np.random.default_rng([self.seed, zlib.crc32(key.encode())])
        self.random_count += 1
        return _random(init, shape, rng, fan_in)

    def check_counts(self, layer: LayerDef) -> None:
        """A layer must use every blob the file holds for it (Caffe refuses extra blobs too)."""
        if self.blobs is None or self.random or layer.name not in self.blobs:
            return
        have, used = len(self.blobs[layer.name]), self.requested.get(layer.name, 0)
        if have != used:
            self.problems.append(f"{layer.where} uses {used} blob(s) but the weights file has {have} for it "
                                 "(check bias_term and the layer type)")


class LayerContext:
    """Builds the IR for one layer. Node and value names derive from the layer and its tops."""

    def __init__(self, graph: Graph, layer: LayerDef, weights: WeightSource, notes: list[str],
                 top_names: Sequence[str]):
        self.graph = graph
        self.layer = layer
        self.weights = weights
        self.notes = notes
        self.top_names = list(top_names)

    # -- building ---------------------------------------------------------------------------
    def op(self, op: Op | str, inputs: Sequence[Value | None], *, top: int | None = None, **attrs) -> Value:
        """Add one IR node (types inferred) and return its first output. ``top=i`` marks the
        value that becomes the layer's i-th top, so it carries the top's name."""
        base = f"{self.layer.name}/{Op(op).value.lower()}"
        outputs = get_op(op).outputs
        names = [base] if len(outputs) == 1 else [f"{base}_{o.lower()}" for o in outputs]
        if top is not None:
            names[0] = self.top_names[top]
        node = apply(self.graph, op, list(inputs), name=f"{self.layer.name}/{Op(op).value.lower()}",
                     output_names=names, **attrs)
        node.meta.update(caffe_layer=self.layer.name, caffe_type=self.layer.type, line=self.layer.line)
        return node.outputs[0]

    def ops(self, op: Op | str, inputs: Sequence[Value | None], **attrs) -> tuple[Value, ...]:
        """Like ``op`` for an op with several outputs (TopK): all of them."""
        return self.op(op, inputs, **attrs).producer.outputs

    def const(self, array, name: str = "const") -> Value:
        return self.graph.add_constant(np.asarray(array, dtype=np.float32), name=f"{self.layer.name}/{name}")

    def scalar(self, value: float, name: str = "c") -> Value:
        return self.const(np.array(value, dtype=np.float32), name)

    def blob(self, index: int, shape: Sequence[int], init: str = "weight", *, what: str = "",
             fan_in: int | None = None) -> np.ndarray:
        """The layer's ``index``-th learned blob in ``shape`` (checked), as a float32 array.

        ``init`` says how to draw it with random weights: "weight" (He-normal on fan_in),
        "bias", "mean", "shift" (small normal), "variance", "scale", "factor", "slope",
        "normal"."""
        return self.weights.get(self.layer, index, shape, init, fan_in=fan_in, what=what)

    def require(self, *ops: Op) -> None:
        """Refuse the layer (with a clear reason) when an IR op it needs is not available."""
        for op in ops:
            try:
                get_op(op)
            except KeyError:
                raise UnsupportedHere(f"needs the IR op {Op(op).value}, which this build of Cortado does not "
                                      "provide yet") from None

    # -- reporting --------------------------------------------------------------------------
    def note(self, message: str) -> None:
        self.notes.append(f"{self.layer.where}: {message}")

    def unsupported(self, reason: str) -> UnsupportedHere:
        return UnsupportedHere(reason)

    def error(self, message: str, hint: str | None = None) -> ModelFormatError:
        return ModelFormatError(f"{self.layer.where}: {message}", hint=hint)

    def raw_param(self, name: str) -> Message | None:
        """A custom layer's own parameter message (declared with ``register_layer(fields=...)``)."""
        values = self.layer.params.raw(name)
        return values[0] if values else None

    def axis(self, axis: int, rank: int, what: str = "axis", *, allow_end: bool = False) -> int:
        """Caffe's CanonicalAxisIndex: negative counts from the end."""
        hi = rank + 1 if allow_end else rank
        if not -hi <= axis < hi:
            raise self.error(f"{what} {axis} is out of range for a blob of rank {rank}")
        return axis + hi if axis < 0 else axis
