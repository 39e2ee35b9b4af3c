"""``cortado check NET.prototxt``: which layers of a Caffe net Cortado supports, before compiling.

The same table as for ONNX models (``cortado.check``): one ``CheckRow`` per layer of the phase
that would be compiled (TEST, the deploy behaviour), in file order, with its type and status:

- ``supported``: the layer converts (training-only layers such as losses are dropped for
  inference, and say so);
- ``unsupported``: no converter, or the converter refused it; ``reason`` says why;
- ``blocked``: it reads a blob an unsupported layer (or an input without a full shape) would
  make, so it could not be checked.

The layers are converted exactly as compiling would, with the frontend's own builder, but no
weights are drawn: without ``weights`` learned layers get zeros, which only a compile would
refuse. With ``weights`` the .caffemodel is read and its problems are returned as ``notes``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

from .check import CheckRow

__all__ = ["check_caffe"]


def check_caffe(path, *, weights=None, input_shapes: Mapping[str, Sequence] | None = None,
                max_elements: int | None = None) -> tuple[list[CheckRow], list[str]]:
    """(one row per active layer, notes) for a Caffe prototxt; see the module doc.

    Malformed nets raise the same ``CortadoError`` that compiling would."""
    from cortado.runtime.errors import ShapeError

    from .frontends.caffe.context import WeightSource
    from .frontends.caffe.importer import _Builder, _excluded_producers, load_net
    from .frontends.caffe.net import default_stages, select_layers
    from .frontends.caffe.registry import lookup
    from .frontends.caffe.weights import load_caffemodel
    from .ir import Graph
    from .limits import max_elements as max_elements_limit

    p = Path(os.fspath(path))
    limit = max_elements_limit(max_elements)
    net = load_net(p)
    stages, _ = default_stages(net, "TEST")
    kept = select_layers(net, "TEST", 0, stages)
    blobs = load_caffemodel(weights) if weights is not None else None
    wsrc = WeightSource(blobs, random=False, seed=0, where=str(weights) if weights else str(p), max_elements=limit)
    graph = Graph(net.name or p.stem)
    b = _Builder(net, graph, wsrc, dict(input_shapes or {}), [], limit)
    for inp in net.inputs:
        b.declare_input(inp.name, inp.shape, f"net input (line {inp.line})")
    b.run(kept, _excluded_producers(net, kept))
    if b.overrides:
        raise ShapeError(f"--shape names {', '.join(map(repr, b.overrides))}, which the net has no input of",
                         where=str(p))

    refused = {name: why for _, name, why in b.unsupported}
    # why each blob could not be made: an unsupported layer, or an input without a full shape
    poisoned = {v.name: f"input {v.name!r} has no full shape ({v.missing}); give --shape "
                        f"{v.name}={'x'.join(v.shape_hint)}" for v in b.missing_shapes}
    rows: list[CheckRow] = []
    for i, layer in enumerate(kept):
        spec = lookup(layer.type)
        row = CheckRow(i, layer.name, layer.type or "<no type>", None, "float32", "supported")
        if layer.name in refused:
            row.status, row.reason = "unsupported", refused[layer.name]
            poisoned.update({t: f"depends on unsupported {layer.type} layer {layer.name!r}" for t in layer.tops})
        elif spec is not None and spec.kind == "drop":
            row.reason = "training only: dropped for inference"
        elif spec is not None and spec.kind == "input":
            pass
        elif any(bl in poisoned for bl in layer.bottoms):
            row.status = "blocked"
            row.reason = next(poisoned[bl] for bl in layer.bottoms if bl in poisoned)
            poisoned.update({t: row.reason for t in layer.tops})
        else:
            for t in layer.tops:
                poisoned.pop(t, None)
        rows.append(row)
    notes = list(wsrc.problems)
    if weights is None and wsrc.needed:
        notes.append(f"{len(wsrc.needed)} learned layer(s) need weights to compile: --weights NET.caffemodel "
                     "(or --random-weights to try the net)")
    return rows, notes
