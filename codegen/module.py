"""Assemble a model's kernels into one Triton module and its launch plan.

Identical kernels (same body, same parameters) are emitted once and launched many times:
ResNet's repeated blocks become a handful of kernels. The launch plan is plain data (JSON) that
``runtime`` executes without importing the compiler: per launch the kernel name, the grid and
the arguments as value names and symbols, and per target family the block sizes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from cortado.ir import Graph, Op, Value
from cortado.ir.dims import Dim, representative_sizes
from cortado.kernel_groups import KernelGroup, Kind
from cortado.passes.memory import MemoryPlan

from cortado.ops.dynamic import host_attrs

from . import generate as gen
from .config import symbol_sizes
from .cost import Cost, kernel_cost
from .cpu import add_cpu_kernels
from .prelude import prelude_source
from .templates.host import HOST_NAMES
from .writer import KernelSource

FORMAT_VERSION = 2     # 2: host steps and plan["dynamic_symbols"] (runtime/segments.py)


@dataclass
class KernelInfo:
    name: str
    kind: str
    source: KernelSource
    launches: list[int] = field(default_factory=list)
    cost: Cost | None = None          # of the first launch


@dataclass
class GeneratedModule:
    source: str
    kernels: list[KernelInfo]
    plan: dict
    per_launch: list[dict]     # stats per launch (see ``launch_stats``)


def _dim_json(d: Dim):
    return d if isinstance(d, int) else str(d)


def _value_json(v: Value) -> dict:
    return {"name": v.name, "shape": [_dim_json(d) for d in v.shape], "dtype": v.dtype.value}


def build_module(graph: Graph, groups: Sequence[KernelGroup], memory: MemoryPlan, *, model_name: str = "model",
                 allow_tf32: bool = True, dtype: str = "float32",
                 subplans: Mapping[int, int] | None = None) -> GeneratedModule:
    """``allow_tf32=False`` makes float32 dots exact (``ieee``) on GPUs too; ``dtype`` is the
    storage type the graph was converted to, recorded in the plan with the tf32 choice."""
    kernels: dict[str, KernelInfo] = {}
    steps: list[dict] = []
    per_launch: list[dict] = []
    helpers: set[str] = set()
    layouts = memory.layouts()
    sizes = representative_sizes(v.shape for v in graph.inputs)
    launched: list[KernelGroup] = []
    for g in groups:
        if g.kind in (Kind.ALIAS, Kind.PLACED):
            continue
        if g.kind.name == "host":
            steps.append(host_step(g.nodes[0], subplans))
            continue
        with symbol_sizes(sizes):
            ks = gen.generate_kernel(g, layouts)
        cost = kernel_cost(ks)
        key = hashlib.sha256(ks.body.encode()).hexdigest()[:16]
        info = kernels.get(key)
        if info is None:
            info = KernelInfo(f"{ks.what}_kernel_{len(kernels)}", ks.kind, ks, cost=cost)
            kernels[key] = info
        helpers |= ks.helpers
        info.launches.append(len(steps))
        configs = {t: dict(c) for t, c in ks.configs.items() if t in ("interpreter", "cuda")}
        tune = [dict(c) for c in ks.configs.get("cuda_candidates", [])]
        if not allow_tf32:
            for c in [configs.get("cuda", {})] + tune:
                if "PRECISION" in c:
                    c["PRECISION"] = "ieee"
        args = []
        for p in ks.params:
            if p.kind == "ptr":
                args.append({"value": p.ref.name})
            else:
                args.append({"size": _dim_json(p.ref)})
        step = {"kernel": info.name, "grid": list(ks.grid), "args": args, "configs": configs,
                "nodes": [n.name for n in g.nodes], "outputs": [v.name for v in ks.outputs]}
        if tune:
            step["tune"] = tune
        steps.append(step)
        launched.append(g)
        per_launch.append(launch_stats(info.name, ks, g, cost))

    source = _module_source(model_name, graph, list(kernels.values()), helpers)
    plan = _plan(graph, memory, steps, list(kernels.values()))
    plan["precision"] = {"dtype": str(dtype), "allow_tf32": bool(allow_tf32)}
    add_cpu_kernels(plan, steps, launched, layouts, model_name)
    return GeneratedModule(source, list(kernels.values()), plan, per_launch)


def host_step(node, subplans: Mapping[int, int] | None = None) -> dict:
    """The plan's step for a data-dependent op run on the host (``runtime/hostops.py``): the
    op, its JSON attributes, its value names, and where each fresh size symbol is read. For
    If / Loop the attributes name their bodies by index in ``plan["subplans"]`` (``subplans``:
    id of a body graph -> index)."""
    a = node.attrs
    fresh = [a.count] if hasattr(a, "count") else list(a.counts)
    binds = []
    for sym in fresh:
        where = next(([sym, pos, axis] for pos, v in enumerate(node.outputs) for axis, d in enumerate(v.shape)
                      if str(d) == sym), None)
        if where is not None:
            binds.append(where)
    if node.op is Op.IF:
        attrs = {"then": subplans[id(a.then_graph)], "else": subplans[id(a.else_graph)]}
    elif node.op is Op.LOOP:
        attrs = {"body": subplans[id(a.body)], "carried": a.carried}
    elif node.op is Op.SCAN:
        attrs = {"body": subplans[id(a.body)], "state": a.state, "scan_inputs": a.scan_inputs,
                 **{k: list(getattr(a, k)) for k in ("in_axes", "in_dirs", "out_axes", "out_dirs")}}
    else:
        attrs = host_attrs(node)
    return {"host": HOST_NAMES[node.op], "attrs": attrs,
            "inputs": [None if v is None else v.name for v in node.inputs],
            "outputs": [v.name for v in node.outputs], "binds": binds, "nodes": [node.name]}


# where a node came from, as frontends record it in ``node.meta``: stats key -> meta keys
_ORIGIN = (("layer", ("layer", "caffe_layer")), ("layer_type", ("caffe_type",)),
           ("prototxt_line", ("prototxt_line", "line")), ("onnx_node", ("onnx_name",)), ("source", ("source",)))


def node_origin(node) -> dict:
    """Name, op and origin of a node: the Caffe layer, its type and the line of its ``layer {``
    in the prototxt; the ONNX node name; for traced functions the user's ``file:line``."""
    entry = {"name": node.name, "op": node.op.value}
    for key, meta_keys in _ORIGIN:
        for m in meta_keys:
            if node.meta.get(m) not in (None, ""):
                entry[key] = node.meta[m]
                break
    return entry


def launch_stats(kernel: str, ks: KernelSource, group: KernelGroup, cost: Cost) -> dict:
    """One ``stats["per_kernel"]`` entry: what runs, from which nodes, and what it costs.

    ``sources`` is ``node_origin`` of each node (Caffe layers with their prototxt lines). Byte
    and FLOP counts follow ``codegen.cost`` and may be polynomials in the symbolic dims."""
    sources = [node_origin(n) for n in group.nodes]
    return {"kernel": kernel, "kind": ks.kind, "group": group.name,
            "nodes": [n.name for n in group.nodes], "ops": [n.op.value for n in group.nodes],
            "sources": sources, "outputs": [v.name for v in ks.outputs],
            "bytes_read": cost.bytes_read, "bytes_written": cost.bytes_written, "bytes": cost.bytes,
            "flops": cost.flops, "why_not": list(group.why_not)}


def _module_source(model_name: str, graph: Graph, kernels: list[KernelInfo], helpers: set[str]) -> str:
    parts = [
        f'"""Triton kernels for {model_name}, generated by Cortado.\n\n'
        f"{len(kernels)} kernels; the launch order, grids and buffers are in the launch plan\n"
        '(manifest.json in a saved artifact)."""',
        "import triton\nimport triton.language as tl",
    ]
    if helpers:
        parts.append(prelude_source(helpers))
    for k in kernels:
        src = k.source.body.replace("def NAME(", f"def {k.name}(", 1)
        users = ", ".join(n.name for n in k.source.nodes)
        shapes = "; ".join(str(v.type) for v in k.source.outputs)
        more = f"; +{len(k.launches) - 1} more launch(es)" if len(k.launches) > 1 else ""
        sizes = ", ".join(f"{p.name}={p.ref}" for p in k.source.params if p.kind == "size")
        c = k.cost
        header = (f"# {k.kind} kernel: {users} -> {shapes}, reads {c.bytes_read} + writes {c.bytes_written} "
                  f"bytes{more}")
        if sizes:
            header += f"\n#   sizes here: {sizes}"
        parts.append(f"{header}\n{src.rstrip()}")
    return "\n\n\n".join(parts) + "\n"


def _plan(graph: Graph, memory: MemoryPlan, steps: list[dict], kernels: list[KernelInfo]) -> dict:
    symbols = sorted({s for v in graph.inputs for d in v.shape if not isinstance(d, int) for s in d.symbols()})
    values = {}
    for v in graph.values():
        values[v.name] = {"shape": [_dim_json(d) for d in v.shape], "dtype": v.dtype.value}
    return {
        "format": FORMAT_VERSION,
        "symbols": symbols,
        "inputs": [_value_json(v) for v in graph.inputs],
        "outputs": [dict(_value_json(v), output=name) for name, v in zip(graph.output_names, graph.outputs)],
        "constants": sorted(graph.constants),
        "values": values,
        "buffers": [{"id": b.id, "nbytes": _dim_json(b.nbytes)} for b in memory.buffers],
        "placement": dict(memory.placement),
        "alias_of": dict(memory.alias_of),
        "slices": {name: {"root": s.root, "offset": _dim_json(s.offset)} for name, s in memory.slices.items()},
        "in_output": dict(memory.in_output),
        "copies": [list(c) for c in memory.copies],
        "kernels": [{"name": k.name, "kind": k.kind, "params": [p.name for p in k.source.params],
                     "signature": _signature(k.source)} for k in kernels],
        "steps": steps,
        "dynamic_symbols": [b[0] for s in steps for b in s.get("binds", ())],
    }


def _signature(ks: KernelSource) -> dict:
    """Triton types of the non-constexpr parameters, for ahead-of-time compiles."""
    sig = {}
    for p in ks.params:
        if p.kind == "ptr":
            sig[p.name] = "*" + p.dtype.triton
        else:
            sig[p.name] = "i64" if isinstance(p.ref, int) and p.ref >= 2**31 else "i32"
    return sig
