"""Binary ``.caffemodel`` weights, decoded with message classes Cortado defines itself.

A caffemodel is a serialized ``NetParameter`` whose layers carry their learned ``blobs``.
Only the fields needed to find those blobs are declared here (with their ``caffe.proto``
field numbers), built at import time through protobuf's descriptor API; every other field in
the file (layer parameters, fork-specific additions) is skipped by the protobuf parser. Both
layer formats are read: current ``layer`` (field 100) and legacy V1 ``layers`` (field 2,
including the V0 ``layer`` nested inside). Blobs may give their shape as ``shape`` or as the
legacy num/channels/height/width, and hold ``float`` or ``double`` data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from cortado.runtime.errors import ModelLoadError, WeightsError

from ..files import read_model_file

__all__ = ["Blob", "load_caffemodel", "fit_blob"]

MAX_CAFFEMODEL_BYTES = 2**31 - 1     # protobuf's limit on one serialized message

_F = descriptor_pb2.FieldDescriptorProto
_TYPES = {"string": _F.TYPE_STRING, "int32": _F.TYPE_INT32, "int64": _F.TYPE_INT64, "float": _F.TYPE_FLOAT,
          "double": _F.TYPE_DOUBLE}

# (message, [(field name, number, type, repeated)]) -- numbers from caffe.proto
_MESSAGES = [
    ("BlobShape", [("dim", 1, "int64", True)]),
    ("BlobProto", [("num", 1, "int64", False), ("channels", 2, "int64", False), ("height", 3, "int64", False),
                   ("width", 4, "int64", False), ("data", 5, "float", True), ("shape", 7, "BlobShape", False),
                   ("double_data", 8, "double", True)]),
    ("LayerParameter", [("name", 1, "string", False), ("type", 2, "string", False),
                        ("blobs", 7, "BlobProto", True)]),
    ("V0LayerParameter", [("name", 1, "string", False), ("type", 2, "string", False),
                          ("blobs", 50, "BlobProto", True)]),
    ("V1LayerParameter", [("layer", 1, "V0LayerParameter", False), ("name", 4, "string", False),
                          ("type", 5, "int32", False), ("blobs", 6, "BlobProto", True)]),
    ("NetParameter", [("name", 1, "string", False), ("layers", 2, "V1LayerParameter", True),
                      ("layer", 100, "LayerParameter", True)]),
]


def _message_classes():
    fdp = descriptor_pb2.FileDescriptorProto(name="cortado/caffe_weights.proto", package="cortado.caffe",
                                             syntax="proto2")
    for name, fields in _MESSAGES:
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, repeated in fields:
            f = m.field.add(name=fname, number=number,
                            label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
            if ftype in _TYPES:
                f.type = _TYPES[ftype]
                if repeated and ftype in ("float", "double", "int64"):
                    f.options.packed = True
            else:
                f.type = _F.TYPE_MESSAGE
                f.type_name = f".cortado.caffe.{ftype}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"cortado.caffe.{name}"))
            for name, _ in _MESSAGES}


_CLASSES = _message_classes()
NetParameter = _CLASSES["NetParameter"]


@dataclass
class Blob:
    """One learned blob: its values in their declared shape; ``legacy`` when the shape came
    from num/channels/height/width (always 4-D, padded with leading 1s)."""

    array: np.ndarray
    legacy: bool

    @property
    def empty(self) -> bool:
        return self.array.size == 0


def _blob(b, layer: str, index: int, where: str) -> Blob:
    if len(b.double_data):
        data = np.asarray(b.double_data, dtype=np.float64).astype(np.float32)
    else:
        data = np.asarray(b.data, dtype=np.float32)
    if b.HasField("shape"):
        shape, legacy = tuple(int(d) for d in b.shape.dim), False
    elif any(b.HasField(k) for k in ("num", "channels", "height", "width")):
        shape, legacy = (int(b.num), int(b.channels), int(b.height), int(b.width)), True
    else:
        shape, legacy = (data.size,), False
    if data.size == 0:
        return Blob(np.zeros((0,), np.float32), legacy)
    if any(d < 0 for d in shape) or int(np.prod(shape, dtype=np.int64)) != data.size:
        raise WeightsError(f"blob {index} of layer {layer!r} declares shape {shape} but holds {data.size} values",
                           where=where)
    return Blob(data.reshape(shape), legacy)


def load_caffemodel(path) -> dict[str, list[Blob]]:
    """Layer name -> its blobs, in file order. Layers without blobs are left out."""
    p = Path(os.fspath(path))
    data = read_model_file(p, kind=".caffemodel", max_bytes=MAX_CAFFEMODEL_BYTES, role="weights",
                           too_big="over the 2 GiB a protobuf message can hold", hint="is this really a .caffemodel?",
                           missing_hint="check the path given as weights= / --weights")
    net = NetParameter()
    try:
        net.ParseFromString(data)
    except DecodeError as e:
        hint = None
        if data[:200].lstrip().startswith((b"name", b"layer", b"input", b"#")):
            hint = "this looks like a text prototxt; weights= expects the binary .caffemodel"
        raise ModelLoadError(f"{p} is not a binary Caffe model ({e})", hint=hint) from None
    where = str(p)
    out: dict[str, list[Blob]] = {}
    entries = [(l.name, l.blobs) for l in net.layer]
    for l in net.layers:
        if l.HasField("layer"):
            entries.append((l.layer.name, l.layer.blobs))
        else:
            entries.append((l.name, l.blobs))
    if not net.layer and not net.layers:
        raise ModelLoadError(f"{p} has no layers; is it a Caffe model?")
    for name, blobs in entries:
        if len(blobs):
            out[name] = [_blob(b, name, i, where) for i, b in enumerate(blobs)]   # later copies win, as in Caffe
    return out


def fit_blob(blob: Blob, expected: tuple[int, ...], what: str, where: str) -> np.ndarray:
    """The blob's values in the ``expected`` shape; a mismatch is an error naming both shapes.

    Legacy 4-D blobs match when they equal the expected shape padded with leading 1s
    (an InnerProduct weight of (500, 800) was stored as 1x1x500x800); one value fits a
    scalar need whether it was stored with shape () or (1,)."""
    arr = blob.array
    if tuple(arr.shape) == tuple(expected):
        return arr
    if arr.size == 1 and tuple(expected) in ((), (1,)):   # a scalar stored as () or (1,) (SSD's Normalize)
        return arr.reshape(expected)
    if blob.legacy and len(expected) <= 4 and tuple(arr.shape) == (1,) * (4 - len(expected)) + tuple(expected):
        return arr.reshape(expected)
    raise WeightsError(f"{what} has shape {tuple(arr.shape)} in the weights file, but the layer needs "
                       f"{tuple(expected)}", where=where,
                       hint="the weights do not belong to this prototxt (or the input shape differs)")
