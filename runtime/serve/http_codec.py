"""HTTP/REST bodies of the Open Inference Protocol, with Triton's binary tensor extension.

A request body is JSON, or -- when the ``Inference-Header-Content-Length`` header is present
-- that many bytes of JSON followed by the raw bytes of every input whose parameters carry
``binary_data_size``, in input order. Outputs go back as JSON ``data`` (flat, row-major), or
as binary when the output's ``parameters.binary_data`` or the request's
``parameters.binary_data_output`` says so; the response then carries the same header.
Every check names the field at fault and happens before the tensor's data is decoded.
"""

from __future__ import annotations

import json
import math

import numpy as np

from .errors import BadRequest
from .tensors import InferRequest, ModelSignature, numpy_of

HEADER = "Inference-Header-Content-Length"
JSON_KINDS = {"b": "b", "i": "iu", "u": "iu", "f": "iuf"}   # numpy kinds JSON data may have, by dtype kind


def _json(text: bytes, what: str):
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"{what} is not valid JSON ({e})") from None


def _header_length(value, body_len: int) -> int | None:
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        raise BadRequest(f"{HEADER} header must be an integer, got {value!r}") from None
    if not 0 < n <= body_len:
        raise BadRequest(f"{HEADER} header is {n}, but the body has {body_len} bytes")
    return n


def _flag(params, key: str, where: str) -> bool:
    value = params.get(key, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _params(obj: dict, where: str) -> dict:
    params = obj.get("parameters", {})
    if not isinstance(params, dict):
        raise BadRequest(f"{where}.parameters: expected an object, got {type(params).__name__}")
    return params


def decode_request(body: bytes, header_length, sig: ModelSignature) -> InferRequest:
    """A checked ``InferRequest`` from an infer POST body (``header_length``: the value of the
    ``Inference-Header-Content-Length`` header, or None)."""
    n = _header_length(header_length, len(body))
    head = _json(body[:n] if n is not None else body, "the request body")
    blob = memoryview(body)[n:] if n is not None else memoryview(b"")
    if not isinstance(head, dict):
        raise BadRequest(f"the request body must be a JSON object, got {type(head).__name__}")
    rid = head.get("id")
    if rid is not None and not isinstance(rid, str):
        raise BadRequest(f"id: expected a string, got {type(rid).__name__}")
    params = _params(head, "parameters")
    binary_default = _flag(params, "binary_data_output", "parameters")
    items = head.get("inputs")
    if not isinstance(items, list) or not items:
        raise BadRequest("inputs: expected a non-empty list of tensors")
    env: dict = {}
    headers = []
    for i, t in enumerate(items):
        where = f"inputs[{i}]"
        if not isinstance(t, dict):
            raise BadRequest(f"{where}: expected an object, got {type(t).__name__}")
        spec, shape, count = sig.check_tensor(t.get("name"), t.get("datatype"), t.get("shape"), where, env)
        if any(h[0].name == spec.name for h in headers):
            raise BadRequest(f"{where}.name: input {spec.name!r} given twice")
        headers.append((spec, shape, count, t, where))
    sig.check_complete({h[0].name for h in headers})
    inputs, offset = {}, 0
    for spec, shape, count, t, where in headers:
        dtype = numpy_of(spec.datatype, where)
        size = _params(t, where).get("binary_data_size")
        if size is not None:
            if "data" in t:
                raise BadRequest(f"{where}: give either data or parameters.binary_data_size, not both")
            want = count * dtype.itemsize
            if type(size) is not int or size != want:
                raise BadRequest(f"{where}.parameters.binary_data_size: shape {list(shape)} of {spec.datatype} "
                                 f"needs {want} bytes, got {size!r}")
            if offset + size > len(blob):
                raise BadRequest(f"{where}: the body ends before this tensor's {size} binary bytes")
            inputs[spec.name] = np.frombuffer(blob[offset:offset + size], dtype=dtype).reshape(shape)
            offset += size
        else:
            inputs[spec.name] = _json_tensor(t.get("data"), dtype, shape, count, where)
    if offset != len(blob):
        raise BadRequest(f"the body has {len(blob) - offset} bytes after the binary tensors it declares")
    outputs, binary = [], {}
    wanted = head.get("outputs", [])
    if not isinstance(wanted, list):
        raise BadRequest("outputs: expected a list")
    for i, o in enumerate(wanted):
        if not isinstance(o, dict) or not isinstance(o.get("name"), str):
            raise BadRequest(f"outputs[{i}]: expected an object with a string name")
        outputs.append(o["name"])
        binary[o["name"]] = _flag(_params(o, f"outputs[{i}]"), "binary_data", f"outputs[{i}].parameters") \
            or binary_default
    sig.check_outputs(outputs, "outputs")
    return InferRequest(sig.name, inputs, outputs, binary, binary_default, rid)


def _json_tensor(data, dtype: np.dtype, shape: tuple, count: int, where: str) -> np.ndarray:
    if not isinstance(data, list):
        raise BadRequest(f"{where}.data: expected a list of numbers, got {type(data).__name__}")
    try:
        a = np.array(data)
    except (ValueError, TypeError):
        raise BadRequest(f"{where}.data: nested lists of unequal lengths") from None
    if a.size != count:
        raise BadRequest(f"{where}.data: shape {list(shape)} needs {count} values, got {a.size}")
    if a.dtype.kind not in JSON_KINDS[dtype.kind if dtype.kind in JSON_KINDS else "f"]:
        kind = "true/false" if dtype.kind == "b" else "integers" if dtype.kind in "iu" else "numbers"
        raise BadRequest(f"{where}.data: expected {kind} for {dtype.name}, got {a.dtype.name} values")
    if dtype.kind in "iu" and a.size:
        info = np.iinfo(dtype)
        if a.min() < info.min or a.max() > info.max:
            raise BadRequest(f"{where}.data: values out of range for {dtype.name}")
    return a.astype(dtype).reshape(shape)


def encode_response(req: InferRequest, outputs: dict, sig: ModelSignature) -> tuple[bytes, dict]:
    """(body, headers) answering ``req`` with ``outputs`` (name -> array)."""
    names = req.outputs or [t.name for t in sig.outputs]
    specs = {t.name: t for t in sig.outputs}
    items, blobs = [], []
    for name in names:
        a = np.ascontiguousarray(outputs[name])
        item = {"name": name, "datatype": specs[name].datatype, "shape": list(a.shape)}
        if req.binary.get(name, req.binary_default):
            raw = a.tobytes()
            item["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            item["data"] = _json_data(a)
        items.append(item)
    head = {"model_name": sig.name, "model_version": "1", "outputs": items}
    if req.id is not None:
        head["id"] = req.id
    text = json.dumps(head, separators=(",", ":")).encode()
    if not blobs:
        return text, {"content-type": "application/json"}
    return text + b"".join(blobs), {"content-type": "application/octet-stream", HEADER.lower(): str(len(text))}


def _json_data(a: np.ndarray) -> list:
    flat = a.reshape(-1)
    if flat.dtype.kind == "f":
        flat = flat.astype(np.float64)
        if not np.isfinite(flat).all():      # JSON has no NaN/inf: Triton writes them as null
            return [x if math.isfinite(x) else None for x in flat.tolist()]
    return flat.tolist()
