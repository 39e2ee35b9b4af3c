"""The Open Inference Protocol's tensor vocabulary, and a served model's signature.

Datatype names are the protocol's (``FP32``, ``INT64``, ``BOOL``, ...); shapes in metadata
use ``-1`` for a symbolic dim such as a batch ``N``. ``ModelSignature.check`` checks a
request's tensors (name, datatype, shape) against the model before any data is decoded or
memory is allocated, so a bad request costs the server nothing but a 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cortado.runtime.dtypes import numpy_dtype
from cortado.runtime.limits import max_elements

from .errors import BadRequest

# protocol datatype <-> Cortado dtype name (BYTES has no Cortado counterpart)
DATATYPES = {
    "BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
    "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64",
    "FP16": "float16", "FP32": "float32", "FP64": "float64", "BF16": "bfloat16",
}
PROTOCOL_NAMES = {v: k for k, v in DATATYPES.items()}


def protocol_datatype(dtype_name: str) -> str:
    return PROTOCOL_NAMES[dtype_name]


def numpy_of(datatype: str, where: str) -> np.dtype:
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise BadRequest(f"{where}: unknown datatype {datatype!r}; expected one of {', '.join(DATATYPES)}")
    return numpy_dtype(DATATYPES[datatype])


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str                  # Cortado dtype name
    dims: tuple                 # ints, or symbol names (str)

    @property
    def datatype(self) -> str:
        return protocol_datatype(self.dtype)

    @property
    def shape(self) -> list[int]:
        return [d if isinstance(d, int) else -1 for d in self.dims]

    def metadata(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


@dataclass(frozen=True)
class ModelSignature:
    """What a served model takes and returns, from its artifact's manifest."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    max_elements: int = field(default_factory=max_elements)

    @classmethod
    def from_manifest(cls, name: str, manifest: dict, limit: int | None = None) -> "ModelSignature":
        def specs(items):
            return tuple(TensorSpec(i["name"], i["dtype"], tuple(i["shape"])) for i in items)

        return cls(name, specs(manifest["inputs"]), specs(manifest["outputs"]), max_elements(limit))

    @property
    def batch_symbol(self) -> str | None:
        """The symbol every input and output starts with (the batch dim), or None: then
        requests are never concatenated."""
        firsts = {t.dims[0] if t.dims else None for t in self.inputs + self.outputs}
        if len(firsts) != 1:
            return None
        first = firsts.pop()
        return first if isinstance(first, str) and first.isidentifier() else None

    def metadata(self) -> dict:
        return {"name": self.name, "versions": ["1"], "platform": "cortado",
                "inputs": [t.metadata() for t in self.inputs], "outputs": [t.metadata() for t in self.outputs]}

    def input(self, name, where: str) -> TensorSpec:
        for t in self.inputs:
            if t.name == name:
                return t
        raise BadRequest(f"{where}: unknown input {name!r}; model {self.name!r} takes "
                         f"{', '.join(repr(t.name) for t in self.inputs)}")

    def check_outputs(self, names, where: str) -> None:
        known = {t.name for t in self.outputs}
        for i, n in enumerate(names):
            if n not in known:
                raise BadRequest(f"{where}[{i}].name: unknown output {n!r}; model {self.name!r} returns "
                                 f"{', '.join(repr(t.name) for t in self.outputs)}")

    def check_tensor(self, name, datatype, shape, where: str, env: dict) -> tuple[TensorSpec, tuple, int]:
        """Check one request tensor's header; returns (spec, shape, element count). ``env``
        collects the symbolic dims bound so far, so all inputs must agree on them."""
        spec = self.input(name, f"{where}.name")
        if datatype != spec.datatype:
            numpy_of(datatype, f"{where}.datatype")      # unknown names get the list
            raise BadRequest(f"{where}.datatype: input {name!r} is {spec.datatype}, got {datatype}")
        if not isinstance(shape, (list, tuple)) or not all(type(d) is int for d in shape):
            raise BadRequest(f"{where}.shape: expected a list of integers, got {shape!r}")
        if len(shape) != len(spec.dims):
            raise BadRequest(f"{where}.shape: input {name!r} has rank {len(spec.dims)} {spec.shape}, got {list(shape)}")
        count = 1
        for axis, (want, got) in enumerate(zip(spec.dims, shape)):
            if got <= 0:
                raise BadRequest(f"{where}.shape[{axis}]: dims must be positive, got {got}")
            if isinstance(want, int) and got != want:
                raise BadRequest(f"{where}.shape: input {name!r} needs {spec.shape}, got {list(shape)} (axis {axis})")
            if isinstance(want, str) and env.setdefault(want, got) != got:
                raise BadRequest(f"{where}.shape[{axis}]: dim {want} is {env[want]} in another input but {got} here")
            count *= got           # Python ints: no overflow, so an absurd shape is caught below
        if count > self.max_elements:
            raise BadRequest(f"{where}.shape: {list(shape)} is {count:,} elements, over the server's limit of "
                             f"{self.max_elements:,} per tensor")
        return spec, tuple(shape), count

    def check_complete(self, names) -> None:
        missing = [t.name for t in self.inputs if t.name not in names]
        if missing:
            raise BadRequest(f"inputs: missing {', '.join(map(repr, missing))} for model {self.name!r}")


def rows(feeds: dict) -> int:
    """The batch rows of a request (its first input's first dim)."""
    first = next(iter(feeds.values()))
    return int(first.shape[0]) if first.ndim else 1


@dataclass
class InferRequest:
    """A decoded request: arrays by input name, the outputs asked for (all when empty), which
    of them go back as binary, and the caller's request id."""

    model: str
    inputs: dict
    outputs: list = field(default_factory=list)
    binary: dict = field(default_factory=dict)
    binary_default: bool = False
    id: str | None = None
