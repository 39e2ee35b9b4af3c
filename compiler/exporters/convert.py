"""``cortado convert``: a Caffe net (prototxt + optional caffemodel) as a checked ONNX file.

The model goes through the same Caffe frontend that ``cortado.compile`` uses, then
``export_onnx``; ``onnx.checker`` must accept the result before anything is written, and the
file is written atomically (a temporary file in the target folder, then one rename), so an
error never leaves a half-written ``.onnx`` behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import onnx

from cortado.runtime.errors import OutputError, ResourceLimitError
from cortado.runtime.loader import usual_mode

from .onnx_export import export_onnx

__all__ = ["convert_caffe", "save_onnx"]

_PROTOBUF_LIMIT = 2**31 - 1


def save_onnx(model: onnx.ModelProto, output) -> Path:
    """Write ``model`` to ``output`` atomically; returns the path."""
    out = Path(os.fspath(output))
    if out.is_dir():
        raise OutputError(f"output {out} is a folder; give a file name such as {out / 'model.onnx'}")
    if not out.parent.is_dir():
        raise OutputError(f"the folder of output {out} does not exist")
    size = model.ByteSize()
    if size > _PROTOBUF_LIMIT:
        raise ResourceLimitError(f"the ONNX model is {size} bytes, over the 2 GiB limit of a single protobuf file")
    data = model.SerializeToString()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    except OSError as e:
        raise OutputError(f"cannot write {out}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        usual_mode(tmp)
        os.replace(tmp, out)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise OutputError(f"cannot write {out}: {e.strerror or e}") from None
        raise
    return out


def convert_caffe(prototxt, weights=None, random_weights: bool | int = False, output=None, *,
                  input_shapes: Mapping[str, Sequence] | None = None, opset: int | None = None,
                  quiet: bool = True, stages: Sequence[str] | None = None) -> onnx.ModelProto:
    """Convert a Caffe net to ONNX (checked with ``onnx.checker``); with ``output``, also
    write it there atomically. Arguments as for ``import_caffe``."""
    from ..frontends.caffe import import_caffe

    graph = import_caffe(prototxt, weights=weights, random_weights=random_weights, input_shapes=input_shapes,
                         quiet=quiet, stages=stages)
    notices = graph.meta.get("notices", [])
    model = export_onnx(graph, opset=opset, doc="Converted from Caffe by Cortado. " + " ".join(notices))
    onnx.checker.check_model(model)
    if output is not None:
        save_onnx(model, output)
    return model
