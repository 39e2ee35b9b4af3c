"""Every ONNX op Cortado imports, fed damaged nodes generated from its own schema.

For each op: wrong input counts, attributes of the wrong type, and type-correct but absurd
attribute values (negative, zero, huge, empty lists, NaN, unknown strings), and int constants
with absurd contents as its extra inputs. Each model must compile or raise a ``CortadoError``
— never another exception, never a hang.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import AttributeProto, TensorProto, helper, numpy_helper

import cortado
from cortado.errors import CortadoError
from cortado.frontends.onnx.registry import supported_onnx_ops
from robust_cases import time_limit

OPSET = 18
A = AttributeProto
BAD_VALUES = {
    A.INT: [-1, 0, 99, 2**40],
    A.INTS: [[], [-5], [99, 99, 99], [0] * 9],
    A.FLOAT: [float("nan"), -1e30],
    A.FLOATS: [[], [float("inf")]],
    A.STRING: ["bogus"],
    A.STRINGS: [["bogus"]],
    A.TENSOR: [numpy_helper.from_array(np.zeros((0,), np.float32))],
}
SANE = {A.INT: 1, A.INTS: [1], A.FLOAT: 1.0, A.FLOATS: [1.0], A.STRING: "constant", A.STRINGS: ["a"],
        A.TENSOR: numpy_helper.from_array(np.ones((1,), np.float32))}
WRONG_TYPE = {A.INT: "one", A.INTS: 1.5, A.FLOAT: "x", A.FLOATS: "x", A.STRING: 3, A.STRINGS: 3, A.TENSOR: 3}
CONSTS = [np.array([10**12, -3], np.int64), np.zeros((0,), np.int64), np.array([-7], np.int64),
          np.array(2**40, np.int64)]


def opset_for(op: str) -> int:
    """18, or the first opset that defines ``op`` when it is newer."""
    try:
        onnx.defs.get_schema(op, OPSET, "")
        return OPSET
    except onnx.defs.SchemaError:
        versions = [s.since_version for s in onnx.defs.get_all_schemas_with_history() if s.name == op and not s.domain]
        return min(versions) if versions else OPSET


def schema(op: str):
    try:
        return onnx.defs.get_schema(op, opset_for(op), "")
    except onnx.defs.SchemaError:
        return None


def build(op: str, n_inputs: int, attrs: dict, const: np.ndarray | None = None,
          opset: int | None = None) -> onnx.ModelProto:
    inits = []
    names = ["x"] * n_inputs
    if const is not None and n_inputs > 1:
        names[1:] = ["c"] * (n_inputs - 1)
        inits.append(numpy_helper.from_array(const, "c"))
    node = helper.make_node(op, names, ["y"], name="victim")
    for k, (v, kind) in attrs.items():
        node.attribute.append(helper.make_attribute(k, v, attr_type=kind))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset or opset_for(op))])


def variants(op: str):
    """(label, model) pairs: damaged versions of one ``op`` node."""
    s = schema(op)
    lo = s.min_input if s else 1
    hi = min(s.max_input, 4) if s else 2
    required = {name: (SANE[a.type], a.type) for name, a in (s.attributes.items() if s else ()) if a.required
                and a.type in SANE}
    yield "no inputs", build(op, 0, required)
    yield "one input too many", build(op, hi + 1, required)
    if lo > 1:
        yield "one input too few", build(op, lo - 1, required)
    if s and s.attributes and required:
        yield "required attribute missing", build(op, lo, {})
    for name, a in (s.attributes.items() if s else ()):
        if a.type not in BAD_VALUES:
            continue
        yield f"{name} of the wrong type", build(op, lo, {**required, name: (WRONG_TYPE[a.type], None)})
        for v in BAD_VALUES[a.type]:
            yield f"{name}={v!r:.30}", build(op, lo, {**required, name: (v, a.type)})
    if hi > 1:
        for c in CONSTS:
            yield f"inputs {c.tolist()!r:.30}", build(op, max(lo, 2), required, c)
    if opset_for(op) > 7:
        yield "opset older than the op", build(op, lo, required, opset=7)


OPS = [op for op in supported_onnx_ops() if op not in ("If", "Loop", "Scan")]


@pytest.mark.parametrize("op", OPS)
def test_damaged_nodes_are_refused_or_compiled(op):
    failures = []
    for label, model in variants(op):
        with time_limit(20):
            try:
                cortado.compile(model, target="interpreter", opt_level=0)
            except CortadoError:
                pass
            except Exception as e:   # collected so one run lists every damaged form that breaks
                failures.append(f"{label}: {type(e).__name__}: {str(e)[:200]}")
    assert not failures, "\n".join(failures)
