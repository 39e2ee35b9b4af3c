"""Reading ONNX files safely: clear errors for missing or non-ONNX files, and external data
only from inside the model's own folder."""

from __future__ import annotations

import os
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from cortado.runtime.errors import ModelLoadError
from cortado.runtime.limits import INDEX_LIMIT, check_elements, element_count

from ..files import read_model_file

MAX_MODEL_BYTES = 4 * 1024**3


def load_model(source, max_elements: int = INDEX_LIMIT) -> tuple[onnx.ModelProto, Path | None]:
    """A ModelProto and the folder its external data may come from (None for in-memory).
    External tensors larger than ``max_elements`` are refused before they are read."""
    if isinstance(source, onnx.ModelProto):
        check_text(source, "model")
        return source, None
    if isinstance(source, (bytes, bytearray)):
        model = _parse(bytes(source), "<bytes>")
        check_text(model, "<bytes>")
        return model, None
    path = Path(os.fspath(source))
    data = read_model_file(path, kind="model", max_bytes=MAX_MODEL_BYTES,
                           too_big=f"larger than the {MAX_MODEL_BYTES}-byte protobuf limit",
                           hint="store the weights as ONNX external data")
    model = _parse(data, str(path))
    check_text(model, str(path))
    load_external_data(model, path.parent, str(path), max_elements)
    return model, path.parent


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise ModelLoadError(f"not a valid ONNX model ({type(e).__name__}: {e})", where=where,
                             hint="the file may be truncated, or another format (.prototxt needs weights=...)") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise ModelLoadError("the file parsed as protobuf but holds no ONNX graph", where=where,
                             hint="is this an ONNX model? Caffe models are .prototxt (+ .caffemodel)")
    return model


def check_text(model: onnx.ModelProto, where: str) -> None:
    """Names, op types and domains must be text: protobuf hands a string field that is not valid
    UTF-8 (a damaged file) back as bytes, which no importer expects."""
    def bad(value) -> bool:
        return isinstance(value, bytes)

    for o in model.opset_import:
        if bad(o.domain):
            raise ModelLoadError(f"an opset_import domain is not valid UTF-8 text ({o.domain!r})", where=where)

    def walk(graph: onnx.GraphProto) -> None:
        for coll in (graph.input, graph.output, graph.value_info, graph.initializer):
            for item in coll:
                if bad(item.name):
                    raise ModelLoadError(f"a value name is not valid UTF-8 text ({item.name!r})", where=where)
        for i, n in enumerate(graph.node):
            fields = [n.op_type, n.domain, n.name, *n.input, *n.output, *(a.name for a in n.attribute)]
            if any(bad(f) for f in fields):
                raise ModelLoadError(f"node #{i} has a name, op type or domain that is not valid UTF-8 text "
                                     f"({next(f for f in fields if bad(f))!r})", where=where,
                                     hint="the file is damaged")
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for g in a.graphs:
                    walk(g)

    walk(model.graph)


def _uses_external(t: onnx.TensorProto) -> bool:
    return t.data_location == onnx.TensorProto.EXTERNAL


def _external_tensors(model: onnx.ModelProto):
    def walk(graph):
        for t in graph.initializer:
            yield t
        for n in graph.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.TENSOR:
                    yield a.t
                elif a.type == onnx.AttributeProto.GRAPH:
                    yield from walk(a.g)
    yield from walk(model.graph)


def _int_entry(info: dict, key: str, t: onnx.TensorProto, where: str) -> int | None:
    value = info.get(key)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ModelLoadError(f"external data {key} {value!r} of tensor {t.name!r} is not an integer",
                             where=where) from None


def load_external_data(model: onnx.ModelProto, folder: Path, where: str, max_elements: int = INDEX_LIMIT) -> None:
    """Fill tensors stored beside the model; refuse any location outside its folder, and any
    tensor over ``max_elements`` or asking for more bytes than its dims hold, before reading."""
    root = folder.resolve()
    for t in _external_tensors(model):
        if not _uses_external(t):
            continue
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        if not loc or os.path.isabs(loc) or loc.startswith(("/", "\\")) or ":" in loc:
            raise ModelLoadError(f"tensor {t.name!r} has external data at {loc!r}, which is not a relative path "
                                 "inside the model's folder", where=where)
        target = (root / loc).resolve()
        if root not in target.parents and target != root:
            raise ModelLoadError(f"tensor {t.name!r} has external data at {loc!r}, which escapes the model's "
                                 "folder (via '..' or a link)", where=where,
                                 hint="keep external data files next to the model")
        if not target.is_file():
            raise ModelLoadError(f"external data file {loc!r} for tensor {t.name!r} is missing", where=where)
        offset = _int_entry(info, "offset", t, where) or 0
        length = _int_entry(info, "length", t, where)
        size = target.stat().st_size
        n = length if length is not None else size - offset
        if offset < 0 or n < 0 or offset + n > size:
            raise ModelLoadError(f"external data for tensor {t.name!r} ({loc!r}, offset {offset}, length {n}) "
                                 f"runs past the end of the {size}-byte file", where=where)
        dims = tuple(int(d) for d in t.dims)
        check_elements(dims, f"tensor {t.name!r}", max_elements, where=where)
        try:
            needed = element_count(dims) * onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
        except (KeyError, ValueError, TypeError):
            needed = None
        if needed is not None and n > needed:
            raise ModelLoadError(f"external data for tensor {t.name!r} is {n} bytes, but its dims {list(dims)} hold "
                                 f"{needed}", where=where)
        with open(target, "rb") as f:
            f.seek(offset)
            t.raw_data = f.read(n)
        t.data_location = onnx.TensorProto.DEFAULT
        del t.external_data[:]
