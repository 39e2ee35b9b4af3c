"""The ONNX backend-test "light" architectures with seeded random weights.

The shipped light models compute their weights with ``ConstantOfShape`` (every weight one
constant), which makes outputs nearly input-independent and hides indexing bugs. Here each
such weight becomes a seeded random initializer scaled for its consumer (He-style for conv
and gemm weights, near-identity for normalization scales, positive variances), so activations
stay finite through 100+ layers and every element matters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

LIGHT_MODELS = ("bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet",
                "squeezenet", "vgg19", "zfnet512")


def light_dir() -> Path:
    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def light_path(name: str) -> Path:
    return light_dir() / f"light_{name}.onnx"


def _consumers(graph: onnx.GraphProto) -> dict[str, list[tuple[onnx.NodeProto, int]]]:
    users: dict[str, list] = {}
    for n in graph.node:
        for i, v in enumerate(n.input):
            users.setdefault(v, []).append((n, i))
    return users


def _through_unsqueeze(name, users):
    """Follow Unsqueeze/Reshape hops to the op that finally consumes a weight."""
    for _ in range(4):
        uses = users.get(name, [])
        if len(uses) == 1 and uses[0][0].op_type in ("Unsqueeze", "Reshape", "Identity"):
            name = uses[0][0].output[0]
            continue
        return uses
    return users.get(name, [])


def _random_weight(shape, uses, rng) -> np.ndarray:
    op, pos = (uses[0][0].op_type, uses[0][1]) if uses else ("", 0)
    if op in ("Conv", "Gemm", "MatMul") and pos == 1 and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:])) if op == "Conv" else int(shape[1] if op == "Gemm" else shape[0])
        if op == "Gemm" and len(shape) == 2:
            fan_in = min(shape)  # transB varies; the smaller side is the safe bound
        return rng.normal(0.0, np.sqrt(2.0 / max(fan_in, 1)), shape)
    if op == "BatchNormalization":
        return {1: rng.uniform(0.8, 1.2, shape), 2: rng.normal(0.0, 0.1, shape),
                3: rng.normal(0.0, 0.1, shape), 4: rng.uniform(0.5, 1.5, shape)}.get(pos, rng.normal(0, 0.1, shape))
    if op == "Mul":
        return rng.uniform(0.8, 1.2, shape)
    return rng.normal(0.0, 0.1, shape)


def randomize_weights(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    """A copy of ``model`` whose ConstantOfShape weights are seeded random initializers."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    rng = np.random.default_rng(seed)
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    users = _consumers(g)
    keep = []
    for n in g.node:
        if n.op_type == "ConstantOfShape" and n.input and n.input[0] in consts:
            shape = tuple(int(d) for d in consts[n.input[0]].reshape(-1))
            value = _random_weight(shape, _through_unsqueeze(n.output[0], users), rng).astype(np.float32)
            g.initializer.append(numpy_helper.from_array(value, n.output[0]))
        else:
            keep.append(n)
    del g.node[:]
    g.node.extend(keep)
    used = {v for n in g.node for v in n.input} | {o.name for o in g.output}
    dropped = {t.name for t in g.initializer if t.name not in used}
    kept_inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept_inits)
    kept_inputs = [i for i in g.input if i.name not in dropped]
    del g.input[:]
    g.input.extend(kept_inputs)
    return model


def expose_softmax_input(model: onnx.ModelProto) -> onnx.ModelProto:
    """Add the logits (the last Softmax's input) as a second output: a saturated softmax
    would hide errors that the logits show."""
    soft = [n for n in model.graph.node if n.op_type == "Softmax"]
    if soft:
        name = soft[-1].input[0]
        if name not in {o.name for o in model.graph.output}:
            model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return model


def light_model(name: str, seed: int = 0, *, logits: bool = True) -> onnx.ModelProto:
    """A light architecture with random weights (and, with ``logits``, its logits as an output)."""
    model = randomize_weights(onnx.load(str(light_path(name))), seed)
    return expose_softmax_input(model) if logits else model


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The real inputs (old models also list their initializers as inputs)."""
    inits = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def with_input_shape(model: onnx.ModelProto, shape, name: str | None = None) -> onnx.ModelProto:
    """A copy whose input ``name`` (default: the first) declares ``shape`` — a smaller image
    for cheap whole-model checks of models ending in a global pool, or a batch for benchmarks.
    Reshape targets that hard-code the batch as 1 (``[1, 2048]``) copy the batch instead
    (``0``), so a model with a static batch of 1 also runs at other batch sizes."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    info = next(i for i in graph_inputs(model) if name is None or i.name == name)
    dims = info.type.tensor_type.shape.dim
    if len(dims) != len(shape):
        raise ValueError(f"input {info.name} has rank {len(dims)}, not {len(shape)}")
    for d, v in zip(dims, shape):
        d.Clear()
        if isinstance(v, str):
            d.dim_param = v
        else:
            d.dim_value = int(v)
    for out in model.graph.output:
        if out.type.tensor_type.HasField("shape"):
            out.type.tensor_type.ClearField("shape")
    del model.graph.value_info[:]
    if shape[0] != 1:
        _batch_from_input(model)
    return model


def _batch_from_input(model: onnx.ModelProto) -> None:
    """Rewrite constant Reshape targets with a leading 1 into a copied batch dim (0) where the
    reshaped tensor derives from a graph input."""
    g = model.graph
    live = {i.name for i in graph_inputs(model)}
    for n in g.node:
        if any(x in live for x in n.input):
            live.update(n.output)
    inits = {t.name: t for t in g.initializer}
    for n in g.node:
        if n.op_type != "Reshape" or n.input[0] not in live or n.input[1] not in inits:
            continue
        target = numpy_helper.to_array(inits[n.input[1]]).copy()
        if target.size and target[0] == 1 and not any(a.name == "allowzero" and a.i for a in n.attribute):
            target[0] = 0
            name = f"{n.input[1]}_batch"
            if name not in inits:
                inits[name] = numpy_helper.from_array(target.astype(np.int64), name)
                g.initializer.append(inits[name])
            n.input[1] = name
