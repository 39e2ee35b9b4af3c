"""``inference.GRPCInferenceService`` messages <-> arrays.

The messages are the protocol's published ``grpc_service.proto``, as generated in
``tritonclient.grpc.service_pb2`` (the servicer registration Ray Serve's gRPC proxy needs is
``tritonclient.grpc.service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server``). Inputs
come as ``raw_input_contents`` (what tritonclient sends) or typed ``contents``; outputs always
go back as ``raw_output_contents``, as Triton does.
"""

from __future__ import annotations

import sys

import numpy as np

from .errors import BadRequest
from .tensors import InferRequest, ModelSignature, numpy_of

SERVICER = "cortado.runtime.serve.grpc_codec.add_servicer"

# which typed field of InferTensorContents holds each datatype
CONTENTS = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
            "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
            "UINT32": "uint_contents", "UINT64": "uint64_contents", "FP32": "fp32_contents",
            "FP64": "fp64_contents"}


def pb():
    """tritonclient's generated messages. They were generated from ``grpc_service.proto`` and
    name their module ``grpc_service_pb2``; Ray pickles request messages from the proxy to the
    replica by that name, so it is made importable in every process that touches them."""
    from tritonclient.grpc import service_pb2

    sys.modules.setdefault("grpc_service_pb2", service_pb2)
    return service_pb2


def add_servicer(servicer, server) -> None:
    """What Ray Serve's gRPC proxy calls (``grpc_servicer_functions``): registers
    ``inference.GRPCInferenceService`` with the messages importable by their proto name."""
    pb()
    from tritonclient.grpc.service_pb2_grpc import add_GRPCInferenceServiceServicer_to_server

    add_GRPCInferenceServiceServicer_to_server(servicer, server)


def decode_request(msg, sig: ModelSignature) -> InferRequest:
    if not msg.inputs:
        raise BadRequest("inputs: expected a non-empty list of tensors")
    raw = list(msg.raw_input_contents)
    if raw and len(raw) != len(msg.inputs):
        raise BadRequest(f"raw_input_contents: {len(raw)} entries for {len(msg.inputs)} inputs; give one per input")
    env: dict = {}
    inputs = {}
    for i, t in enumerate(msg.inputs):
        where = f"inputs[{i}]"
        spec, shape, count = sig.check_tensor(t.name, t.datatype, list(t.shape), where, env)
        if spec.name in inputs:
            raise BadRequest(f"{where}.name: input {spec.name!r} given twice")
        dtype = numpy_of(spec.datatype, where)
        if raw:
            want = count * dtype.itemsize
            if len(raw[i]) != want:
                raise BadRequest(f"raw_input_contents[{i}]: shape {list(shape)} of {spec.datatype} needs {want} "
                                 f"bytes, got {len(raw[i])}")
            inputs[spec.name] = np.frombuffer(raw[i], dtype=dtype).reshape(shape)
            continue
        field = CONTENTS.get(spec.datatype)
        if field is None:
            raise BadRequest(f"{where}.contents: {spec.datatype} goes only in raw_input_contents")
        values = getattr(t.contents, field)
        if len(values) != count:
            raise BadRequest(f"{where}.contents.{field}: shape {list(shape)} needs {count} values, got {len(values)}")
        inputs[spec.name] = np.asarray(values).astype(dtype).reshape(shape)
    sig.check_complete(set(inputs))
    outputs = [o.name for o in msg.outputs]
    sig.check_outputs(outputs, "outputs")
    return InferRequest(sig.name, inputs, outputs, {}, True, msg.id or None)


def encode_response(req: InferRequest, outputs: dict, sig: ModelSignature):
    s = pb()
    names = req.outputs or [t.name for t in sig.outputs]
    specs = {t.name: t for t in sig.outputs}
    resp = s.ModelInferResponse(model_name=sig.name, model_version="1", id=req.id or "")
    for name in names:
        a = np.ascontiguousarray(outputs[name])
        resp.outputs.add(name=name, datatype=specs[name].datatype, shape=list(a.shape))
        resp.raw_output_contents.append(a.tobytes())
    return resp


def metadata_response(sig: ModelSignature):
    s = pb()
    T = s.ModelMetadataResponse.TensorMetadata
    return s.ModelMetadataResponse(
        name=sig.name, versions=["1"], platform="cortado",
        inputs=[T(name=t.name, datatype=t.datatype, shape=t.shape) for t in sig.inputs],
        outputs=[T(name=t.name, datatype=t.datatype, shape=t.shape) for t in sig.outputs])
