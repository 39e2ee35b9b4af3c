"""``cortado.compile``: model in, ``CompiledModel`` out.

Frontend -> graph passes for the opt level -> fusion partition -> memory plan -> codegen.
Each stage is timed; ``CompiledModel.stats`` reports the counts and the per-pass table, and
``stats["per_kernel"]`` one entry per kernel launch (``codegen.module.launch_stats``: kind,
kernel, source nodes with their Caffe layers, bytes read and written, FLOPs, fusion refusals).
``est_hbm_bytes`` sums the launches' bytes under the model of ``codegen.cost``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from cortado.runtime.errors import CortadoError, ModelLoadError
from cortado.runtime.control import SUB_PREFIX
from cortado.runtime.model import CompiledModel

from .ir import Graph, clone_graph
from .limits import check_graph
from .limits import max_elements as max_elements_limit

ProgressFn = Callable[[str], None]


def load_graph(model, *, weights=None, random_weights: bool = False,
               input_shapes: Mapping[str, Sequence] | None = None, quiet: bool = False,
               max_elements: int | None = None) -> Graph:
    """Any supported model source as an IR graph (the caller's Graph is copied, never changed).

    Every value is checked against ``max_elements`` (see ``cortado.limits``): a model whose
    tensors would be absurdly large is refused before anything of that size is allocated."""
    limit = max_elements_limit(max_elements)
    if isinstance(model, Graph):
        graph = clone_graph(model)
        where = None
    elif isinstance(model, (str, os.PathLike)) and _is_caffe(Path(model)):
        from .frontends.caffe import import_caffe

        graph = import_caffe(Path(model), weights=weights, random_weights=random_weights,
                             input_shapes=input_shapes, quiet=quiet, max_elements=limit)
        where = str(model)
    else:
        if isinstance(model, (str, os.PathLike)) and weights is not None:
            raise ModelLoadError(f"weights= is for Caffe models; {Path(model).name} is read as ONNX")
        if not isinstance(model, (str, os.PathLike, bytes, bytearray)) and not _is_model_proto(model):
            raise ModelLoadError(f"cannot compile a {type(model).__name__}: give a path to an .onnx or .prototxt "
                                 "file, ONNX bytes, an onnx.ModelProto or a cortado.ir.Graph")
        from .frontends.onnx import import_onnx

        graph = import_onnx(model, input_shapes=input_shapes, max_elements=limit)
        where = str(model) if isinstance(model, (str, os.PathLike)) else None
    check_graph(graph, limit, where=where)
    graph.meta["max_elements"] = limit
    return graph


def _is_caffe(path: Path) -> bool:
    return path.suffix.lower() in (".prototxt", ".pbtxt")


def _is_model_proto(model) -> bool:
    return type(model).__name__ == "ModelProto" and hasattr(model, "SerializeToString")


def compile(model, *, weights=None, random_weights: bool = False,
            input_shapes: Mapping[str, Sequence] | None = None, target: str = "auto", dtype: str = "float32",
            opt_level: int = 2, allow_tf32: bool = True, name: str | None = None,
            progress: ProgressFn | None = None, debug: bool = False,
            max_elements: int | None = None, disable: Iterable[str] = (),
            dump_after: Iterable[str] = ()) -> CompiledModel:
    """Compile an ONNX model (path, bytes or ModelProto), a Caffe prototxt, or an IR Graph.

    ``max_elements`` bounds every tensor (default ``$CORTADO_MAX_ELEMENTS``, else 2**31-1):
    a larger one is a ``ResourceLimitError`` at compile time, and again at run time when a
    batch dim makes a value too large.

    ``disable`` skips passes by name and ``dump_after`` prints the graph to stderr after the
    named passes (``cortado.pipeline.pass_names()`` lists the names; "cleanup" is the group)."""
    from cortado.codegen import build_module
    from cortado.passes.kernel_plan import plan_kernels

    from .pipeline import check_dtype, check_pass_names, run_pipeline

    if opt_level not in (0, 1, 2, 3):
        raise CortadoError(f"opt_level must be 0, 1, 2 or 3, got {opt_level!r}")
    dtype = check_dtype(dtype).value
    disable, dump_after = tuple(disable), tuple(dump_after)
    check_pass_names(disable + dump_after)          # before the import: a typo fails fast
    say = progress or (lambda msg: None)
    t0 = time.perf_counter()
    say("importing model")
    limit = max_elements_limit(max_elements)
    graph = load_graph(model, weights=weights, random_weights=random_weights, input_shapes=input_shapes,
                       quiet=progress is None, max_elements=limit)
    t_import = time.perf_counter() - t0
    nodes_in = len(graph)
    say(f"optimizing {nodes_in} nodes at O{opt_level}")
    pass_table = run_pipeline(graph, opt_level=opt_level, dtype=dtype, debug=debug, disable=disable,
                              dump_after=dump_after)
    say("partitioning into kernels")
    groups, memory, plan_rows = plan_kernels(graph, fuse=opt_level >= 2, reuse=opt_level >= 1, disable=disable,
                                             dump_after=dump_after)
    pass_table += plan_rows
    bodies = _compile_bodies(graph, target=target, dtype=dtype, opt_level=opt_level, allow_tf32=allow_tf32,
                             max_elements=max_elements, say=say)
    say(f"generating {sum(1 for g in groups if g.kind.value not in ('alias', 'placed', 'host'))} kernels")
    module = build_module(graph, groups, memory, model_name=name or graph.name, allow_tf32=allow_tf32,
                          dtype=dtype, subplans={key: i for i, (key, _) in enumerate(bodies)})
    if bodies:
        module.plan["subplans"] = [{"plan": sub.plan, "source": sub.source} for _, sub in bodies]
    elapsed = time.perf_counter() - t0
    launches = module.per_launch
    stats = {
        "nodes_in": nodes_in,
        "nodes_out": len(graph),
        "kernels": len(launches),
        "unique_kernels": len(module.kernels),
        **plain_sizes({"peak_bytes": memory.peak_bytes(),
                              "est_hbm_bytes": sum_dims(l["bytes"] for l in launches),
                              "flops": sum_dims(l["flops"] for l in launches)}),
        "compile_seconds": elapsed,
        "import_seconds": t_import,
        "opt_level": opt_level,
        "dtype": dtype,
        "allow_tf32": bool(allow_tf32),
        "passes": pass_table,
        "per_kernel": launches,
        "why_not_fused": list(dict.fromkeys(w for l in launches for w in l["why_not"])),
    }
    constants = {n: v.const for n, v in graph.constants.items()}
    for i, (_, sub) in enumerate(bodies):      # a body's weights, under its prefix (runtime/control.py)
        constants.update({SUB_PREFIX.format(i) + n: a for n, a in sub.constants.items()})
    say("loading kernels")
    model = CompiledModel(module.plan, module.source, constants, target=target, stats=stats, graph=graph,
                          max_elements=limit if max_elements is not None else None)
    if opt_level >= 3:
        if any("host" in s for s in module.plan["steps"]):
            model.stats["autotune"] = "skipped: the model's sizes depend on its data (host steps)"
        elif model.target == "cuda":
            from .autotune import autotune

            say("autotuning template kernels on the GPU")
            model.stats["autotune"] = autotune(model)   # the model holds a copy of stats
        else:
            model.stats["autotune"] = "skipped: autotuning needs the cuda target"
    return model


def _compile_bodies(graph: Graph, *, say: ProgressFn, **options) -> list[tuple[int, CompiledModel]]:
    """Each body of a run-time If / Loop compiled once, with the model's options: (id of the
    body graph, its compiled model), in node order (nested bodies compile recursively)."""
    from cortado.ir import Op

    bodies: list[tuple[int, CompiledModel]] = []
    for node in graph.nodes:
        if node.op is Op.IF:
            graphs = [node.attrs.then_graph, node.attrs.else_graph]
        elif node.op in (Op.LOOP, Op.SCAN):
            graphs = [node.attrs.body]
        else:
            continue
        if options["dtype"] != "float32":
            raise CortadoError(f"run-time control flow ({node.op.value} {node.name!r}) is compiled in float32 only",
                               hint="compile with dtype='float32'")
        for g in graphs:
            say(f"compiling the body {g.name!r} of {node.op.value} {node.name!r}")
            bodies.append((id(g), compile(g, **options)))
    return bodies


def plain_sizes(sizes: Mapping) -> dict:
    """Each size as a plain int at the shapes the model was compiled with, its symbolic form
    beside it as a string: ``peak_bytes`` 57448 and ``peak_bytes_expr`` "57448*N". A symbolic
    dim (a batch ``N`` left open) counts as 1, the size ``cortado run`` feeds by default, and
    ``stats["dims"]`` records those bindings; compile with ``input_shapes`` to get the numbers
    at other sizes."""
    from .ir.dims import _evaluate, _symbols

    names = sorted(set().union(*(_symbols(v) for v in sizes.values())))
    env = {n: 1 for n in names}
    out: dict = {"dims": env}
    for key, value in sizes.items():
        out[key] = int(_evaluate(value, env))
        out[f"{key}_expr"] = str(value)
    return out


def sum_dims(items):
    total = 0
    for d in items:
        total = total + d
    return total
