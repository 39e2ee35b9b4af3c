"""Caffe prototxt (+ .caffemodel) -> IR Graph.

The net is compiled in one phase (TEST by default: the deploy behaviour). Layers run in
file order; blob names are mapped to SSA values as they are written, so an in-place layer
(top == bottom) simply makes a new value that later readers see. Graph inputs come from
``input``/``input_shape``/``input_dim``, ``Input`` layers and data layers; graph outputs are,
as in Caffe, the blobs no kept layer reads (losses and accuracies are dropped, so a train/val
net ends at the logits they read). Unknown or unsupported layers are reported all together,
each with its name and line; so are weight problems.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ...ir import Graph, Op, Sym, TensorType, Value
from ...ir.dims import sanitize_symbol
from ...ops import apply, verify
from cortado.runtime.errors import CortadoError, ModelFormatError, ModelLoadError, ShapeError, UnsupportedOpError, WeightsError

from . import layers_data, layers_forks, layers_math, layers_nn, layers_shape, layers_ssd, layers_upsample, \
    layers_yolo  # noqa: F401  (register converters)
from .context import LayerContext, UnsupportedHere, WeightSource
from .net import LayerDef, NetDef, default_stages, parse_net, select_layers
from .registry import fields_for, lookup
from .textformat import parse_text
from .weights import load_caffemodel
from ...limits import check_elements
from ..files import read_model_file
from ...limits import max_elements as max_elements_limit

__all__ = ["import_caffe", "load_net"]

MAX_PROTOTXT_BYTES = 16 * 1024**2   # the largest published nets are under 1 MiB; parsing 16 MiB takes seconds


def _read_text(path: Path) -> str:
    data = read_model_file(path, kind="prototxt", max_bytes=MAX_PROTOTXT_BYTES,
                           too_big="but a prototxt is text and should be far smaller",
                           hint="is this the .caffemodel? pass it as weights=")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelLoadError(f"{path} is not a text prototxt (it is not UTF-8 text)",
                             hint="a binary .caffemodel goes in weights= / --weights; the model is the .prototxt") \
            from None


def load_net(path) -> NetDef:
    """Parse and bind a prototxt (legacy formats upgraded); no IR is built."""
    p = Path(os.fspath(path))
    return parse_net(parse_text(_read_text(p), str(p)), str(p), fields_for)


@dataclass
class _Pending:
    """An input top that becomes a graph input only if a kept layer reads it."""

    name: str
    shape: tuple | None
    origin: str          # what declared it, for messages
    missing: str = ""    # what is unknown about its shape

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def shape_hint(self) -> list[str]:
        """The known dims, with letters for the unknown ones (for the error's hint)."""
        if self.shape is None:
            return ["N", "C", "H", "W"]
        return [str(d) if d is not None else "NCHW"[i] if len(self.shape) == 4 else "D" for i, d in
                enumerate(self.shape)]


def _resolve_shape(name: str, declared: tuple | None, overrides: dict, origin: str) -> tuple[tuple | None, str]:
    if name in overrides:
        dims = []
        for d in overrides[name]:
            if isinstance(d, str):
                dims.append(Sym(sanitize_symbol(d)))
            elif int(d) <= 0:
                raise ShapeError(f"input_shapes gives {name!r} a non-positive dim {d}")
            else:
                dims.append(int(d))
        return tuple(dims), ""
    if declared is not None and all(d is not None for d in declared):
        if any(d <= 0 for d in declared):
            raise ShapeError(f"{origin} declares shape {declared} for {name!r}; dims must be positive",
                             hint=f"override it with input_shapes={{'{name}': (...)}}")
        return tuple(int(d) for d in declared), ""
    return declared, "shape unknown" if declared is None else \
        "shape " + "x".join("?" if d is None else str(d) for d in declared)


class _Builder:
    def __init__(self, net: NetDef, graph: Graph, weights: WeightSource, overrides: dict, notes: list[str],
                 max_elements: int):
        self.net = net
        self.max_elements = max_elements
        self.graph = graph
        self.weights = weights
        self.overrides = overrides
        self.notes = notes
        self.values: dict[str, Value | _Pending] = {}
        self.read_since_write: dict[str, bool] = {}
        self.write_order: list[str] = []
        self.poisoned: set[str] = set()
        self.unsupported: list[tuple[str, str, str]] = []
        self.missing_shapes: list[_Pending] = []
        self.dropped: dict[str, LayerDef] = {}    # tops of training-only layers

    # -- blobs ------------------------------------------------------------------------------
    def declare_input(self, name: str, shape: tuple | None, origin: str) -> None:
        resolved, missing = _resolve_shape(name, shape, self.overrides, origin)
        self.overrides.pop(name, None)
        if resolved is not None:
            check_elements(resolved, f"input {name!r} ({origin})", self.max_elements, where=self.net.source)
        self.values[name] = _Pending(name, resolved, origin, missing)
        self.read_since_write[name] = True      # an unread input is not an output

    def read(self, layer: LayerDef, name: str, excluded: dict[str, LayerDef]) -> Value | None:
        if name in self.poisoned:
            return None
        v = self.values.get(name)
        if v is None and name in self.dropped:
            d = self.dropped[name]
            raise ModelFormatError(f"{layer.where} reads blob {name!r}, the output of {d.where}, which only "
                                   "exists in training and is dropped for inference", where=self.net.source)
        if v is None:
            hint = None
            if name in excluded:
                e = excluded[name]
                hint = f"blob {name!r} is produced by layer {e.name!r} (line {e.line}), which the include/exclude " \
                       "rules leave out of this phase; choose another phase or stages"
            raise ModelFormatError(f"{layer.where} reads blob {name!r}, which no earlier layer produces",
                                   where=self.net.source, hint=hint)
        if isinstance(v, _Pending):
            if not v.complete:
                self.missing_shapes.append(v)
                self.poisoned.add(name)
                return None
            v = self.graph.add_input(v.name, TensorType(v.shape, "float32"))
            self.values[name] = v
        self.read_since_write[name] = True
        return v

    def write(self, name: str, value: Value) -> None:
        self.values[name] = value
        self.poisoned.discard(name)
        self.dropped.pop(name, None)
        self.read_since_write[name] = False
        if name in self.write_order:
            self.write_order.remove(name)
        self.write_order.append(name)

    # -- layers -----------------------------------------------------------------------------
    def run(self, layers: Sequence[LayerDef], excluded: dict[str, LayerDef]) -> None:
        for layer in layers:
            spec = lookup(layer.type)
            if spec is None:
                self.unsupported.append((layer.type or "<no type>", layer.name, f"line {layer.line}: unknown Caffe "
                                         "layer type; register a converter with "
                                         "cortado.frontends.caffe.register_layer"))
                self.poisoned.update(layer.tops)
                continue
            if spec.kind == "drop":
                spec.fn(LayerContext(self.graph, layer, self.weights, self.notes, layer.tops), layer, [])
                for t in layer.tops:
                    self.values.pop(t, None)
                    self.dropped[t] = layer
                if layer.type in ("Silence", "HDF5Output"):
                    for b in layer.bottoms:
                        self.read_since_write[b] = True
                continue
            if spec.kind == "refused":   # reported even when its bottoms are missing too
                try:
                    spec.fn(LayerContext(self.graph, layer, self.weights, self.notes, layer.tops), layer, [])
                except UnsupportedHere as e:
                    self.unsupported.append((layer.type, layer.name, f"line {layer.line}: {e}"))
                self.poisoned.update(layer.tops)
                continue
            if spec.kind == "input":
                ctx = LayerContext(self.graph, layer, self.weights, self.notes, layer.tops)
                for name, shape in spec.fn(ctx, layer, []):
                    self.declare_input(name, shape, layer.where)
                continue
            inputs = [self.read(layer, b, excluded) for b in layer.bottoms]
            if any(v is None for v in inputs):
                self.poisoned.update(layer.tops)
                continue
            # an in-place top (top == bottom) names its new SSA value after the layer
            names = [layer.name if t in layer.bottoms else t for t in layer.tops]
            ctx = LayerContext(self.graph, layer, self.weights, self.notes, names)
            try:
                outs = spec.fn(ctx, layer, inputs)
            except UnsupportedHere as e:
                self.unsupported.append((layer.type, layer.name, f"line {layer.line}: {e}"))
                self.poisoned.update(layer.tops)
                continue
            except CortadoError as e:   # name the layer (and the file) in every error it causes
                msg = e.message if e.message.startswith(layer.where) else f"{layer.where}: {e.message}"
                raise type(e)(msg, where=e.where or self.net.source, hint=e.hint) from None
            self.weights.check_counts(layer)
            outs = list(outs)
            if len(outs) != len(layer.tops):
                raise ModelFormatError(f"{layer.where} has {len(layer.tops)} top(s) but its converter made "
                                       f"{len(outs)}", where=self.net.source)
            for top, v in zip(layer.tops, outs):
                if not isinstance(v, Value) or v.graph is not self.graph:
                    raise TypeError(f"the converter for {layer.type} returned {v!r} for top {top!r}, not a value of "
                                    "this graph")
                self.write(top, v)

    def outputs(self) -> None:
        used: set[int] = set()
        for name in self.write_order:
            if self.read_since_write.get(name, True):
                continue
            v = self.values[name]
            if not isinstance(v, Value):
                continue
            if id(v) in used or v.is_graph_input or v.is_constant:
                v = apply(self.graph, Op.IDENTITY, [v], name=f"{name}/output", output_names=[name]).outputs[0]
            used.add(id(v))
            self.graph.add_output(v, name)


def _excluded_producers(net: NetDef, kept: Sequence[LayerDef]) -> dict[str, LayerDef]:
    ids = {id(l) for l in kept}
    out: dict[str, LayerDef] = {}
    for l in net.layers:
        if id(l) not in ids:
            for t in l.tops:
                out.setdefault(t, l)
    return out


def import_caffe(path, *, weights=None, random_weights: bool | int = False,
                 input_shapes: Mapping[str, Sequence] | None = None, quiet: bool = False, phase: str = "TEST",
                 stages: Sequence[str] | None = None, level: int = 0, max_elements: int | None = None) -> Graph:
    """A Caffe net as an IR graph.

    ``weights``: a binary ``.caffemodel`` (blobs matched to layers by name). Without it a net
    with learned layers is an error unless ``random_weights`` is set (True, or an int seed),
    which fills every blob with seeded random values — and says so. ``input_shapes`` sets or
    overrides input shapes by blob name (strings make symbolic dims). ``phase``, ``stages`` and
    ``level`` select layers by their include/exclude rules, as Caffe's NetState does.
    Notices (dropped layers, random weights, chosen stage) go to ``graph.meta["notices"]``
    and, unless ``quiet``, to stderr. ``max_elements`` bounds every blob, input and weight
    (see ``cortado.limits``); it is checked before a blob is read or drawn.
    """
    limit = max_elements_limit(max_elements)
    p = Path(os.fspath(path))
    source = str(p)
    if phase not in ("TEST", "TRAIN"):
        raise ModelFormatError(f"phase must be 'TEST' or 'TRAIN', got {phase!r}")
    net = load_net(p)
    notes: list[str] = []
    if stages is None:
        chosen, declared = default_stages(net, phase)
        if chosen and chosen != list(net.state.stage):
            others = [s for s in declared if s not in chosen]
            notes.append(f"compiling stage {chosen[0]!r} of phase {phase}"
                         + (f" (the net also defines {', '.join(map(repr, others))})" if others else "")
                         + "; pass stages=[...] to choose")
        stages = chosen
    else:
        stages = list(net.state.stage) + [s for s in stages if s not in net.state.stage]
    kept = select_layers(net, phase, level, stages)
    if not kept:
        raise ModelFormatError(f"no layer of the net is active in phase {phase} with stages {list(stages)}",
                               where=source)

    blobs = None
    if weights is not None:
        if random_weights:
            raise WeightsError("pass either weights= or random_weights=, not both")
        blobs = load_caffemodel(weights)
    seed = 0 if random_weights is True or not random_weights else int(random_weights)
    wsrc = WeightSource(blobs, random=bool(random_weights), seed=seed, where=str(weights) if weights else source,
                        max_elements=limit)

    graph = Graph(net.name or p.stem)
    graph.meta.update(source="caffe", format=net.format, phase=phase, stages=list(stages), path=source,
                      max_elements=limit)
    overrides = dict(input_shapes or {})
    b = _Builder(net, graph, wsrc, overrides, notes, limit)
    for inp in net.inputs:
        b.declare_input(inp.name, inp.shape, f"net input (line {inp.line})")
    b.run(kept, _excluded_producers(net, kept))

    if overrides:
        known = [n for n, v in b.values.items() if isinstance(v, _Pending) or (isinstance(v, Value) and v.is_graph_input)]
        raise ShapeError(f"input_shapes names {', '.join(map(repr, overrides))}, which the net has no input of",
                         where=source, hint=f"the net's inputs are {', '.join(known) or 'none'}")
    if b.missing_shapes:
        shapes = {p.name: p.shape_hint for p in b.missing_shapes}
        raise ShapeError("the prototxt does not give the full shape of input(s) "
                         + "; ".join(f"{p.name!r} ({p.origin}: {p.missing})" for p in b.missing_shapes),
                         where=source, hint="pass input_shapes={" + ", ".join(f"'{n}': ({', '.join(s)})"
                                                                            for n, s in shapes.items())
                         + "} (CLI: " + " ".join(f"--shape {n}={'x'.join(s)}" for n, s in shapes.items()) + ")")
    if b.unsupported:
        raise UnsupportedOpError(b.unsupported, where=source)
    if wsrc.needed:
        listed = ", ".join(wsrc.needed[:8]) + (f" and {len(wsrc.needed) - 8} more" if len(wsrc.needed) > 8 else "")
        raise WeightsError(f"the net has learned layers ({listed}) but no weights were given", where=source,
                           hint="pass weights=NET.caffemodel (CLI --weights), or random_weights=True "
                                "(CLI --random-weights) to try it with seeded random weights")
    if wsrc.problems:
        raise WeightsError(f"{len(wsrc.problems)} problem(s) with the weights:\n  " + "\n  ".join(wsrc.problems),
                           where=wsrc.where)
    if wsrc.random_count:
        msg = (f"{p.name}: using seeded random weights (seed {seed}) for {len(wsrc.requested)} layer(s); "
               "outputs are meaningless until real weights are given")
        notes.insert(0, msg)
        if quiet:   # nothing is printed: still make sure a Python user hears about it
            warnings.warn(msg, stacklevel=2)
    b.outputs()
    if not graph.outputs:
        raise ModelFormatError("the net has no outputs: every blob is read by a later layer", where=source)
    graph.meta["notices"] = notes
    graph.remove_unused()
    verify(graph)
    if not quiet:
        for n in notes:
            print(f"cortado: note: {n}", file=sys.stderr)
    return graph
